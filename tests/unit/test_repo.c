/*
 * Unit tests for repo/: chunks stored once and read back with their hash
 * checked, small chunks sharing frames, delta chunks, frames by lane, chunk lists in
 * segments and as patches, snapshots, a damaged pack detected (and read
 * unchecked, for restore's whole-file check), garbage
 * collection keeping exactly what is asked (after an interrupted one too), version 1 packs,
 * the files a backup may take from the previous snapshot, the cutter.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "repo/chunker.h"
#include "repo/manifest.h"
#include "repo/repo.h"
#include "repo/walk.h"
#include "util/bytes.h"
#include "util/fsutil.h"
#include "util/xalloc.h"

#include "tmp_repo.h"

static void put_text(struct repo *r, const char *s, uint8_t *h)
{
	struct cv_err e = { 0 };

	sha256(s, strlen(s), h);
	assert_int_equal(repo_put(r, h, s, strlen(s), &e), 0);
}

static void test_put_get_dedup(void **state)
{
	struct repo r;
	struct cv_err e = { 0 };
	struct strbuf out = STRBUF_INIT;
	uint8_t a[SHA256_LEN], b[SHA256_LEN], c[SHA256_LEN];

	(void)state;
	assert_int_equal(repo_open(dir, 1, &r, &e), 0);
	repo_set_compression(&r, 1, 0);
	put_text(&r, "alpha alpha alpha", a);
	put_text(&r, "beta", b);
	put_text(&r, "alpha alpha alpha", c);
	assert_int_equal(r.stats.chunks_seen, 3);
	assert_int_equal(r.stats.chunks_new, 2);
	assert_int_equal(repo_flush(&r, &e), 0);
	assert_int_equal(repo_close(&r, &e), 0);

	assert_int_equal(repo_open(dir, 0, &r, &e), 0);
	assert_int_equal(r.npacks, 1);
	assert_int_equal(repo_get(&r, b, &out, &e), 0);
	assert_string_equal(out.buf, "beta");
	assert_int_equal(repo_get(&r, a, &out, &e), 0);
	assert_string_equal(out.buf, "alpha alpha alpha");
	memset(c, 7, sizeof(c));
	assert_int_equal(repo_get(&r, c, &out, &e), CV_ECORRUPT);
	assert_non_null(strstr(e.msg, "not in the repository"));
	repo_close(&r, NULL);
	sb_release(&out);
}

/*
 * Writers exclude each other; readers go on beside a backup; a prune needs
 * the repository alone. (flock locks of two opens conflict in one process.)
 */
static void test_lock(void **state)
{
	struct repo w, w2, rd;
	struct cv_err e = { 0 };
	char pid[32];

	(void)state;
	snprintf(pid, sizeof(pid), "(pid %ld)", (long)getpid());
	assert_int_equal(repo_open(dir, STORE_APPEND, &w, &e), 0);
	assert_int_equal(repo_open(dir, STORE_APPEND, &w2, &e), CV_EIO);
	assert_non_null(strstr(e.msg, "another backup or prune"));
	assert_non_null(strstr(e.msg, pid));
	cv_err_clear(&e);
	assert_int_equal(repo_open(dir, STORE_READ, &rd, &e), 0); /* beside a backup */
	assert_int_equal(repo_open(dir, STORE_EXCLUSIVE, &w2, &e), CV_EIO);
	repo_close(&w, NULL);
	cv_err_clear(&e);
	assert_int_equal(repo_open(dir, STORE_EXCLUSIVE, &w2, &e), CV_EIO);
	assert_non_null(strstr(e.msg, "is being read"));
	repo_close(&rd, NULL);
	cv_err_clear(&e);
	assert_int_equal(repo_open(dir, STORE_EXCLUSIVE, &w, &e), 0);
	assert_int_equal(repo_open(dir, STORE_READ, &rd, &e), CV_EIO);
	assert_non_null(strstr(e.msg, "a prune"));
	repo_close(&w, NULL);
}

/* A reader beside a backup sees the packs it added once it refreshes. */
static void test_refresh(void **state)
{
	struct repo w, rd;
	struct cv_err e = { 0 };
	struct strbuf out = STRBUF_INIT;
	uint8_t h[SHA256_LEN];

	(void)state;
	assert_int_equal(repo_open(dir, STORE_READ, &rd, &e), 0);
	assert_int_equal(repo_open(dir, STORE_APPEND, &w, &e), 0);
	put_text(&w, "written beside a reader", h);
	assert_int_equal(repo_close(&w, &e), 0);
	assert_null(repo_find(&rd, h));
	assert_int_equal(repo_refresh(&rd, &e), 0);
	assert_int_equal(repo_get(&rd, h, &out, &e), 0);
	assert_string_equal(out.buf, "written beside a reader");
	assert_int_equal(repo_refresh(&rd, &e), 0); /* nothing new: no change */
	assert_int_equal(rd.npacks, 1);
	repo_close(&rd, NULL);
	sb_release(&out);
}

static void test_lists_and_snapshots(void **state)
{
	struct repo r;
	struct cv_err e = { 0 };
	struct strbuf segs = STRBUF_INIT, back = STRBUF_INIT;
	uint8_t hashes[3000 * SHA256_LEN];
	char **names, *json;
	size_t n, i;

	(void)state;
	for (i = 0; i < sizeof(hashes); i++)
		hashes[i] = (uint8_t)(i * 31);
	assert_int_equal(repo_open(dir, 1, &r, &e), 0);
	assert_int_equal(repo_put_list(&r, hashes, 3000, &segs, &e), 0);
	assert_int_equal(segs.len, 3 * SHA256_LEN); /* 1024 + 1024 + 952 */
	assert_int_equal(repo_put_snapshot(&r, "s1", "{\"x\":1}", &e), 0);
	assert_int_equal(repo_flush(&r, &e), 0);
	assert_int_equal(repo_get_list(&r, (const uint8_t *)segs.buf, 3, &back, &e), 0);
	assert_int_equal(back.len, sizeof(hashes));
	assert_memory_equal(back.buf, hashes, sizeof(hashes));
	assert_int_equal(repo_list_snapshots(&r, &names, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_string_equal(names[0], "s1");
	free(names[0]);
	free(names);
	assert_int_equal(repo_get_snapshot(&r, "s1", &json, &e), 0);
	assert_string_equal(json, "{\"manifest_sha256\":\"0dd50d358793f2ede6b9679aa952"
			    "89775b4ef3276be2011f8d2666e27f9a1110\",\"x\":1}");
	free(json);
	assert_int_equal(repo_get_snapshot(&r, "nope", &json, &e), CV_ENOTFOUND);
	repo_close(&r, NULL);
	sb_release(&segs);
	sb_release(&back);
}

static void test_gc_keeps_what_is_asked(void **state)
{
	struct repo r;
	struct cv_err e = { 0 };
	struct hashset keep;
	struct gc_stats gs;
	struct strbuf out = STRBUF_INIT;
	uint8_t a[SHA256_LEN], b[SHA256_LEN], c[SHA256_LEN];

	(void)state;
	assert_int_equal(repo_open(dir, 1, &r, &e), 0);
	put_text(&r, "keep me", a);
	put_text(&r, "drop me", b);
	assert_int_equal(repo_flush(&r, &e), 0);
	/* small chunks share a frame: the kept one is stored again alone */
	assert_true(repo_find(&r, a)->off == repo_find(&r, b)->off);
	assert_int_not_equal(repo_find(&r, b)->uoff, 0);
	put_text(&r, "drop me too", c);
	assert_int_equal(repo_flush(&r, &e), 0);
	hashset_init(&keep, SHA256_LEN);
	hashset_add(&keep, a);
	assert_true(hashset_has(&keep, a));
	assert_false(hashset_has(&keep, b));
	assert_int_equal(repo_gc(&r, &keep, 0, &gs, &e), 0);
	assert_int_equal(gs.chunks_removed, 2);
	assert_int_equal(gs.packs_rewritten, 1);
	assert_int_equal(gs.packs_removed, 1);
	repo_close(&r, NULL);

	assert_int_equal(repo_open(dir, 0, &r, &e), 0);
	assert_int_equal(repo_get(&r, a, &out, &e), 0);
	assert_string_equal(out.buf, "keep me");
	assert_null(repo_find(&r, b));
	assert_null(repo_find(&r, c));
	repo_close(&r, NULL);
	hashset_release(&keep);
	sb_release(&out);
}

/* Link every file of from into to (packs are never changed in place). */
static void link_all(const char *from, const char *to)
{
	char a[512], b[512];
	struct dirent *de;
	DIR *d = opendir(from);

	assert_non_null(d);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(a, sizeof(a), "%s/%s", from, de->d_name);
		snprintf(b, sizeof(b), "%s/%s", to, de->d_name);
		link(a, b); /* EEXIST: still there */
	}
	closedir(d);
}

/*
 * A gc stopped after storing kept chunks again but before removing the old
 * packs, then a second gc: whatever order the packs' names fall in, nothing
 * kept is lost. (The second gc stores the same chunks again into a pack of
 * the same name, which it once removed as a partly kept old pack.)
 */
static void test_gc_after_interrupted_gc(void **state)
{
	char root[96], saved[128], packs[128], text[64];
	uint8_t h[4][SHA256_LEN];
	struct strbuf out = STRBUF_INIT;
	struct cv_err e = { 0 };
	struct hashset keep;
	struct gc_stats gs;
	struct repo r;
	int seed, i;

	(void)state;
	for (seed = 0; seed < 24; seed++) {
		snprintf(root, sizeof(root), "%s-%d", dir, seed);
		snprintf(packs, sizeof(packs), "%s/packs", root);
		snprintf(saved, sizeof(saved), "%s/saved", root);
		assert_int_equal(repo_init(root, NULL, &e), 0);
		assert_int_equal(repo_open(root, STORE_APPEND, &r, &e), 0);
		for (i = 0; i < 4; i++) { /* packs (kept 0, dropped 1), (kept 2, dropped 3) */
			snprintf(text, sizeof(text), "seed %d chunk %d", seed, i);
			put_text(&r, text, h[i]);
			if (i == 1)
				assert_int_equal(repo_flush(&r, &e), 0);
		}
		assert_int_equal(repo_close(&r, &e), 0);
		assert_int_equal(mkdir(saved, 0755), 0);
		link_all(packs, saved);
		hashset_init(&keep, SHA256_LEN);
		hashset_add(&keep, h[0]);
		hashset_add(&keep, h[2]);
		assert_int_equal(repo_open(root, STORE_EXCLUSIVE, &r, &e), 0);
		assert_int_equal(repo_gc(&r, &keep, 0, &gs, &e), 0);
		repo_close(&r, NULL);
		link_all(saved, packs); /* as if stopped before its removals */
		assert_int_equal(repo_open(root, STORE_EXCLUSIVE, &r, &e), 0);
		assert_int_equal(repo_gc(&r, &keep, 0, &gs, &e), 0);
		repo_close(&r, NULL);
		assert_int_equal(repo_open(root, STORE_READ, &r, &e), 0);
		assert_int_equal(repo_get(&r, h[0], &out, &e), 0);
		assert_int_equal(repo_get(&r, h[2], &out, &e), 0);
		assert_null(repo_find(&r, h[1]));
		repo_close(&r, NULL);
		hashset_release(&keep);
		rm_tree(root);
	}
	sb_release(&out);
}

/*
 * A rewrite larger than one batch: a kept delta whose base was already
 * written again is still read from the base's old place (its new pack is
 * not finished yet). It used to look for the base in the unfinished pack.
 */
static void test_gc_delta_after_base_moved(void **state)
{
	enum { NBASE = ZBATCH_ITEMS + 100 };
	uint8_t (*h)[SHA256_LEN] = calloc(NBASE, SHA256_LEN), d[SHA256_LEN], g[SHA256_LEN];
	static const char v2[] = "chunk 00000: CHANGED";
	struct strbuf out = STRBUF_INIT, base = STRBUF_INIT;
	struct hashset keep;
	struct gc_stats gs;
	struct repo r;
	struct cv_err e = { 0 };
	char text[32];
	int i;

	(void)state;
	assert_int_equal(repo_open(dir, 1, &r, &e), 0);
	repo_set_compression(&r, 1, 0);
	hashset_init(&keep, SHA256_LEN);
	for (i = 0; i < NBASE; i++) {
		snprintf(text, sizeof(text), "chunk %05d: original", i);
		put_text(&r, text, h[i]);
		hashset_add(&keep, h[i]);
	}
	put_text(&r, "dropped from the first pack", g);
	assert_int_equal(repo_flush(&r, &e), 0);
	sha256(v2, strlen(v2), d); /* the first base changed, as a delta */
	assert_int_equal(repo_get(&r, h[0], &base, &e), 0);
	assert_int_equal(repo_put_delta(&r, 0, d, v2, strlen(v2), h[0], base.buf,
					base.len, &e), 0);
	put_text(&r, "dropped from the second pack", g);
	assert_int_equal(repo_flush(&r, &e), 0);
	assert_true(repo_find(&r, d)->flags & CHUNK_DELTA);
	hashset_add(&keep, d);
	assert_int_equal(repo_gc(&r, &keep, 0, &gs, &e), 0);
	assert_int_equal(gs.packs_rewritten, 2);
	repo_close(&r, NULL);

	assert_int_equal(repo_open(dir, 0, &r, &e), 0);
	assert_int_equal(repo_get(&r, d, &out, &e), 0);
	assert_string_equal(out.buf, v2);
	assert_int_equal(repo_get(&r, h[0], &out, &e), 0);
	assert_string_equal(out.buf, "chunk 00000: original");
	repo_close(&r, NULL);
	hashset_release(&keep);
	sb_release(&out);
	sb_release(&base);
	free(h);
}

static void test_damaged_pack(void **state)
{
	struct repo r;
	struct cv_err e = { 0 };
	struct strbuf out = STRBUF_INIT;
	uint8_t a[SHA256_LEN];
	char path[512];
	FILE *f;

	(void)state;
	assert_int_equal(repo_open(dir, 1, &r, &e), 0);
	put_text(&r, "a chunk that will be damaged on disk", a);
	assert_int_equal(repo_flush(&r, &e), 0);
	snprintf(path, sizeof(path), "%s/packs/%s.pack", dir, r.packs[r.npacks - 1]);
	f = fopen(path, "r+b");
	assert_non_null(f);
	fseek(f, (long)repo_find(&r, a)->off + 5, SEEK_SET);
	fputc(0x55, f);
	fclose(f);
	assert_int_equal(repo_get(&r, a, &out, &e), CV_ECORRUPT);
	assert_non_null(strstr(e.msg, "offset"));
	repo_close(&r, NULL);
	sb_release(&out);
}

/*
 * A changed byte that still decompresses: repo_append_unchecked hands back
 * what the frame holds (its caller checks a whole file's hash), and
 * repo_append_at names it wrong content.
 */
static void test_unchecked_append(void **state)
{
	static const char text[] = "a short text stored as it is, quick to find";
	struct repo r;
	struct repo_reader rd;
	struct cv_err e = { 0 };
	struct strbuf out = STRBUF_INIT;
	uint8_t a[SHA256_LEN];
	char path[512], *at;
	uint8_t *p;
	size_t n;
	FILE *f;

	(void)state;
	assert_int_equal(repo_open(dir, 1, &r, &e), 0);
	put_text(&r, text, a);
	assert_int_equal(repo_flush(&r, &e), 0);
	snprintf(path, sizeof(path), "%s/packs/%s.pack", dir, r.packs[r.npacks - 1]);
	f = fopen(path, "r+b");
	assert_non_null(f);
	p = xmalloc(1 << 16);
	n = fread(p, 1, 1 << 16, f);
	at = memmem(p, n, "quick", 5);
	assert_non_null(at);
	fseek(f, (long)(at - (char *)p), SEEK_SET);
	fputc('Q', f);
	fclose(f);
	free(p);

	repo_reader_init(&rd);
	assert_int_equal(repo_append_unchecked(&r, &rd, repo_find(&r, a), a, &out,
					       &e), 0);
	assert_int_equal(out.len, strlen(text));
	assert_non_null(memmem(out.buf, out.len, "Quick", 5));
	repo_reader_release(&rd);
	repo_reader_init(&rd); /* no frame cached */
	sb_reset(&out);
	assert_int_equal(repo_append_at(&r, &rd, repo_find(&r, a), a, &out, &e),
			 CV_ECORRUPT);
	assert_non_null(strstr(e.msg, "wrong content"));
	assert_int_equal(out.len, 0);
	repo_reader_release(&rd);
	repo_close(&r, NULL);
	sb_release(&out);
}

/* Large frames read one after another: a reader keeps only the last. */
static void test_frame_cache_bound(void **state)
{
	struct repo r;
	struct repo_reader rd;
	struct cv_err e = { 0 };
	struct strbuf out = STRBUF_INIT;
	uint8_t h[6][SHA256_LEN];
	size_t n = 3 * REPO_FRAME_KEEP, i, k, large;
	uint8_t *big = xmalloc(n);
	uint64_t x = 0x9e3779b97f4a7c15ull;

	(void)state;
	assert_int_equal(repo_open(dir, 1, &r, &e), 0);
	for (k = 0; k < 6; k++) {
		for (i = 0; i < n; i++) { /* bytes that do not compress */
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			big[i] = (uint8_t)x;
		}
		sha256(big, n, h[k]);
		assert_int_equal(repo_put(&r, h[k], big, n, &e), 0);
	}
	assert_int_equal(repo_flush(&r, &e), 0);
	repo_reader_init(&rd);
	for (k = 0; k < 6; k++) {
		assert_int_equal(repo_get_in(&r, &rd, h[k], &out, &e), 0);
		assert_int_equal(out.len, n);
		for (i = 0, large = 0; i < REPO_FRAME_CACHE; i++)
			large += rd.fc[i].buf.alloc > REPO_FRAME_KEEP;
		assert_int_equal(large, 1);
	}
	repo_reader_release(&rd);
	repo_close(&r, NULL);
	sb_release(&out);
	free(big);
}

/* A delta chunk reads back through its base, which walks must keep. */
static void test_delta_chunks(void **state)
{
	static const char base[] = "page 7: alpha beta gamma delta epsilon zeta eta theta";
	static const char v2[] = "page 7: alpha beta GAMMA delta epsilon zeta eta theta";
	static const char v3[] = "page 8: alpha beta gamma delta epsilon zeta eta iota";
	uint8_t hb[SHA256_LEN], h2[SHA256_LEN], h3[SHA256_LEN], got[SHA256_LEN];
	struct strbuf out = STRBUF_INIT;
	struct repo r;
	struct cv_err e = { 0 };

	(void)state;
	assert_int_equal(repo_open(dir, 1, &r, &e), 0);
	put_text(&r, base, hb);
	/* a pending base cannot be used yet: stored whole */
	sha256(v3, strlen(v3), h3);
	assert_int_equal(repo_put_delta(&r, 0, h3, v3, strlen(v3), hb, base,
					strlen(base), &e), 0);
	assert_int_equal(repo_flush(&r, &e), 0);
	assert_false(repo_find(&r, h3)->flags & CHUNK_DELTA);
	sha256(v2, strlen(v2), h2);
	assert_int_equal(repo_put_delta(&r, 0, h2, v2, strlen(v2), hb, base,
					strlen(base), &e), 0);
	assert_int_equal(r.stats.chunks_delta, 1);
	assert_int_equal(repo_close(&r, &e), 0);

	assert_int_equal(repo_open(dir, 0, &r, &e), 0);
	assert_true(repo_find(&r, h2)->flags & CHUNK_DELTA);
	assert_int_equal(repo_delta_base(&r, repo_find(&r, h2), got, &e), 0);
	assert_memory_equal(got, hb, SHA256_LEN);
	assert_int_equal(repo_get(&r, h2, &out, &e), 0);
	assert_int_equal(out.len, strlen(v2));
	assert_memory_equal(out.buf, v2, out.len);
	repo_close(&r, NULL);
	sb_release(&out);
}

/*
 * A delta whose base's pack and index are gone is not readable: storing the
 * chunk again stores it whole, and the whole copy is the one read from then
 * on, whichever index is loaded last (variant k of the content). 1 if the
 * delta's index was loaded last.
 */
static int delta_base_gone(const char *root, unsigned k)
{
	char base[80], v2[80], name[700], *pack, *whole;
	uint8_t hb[SHA256_LEN], h2[SHA256_LEN];
	struct strbuf out = STRBUF_INIT;
	struct repo r;
	struct cv_err e = { 0 };
	int delta_last;

	snprintf(base, sizeof(base), "page %u: one two three four five six seven", k);
	snprintf(v2, sizeof(v2), "page %u: one two THREE four five six seven", k);
	assert_int_equal(repo_init(root, NULL, &e), 0);
	assert_int_equal(repo_open(root, 1, &r, &e), 0);
	put_text(&r, base, hb);
	assert_int_equal(repo_flush(&r, &e), 0);
	pack = strdup(r.packs[repo_find(&r, hb)->pack]);
	sha256(v2, strlen(v2), h2);
	assert_int_equal(repo_put_delta(&r, 0, h2, v2, strlen(v2), hb, base,
					strlen(base), &e), 0);
	assert_int_equal(repo_close(&r, &e), 0);

	assert_int_equal(repo_open(root, 1, &r, &e), 0);
	assert_true(repo_find(&r, h2)->flags & CHUNK_DELTA);
	assert_true(repo_readable(&r, repo_find(&r, h2)));
	repo_close(&r, NULL);
	snprintf(name, sizeof(name), "%s/packs/%s.pack", root, pack);
	assert_int_equal(unlink(name), 0);
	snprintf(name, sizeof(name), "%s/packs/%s.idx", root, pack);
	assert_int_equal(unlink(name), 0);

	assert_int_equal(repo_open(root, 1, &r, &e), 0);
	assert_null(repo_find(&r, hb));
	assert_true(repo_find(&r, h2)->flags & CHUNK_DELTA);
	assert_false(repo_readable(&r, repo_find(&r, h2)));
	assert_false(repo_readable(&r, repo_find(&r, h2))); /* remembered */
	assert_int_equal(repo_put_delta(&r, 0, h2, v2, strlen(v2), NULL, NULL, 0, &e), 0);
	assert_int_equal(r.stats.chunks_new, 1);
	assert_int_equal(repo_flush(&r, &e), 0);
	whole = strdup(r.packs[repo_find(&r, h2)->pack]);
	assert_int_equal(repo_close(&r, &e), 0);

	assert_int_equal(repo_open(root, 0, &r, &e), 0);
	assert_int_equal(r.npacks, 2); /* the delta's pack, and the whole copy's */
	delta_last = strcmp(r.packs[0], whole) == 0; /* indexes load in name order */
	assert_false(repo_find(&r, h2)->flags & CHUNK_DELTA);
	assert_true(repo_readable(&r, repo_find(&r, h2)));
	assert_int_equal(repo_get(&r, h2, &out, &e), 0);
	assert_int_equal(out.len, strlen(v2));
	assert_memory_equal(out.buf, v2, out.len);
	repo_close(&r, NULL);
	sb_release(&out);
	free(pack);
	free(whole);
	return delta_last;
}

/*
 * A delta this handle wrote into its open pack is readable: putting the
 * chunk again stores nothing.
 */
static void test_delta_in_open_pack(void **state)
{
	static const char base[] = "page 3: one two three four five six seven";
	static const char v2[] = "page 3: one two THREE four five six seven";
	uint8_t hb[SHA256_LEN], h2[SHA256_LEN], h[SHA256_LEN];
	uint8_t *big = malloc(64 * 1024);
	const struct chunk_loc *loc;
	struct repo r;
	struct cv_err e = { 0 };
	uint64_t before;
	size_t i, k;

	(void)state;
	assert_int_equal(repo_open(dir, 1, &r, &e), 0);
	put_text(&r, base, hb);
	assert_int_equal(repo_flush(&r, &e), 0);
	sha256(v2, strlen(v2), h2);
	assert_int_equal(repo_put_delta(&r, 0, h2, v2, strlen(v2), hb, base,
					strlen(base), &e), 0);
	/* enough after it that its batch is written to the pack */
	for (i = 0; i < 300 && repo_find(&r, h2)->pack == PACK_PENDING; i++) {
		for (k = 0; k < 64 * 1024; k++)
			big[k] = (uint8_t)(rand() >> 7);
		sha256(big, 64 * 1024, h);
		assert_int_equal(repo_put(&r, h, big, 64 * 1024, &e), 0);
	}
	loc = repo_find(&r, h2);
	assert_true(loc->pack != PACK_PENDING && (loc->flags & CHUNK_DELTA));
	assert_true(r.pack_open);
	assert_true(repo_readable(&r, loc));
	before = r.stats.chunks_new;
	assert_int_equal(repo_put_delta(&r, 0, h2, v2, strlen(v2), NULL, NULL, 0, &e), 0);
	assert_int_equal(r.stats.chunks_new, before);
	assert_int_equal(repo_close(&r, &e), 0);
	free(big);
}

static void test_delta_base_gone(void **state)
{
	char root[300];
	unsigned k, delta_last = 0;

	(void)state;
	for (k = 0; k < 8; k++) {
		snprintf(root, sizeof(root), "%s/v%u", dir, k);
		delta_last += (unsigned)delta_base_gone(root, k);
	}
	/* both orders were met */
	assert_true(delta_last > 0 && delta_last < 8);
}

/*
 * Chunks of two kinds, put alternately into the two lanes, are framed by
 * lane: reading back one kind decompresses only its own frames.
 */
static void test_lanes(void **state)
{
	uint8_t h[16][SHA256_LEN];
	char text[16][32];
	struct strbuf out = STRBUF_INIT;
	const struct chunk_loc *loc;
	uint64_t frame[REPO_LANES];
	struct repo r;
	struct cv_err e = { 0 };
	unsigned i;

	(void)state;
	assert_int_equal(repo_open(dir, 1, &r, &e), 0);
	for (i = 0; i < 16; i++) {
		snprintf(text[i], sizeof(text[i]), "%s %u", i & 1 ? "vector" : "list", i);
		sha256(text[i], strlen(text[i]), h[i]);
		assert_int_equal(repo_put_delta(&r, i & 1, h[i], text[i],
						strlen(text[i]), NULL, NULL, 0, &e), 0);
	}
	assert_int_equal(repo_close(&r, &e), 0);

	assert_int_equal(repo_open(dir, 0, &r, &e), 0);
	for (i = 0; i < 16; i++) {
		loc = repo_find(&r, h[i]);
		assert_non_null(loc);
		if (i < REPO_LANES)
			frame[i] = loc->off;
		assert_true(loc->off == frame[i & 1]);
		assert_int_equal(repo_get(&r, h[i], &out, &e), 0);
		assert_int_equal(out.len, strlen(text[i]));
		assert_memory_equal(out.buf, text[i], out.len);
	}
	assert_true(frame[0] != frame[1]);
	repo_close(&r, NULL);
	sb_release(&out);
}

/* A file entry whose list is a base list with a patch, as a backup writes. */
static void patched_entry(struct repo *r, const uint8_t *base, size_t nbase,
			  const uint8_t *patch, size_t plen, uint64_t chunks,
			  struct mf_file *f)
{
	struct strbuf segs = STRBUF_INIT;
	struct cv_err e = { 0 };
	uint8_t sum[SHA256_LEN];

	memset(f, 0, sizeof(*f));
	f->path = "chroma.sqlite3";
	assert_int_equal(repo_put_list(r, base, nbase, &segs, &e), 0);
	f->nsegs = segs.len / SHA256_LEN;
	f->segs = (uint8_t *)sb_detach(&segs, NULL);
	sha256(patch, plen, sum);
	assert_int_equal(repo_put(r, sum, patch, plen, &e), 0);
	f->has_patch = 1;
	f->npsegs = 1;
	f->psegs = xmalloc(SHA256_LEN);
	memcpy(f->psegs, sum, SHA256_LEN);
	f->nchunks = chunks;
	assert_int_equal(repo_flush(r, &e), 0);
}

static void drop_entry(struct mf_file *f)
{
	free(f->segs);
	free(f->psegs);
}

static void patch_entry(uint8_t *p, uint32_t idx, uint8_t fill)
{
	memcpy(p, &idx, 4);
	memset(p + 4, fill, SHA256_LEN);
}

/* A patch of the 3-entry base list that must be refused, saying why. */
static void expect_refused(struct repo *r, const uint8_t *base, const uint8_t *patch,
			   size_t plen, uint64_t chunks, const char *why)
{
	struct strbuf out = STRBUF_INIT;
	struct cv_err e = { 0 };
	struct mf_file f;

	patched_entry(r, base, 3, patch, plen, chunks, &f);
	assert_int_equal(mf_file_list(r, &f, &out, &e), CV_ECORRUPT);
	assert_non_null(strstr(e.msg, why));
	drop_entry(&f);
	sb_release(&out);
}

/* Chunk list patches: applied, extended, and refused when inconsistent. */
static void test_list_patches(void **state)
{
	uint8_t base[3 * SHA256_LEN], patch[3 * MF_PATCH_ENTRY];
	struct strbuf out = STRBUF_INIT;
	struct mf_file f;
	struct repo r;
	struct cv_err e = { 0 };

	(void)state;
	memset(base, 0xAA, sizeof(base));
	assert_int_equal(repo_open(dir, 1, &r, &e), 0);
	/* entry 1 replaced, entry 3 appended: 4 entries */
	patch_entry(patch, 1, 0xB1);
	patch_entry(patch + MF_PATCH_ENTRY, 3, 0xB3);
	patched_entry(&r, base, 3, patch, 2 * MF_PATCH_ENTRY, 4, &f);
	assert_int_equal(mf_file_list(&r, &f, &out, &e), 0);
	assert_int_equal(out.len, 4 * SHA256_LEN);
	assert_int_equal((uint8_t)out.buf[0], 0xAA);
	assert_int_equal((uint8_t)out.buf[SHA256_LEN], 0xB1);
	assert_int_equal((uint8_t)out.buf[2 * SHA256_LEN], 0xAA);
	assert_int_equal((uint8_t)out.buf[3 * SHA256_LEN], 0xB3);
	drop_entry(&f);

	/* shortened to 2 entries by the count alone */
	patched_entry(&r, base, 3, patch, MF_PATCH_ENTRY, 2, &f);
	sb_reset(&out);
	assert_int_equal(mf_file_list(&r, &f, &out, &e), 0);
	assert_int_equal(out.len, 2 * SHA256_LEN);
	drop_entry(&f);

	/* out of order, out of range, and an appended entry left unset */
	patch_entry(patch, 2, 0xC1);
	patch_entry(patch + MF_PATCH_ENTRY, 1, 0xC2);
	expect_refused(&r, base, patch, 2 * MF_PATCH_ENTRY, 3, "out of order");
	patch_entry(patch, 9, 0xC3);
	expect_refused(&r, base, patch, MF_PATCH_ENTRY, 4, "");
	patch_entry(patch, 0, 0xC4);
	expect_refused(&r, base, patch, MF_PATCH_ENTRY, 5, "unset");
	repo_close(&r, NULL);
	sb_release(&out);
}

/* A version 1 pack (one frame per chunk, 48-byte index entries) still reads. */
static void test_reads_version1_packs(void **state)
{
	static const char text[] = "written by repository version 1";
	uint8_t h[SHA256_LEN], sum[SHA256_LEN], frame[256], entry[48];
	struct strbuf idx = STRBUF_INIT, out = STRBUF_INIT;
	struct repo r;
	struct cv_err e = { 0 };
	uint64_t count = 1, off = 8;
	uint32_t clen, ulen = sizeof(text) - 1;
	size_t c;
	char hex[2 * SHA256_LEN + 1], path[512];
	FILE *f;

	(void)state;
	sha256(text, ulen, h);
	c = ZSTD_compress(frame, sizeof(frame), text, ulen, 1);
	assert_false(ZSTD_isError(c));
	clen = (uint32_t)c;
	memcpy(entry, h, SHA256_LEN);
	memcpy(entry + 32, &off, 8);
	memcpy(entry + 40, &clen, 4);
	memcpy(entry + 44, &ulen, 4);
	sb_add(&idx, "CVIDX001", 8);
	sb_add(&idx, &count, 8);
	sb_add(&idx, entry, sizeof(entry));
	sha256(idx.buf, idx.len, sum);
	sb_add(&idx, sum, SHA256_LEN);
	hex_encode(h, SHA256_LEN, hex); /* any name will do */
	snprintf(path, sizeof(path), "%s/packs/%s.pack", dir, hex);
	f = fopen(path, "wb");
	assert_non_null(f);
	fwrite("CVPACK01", 1, 8, f);
	fwrite(frame, 1, clen, f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/packs/%s.idx", dir, hex);
	f = fopen(path, "wb");
	assert_non_null(f);
	fwrite(idx.buf, 1, idx.len, f);
	fclose(f);
	assert_int_equal(repo_open(dir, 0, &r, &e), 0);
	assert_int_equal(repo_get(&r, h, &out, &e), 0);
	assert_int_equal(out.len, ulen);
	assert_memory_equal(out.buf, text, ulen);
	repo_close(&r, NULL);
	sb_release(&idx);
	sb_release(&out);
}

/* Write file rel of n bytes (fill) through w, cut in 1,000-byte chunks. */
static void write_file(struct mf_writer *w, const char *rel, size_t n, int fill)
{
	struct cutter cut = { 1000, 1000 };
	struct cv_err e = { 0 };
	struct stat st = { .st_mode = 0644 };
	uint8_t *p = xmalloc(n);
	size_t lens[64], k, i;

	memset(p, fill, n);
	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(p[i] + i / 1000); /* chunks that differ */
	for (k = 0; k * 1000 < n; k++)
		lens[k] = n - k * 1000 < 1000 ? n - k * 1000 : 1000;
	assert_int_equal(mfw_file_begin(w, rel, &st, &cut), 0);
	assert_int_equal(mfw_chunks(w, p, lens, k, &e), 0);
	assert_int_equal(mfw_file_end(w, &e), 0);
	free(p);
}

/* The manifest text of w's files. */
static char *manifest_text(struct mf_writer *w)
{
	json_t *m = json_pack("{s:s, s:O}", "format", "chromavault-snapshot",
			      "files", w->files);
	char *text = json_dumps(m, JSON_COMPACT);

	json_decref(m);
	return text;
}

/* The source of every file but ctx has its recorded stamps still. */
static int not_named(void *ctx, const char *rel, const json_t *src)
{
	return strcmp(rel, ctx) != 0;
}

/*
 * A file the previous snapshot recorded with its source stamps is takeable
 * with exactly those stamps, and only while every chunk of it is in the
 * repository; one recorded without stamps never is.
 */
static void test_takeable(void **state)
{
	struct repo r;
	struct cv_err e = { 0 };
	struct mf_writer w;
	struct manifest m;
	json_t *stamps, *same, *other, *f;
	char *text;
	size_t i;

	(void)state;
	assert_int_equal(repo_open(dir, 1, &r, &e), 0);
	stamps = json_pack("{s:{s:[iiiii]}, s:{s:[iiiii]}}", "", "db", 1, 2, 3000, 4, 5,
			   "c", "a", 1, 9, 5000, 7, 8);
	mfw_init(&w, &r, NULL);
	w.stamps = stamps;
	write_file(&w, "db", 3000, 'd');
	write_file(&w, "c/a", 5000, 'a');
	write_file(&w, "c/plain", 2000, 'p'); /* no stamps recorded */
	assert_int_equal(repo_flush(&r, &e), 0);
	text = manifest_text(&w);
	mfw_release(&w);
	assert_int_equal(manifest_parse("s1", text, &m, &e), 0);
	free(text);

	mfw_init(&w, &r, &m);
	mfw_find_takeable(&w, NULL, NULL);
	same = json_pack("[iiiii]", 1, 9, 5000, 7, 8);
	other = json_pack("[iiiii]", 1, 9, 5000, 7, 9); /* ctime moved */
	assert_true(mfw_has(&w, "c/a", same));
	assert_false(mfw_has(&w, "c/a", other));
	assert_false(mfw_has(&w, "c/a", NULL));
	assert_false(mfw_has(&w, "c/plain", same));
	json_decref(same);
	same = json_pack("[iiiii]", 1, 2, 3000, 4, 5);
	assert_true(mfw_has(&w, "db", same));
	w.stamps = stamps;
	assert_int_equal(mfw_unchanged(&w, "db"), 1);
	assert_int_equal(mfw_unchanged(&w, "c/plain"), 0);
	assert_int_equal(json_array_size(w.files), 1);
	assert_true(json_equal(json_array_get(w.files, 0), m.files[0].json));
	mfw_release(&w);

	/* a source whose stat changed already is passed over */
	mfw_init(&w, &r, &m);
	mfw_find_takeable(&w, not_named, "c/a");
	json_decref(other);
	other = json_pack("[iiiii]", 1, 9, 5000, 7, 8); /* as recorded */
	assert_false(mfw_has(&w, "c/a", other));
	assert_true(mfw_has(&w, "db", same));
	mfw_release(&w);

	/* a chunk list the repository does not hold: not takeable */
	json_array_foreach(json_object_get(m.root, "files"), i, f)
		json_array_set_new(json_object_get(f, "lists"), 0, json_string(
			"00000000000000000000000000000000000000000000000000000000000000ff"));
	text = json_dumps(m.root, JSON_COMPACT);
	manifest_release(&m);
	assert_int_equal(manifest_parse("s1", text, &m, &e), 0);
	free(text);
	mfw_init(&w, &r, &m);
	mfw_find_takeable(&w, NULL, NULL);
	assert_false(mfw_has(&w, "db", same));
	mfw_release(&w);

	json_decref(same);
	json_decref(other);
	json_decref(stamps);
	manifest_release(&m);
	repo_close(&r, NULL);
}

/* parse must fail, naming the snapshot and what is wrong */
static void parse_fails(const char *text, const char *what)
{
	struct cv_err e = { 0 };
	struct manifest m;

	assert_int_equal(manifest_parse("s1", text, &m, &e), CV_ECORRUPT);
	assert_non_null(strstr(e.msg, "snapshot s1"));
	if (!strstr(e.msg, what))
		fail_msg("%s: expected \"%s\"", e.msg, what);
	assert_null(m.files);
}

#define MF_HEAD "{\"format\":\"chromavault-snapshot\","
#define MF_SHA "\"sha256\":\"" \
	"00000000000000000000000000000000000000000000000000000000000000aa\""

/* A manifest without its file list, or a file without what restore needs. */
static void test_manifest_required(void **state)
{
	struct cv_err e = { 0 };
	struct manifest m;

	(void)state;
	assert_int_equal(manifest_parse("s1", MF_HEAD "\"files\":[{\"path\":\"d\","
					"\"dir\":true},{\"path\":\"d/f\",\"size\":0,"
					MF_SHA ",\"lists\":[]}]}", &m, &e), 0);
	assert_int_equal(m.n, 2);
	manifest_release(&m);
	parse_fails(MF_HEAD "\"version\":2}", "no files list");
	parse_fails(MF_HEAD "\"filez\":[]}", "no files list");
	parse_fails(MF_HEAD "\"files\":{}}", "no files list");
	parse_fails(MF_HEAD "\"files\":[{\"dir\":true}]}", "file 0 has a bad path");
	parse_fails(MF_HEAD "\"files\":[3]}", "file 0 has a bad path");
	parse_fails(MF_HEAD "\"files\":[{\"path\":\"f\"," MF_SHA ",\"lists\":[]}]}",
		    "f: no size");
	parse_fails(MF_HEAD "\"files\":[{\"path\":\"f\",\"size\":\"1\"," MF_SHA
		    ",\"lists\":[]}]}", "f: no size");
	parse_fails(MF_HEAD "\"files\":[{\"path\":\"f\",\"size\":1,\"lists\":[]}]}",
		    "f: bad sha256 or lists");
	parse_fails(MF_HEAD "\"files\":[{\"path\":\"f\",\"size\":1," MF_SHA "}]}",
		    "f: bad sha256 or lists");
	parse_fails(MF_HEAD "\"files\":[{\"path\":\"f\",\"size\":1,\"mode\":\"x\","
		    MF_SHA ",\"lists\":[]}]}", "f: bad mode or mtime_ns");
	/* what restore could not do: a time before 1970, a name twice */
	parse_fails(MF_HEAD "\"files\":[{\"path\":\"f\",\"size\":1,\"mtime_ns\":-1,"
		    MF_SHA ",\"lists\":[]}]}", "f: bad mode or mtime_ns");
	parse_fails(MF_HEAD "\"files\":[{\"path\":\"f\",\"size\":0," MF_SHA
		    ",\"lists\":[]},{\"path\":\"g\",\"dir\":true},{\"path\":\"f\","
		    "\"dir\":true}]}", "f: listed twice");
}

/* Write text as snapshot s1 as it is, without a checksum added. */
static void put_raw_snapshot(const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/snapshots/s1.json", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Replace the first from in snapshot s1's file with to (as long). */
static void edit_snapshot(const char *from, const char *to)
{
	char path[128], buf[4096], *at;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/snapshots/s1.json", dir);
	f = fopen(path, "r");
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	at = strstr(buf, from);
	assert_non_null(at);
	memcpy(at, to, strlen(to));
	put_raw_snapshot(buf);
}

static void load_fails(struct repo *r, const char *what)
{
	struct cv_err e = { 0 };
	struct manifest m;

	assert_int_equal(manifest_load(r, "s1", &m, &e), CV_ECORRUPT);
	if (!strstr(e.msg, what) || !strstr(e.msg, "snapshot s1"))
		fail_msg("%s: expected \"%s\"", e.msg, what);
}

#define MF_V(v) MF_HEAD "\"version\":" #v ",\"files\":[{\"path\":\"chroma.sqlite3\"," \
	"\"size\":0," MF_SHA ",\"lists\":[]}]}"

/*
 * A manifest carries its checksum: any byte changed after it was written is
 * found; one written before checksums is read, and said to carry none.
 */
static void test_manifest_checksum(void **state)
{
	struct cv_err e = { 0 };
	struct manifest m;
	struct repo r;

	(void)state;
	assert_int_equal(repo_open(dir, 1, &r, &e), 0);
	assert_int_equal(repo_put_snapshot(&r, "s1", MF_V(3), &e), 0);
	assert_int_equal(manifest_load(&r, "s1", &m, &e), 0);
	assert_int_equal(m.sealed, 1);
	assert_string_equal(m.files[0].path, "chroma.sqlite3");
	manifest_release(&m);

	edit_snapshot("chroma.sqlite3", "chroma.sqlite4");
	load_fails(&r, "checksum mismatch");
	assert_int_equal(repo_put_snapshot(&r, "s1", MF_V(3), &e), 0);
	edit_snapshot("aa\"", "ab\"");
	load_fails(&r, "checksum mismatch");
	assert_int_equal(repo_put_snapshot(&r, "s1", MF_V(3), &e), 0);
	edit_snapshot("manifest_sha256\":\"", "manifest_sha256\":\"x");
	load_fails(&r, "checksum mismatch");

	/* version 3 without one: the checksum's member itself was damaged */
	put_raw_snapshot(MF_V(3));
	load_fails(&r, "a version 3 manifest without its checksum");
	assert_int_equal(repo_put_snapshot(&r, "s1", MF_V(3), &e), 0);
	edit_snapshot("manifest_sha256", "manifest_sha257");
	load_fails(&r, "a version 3 manifest without its checksum");

	/* written before manifests carried one */
	put_raw_snapshot(MF_V(2));
	assert_int_equal(manifest_load(&r, "s1", &m, &e), 0);
	assert_int_equal(m.sealed, 0);
	manifest_release(&m);
	assert_int_equal(repo_put_snapshot(&r, "s2", "[]", &e), CV_EUSAGE);
	repo_close(&r, NULL);
}

struct seen_at {
	struct walk_at at[8];
	size_t n;
};

static int record_at(void *ctx, const struct manifest *m, const struct mf_file *f,
		     const struct walk_at *at, const uint8_t *hash, struct cv_err *e)
{
	struct seen_at *s = ctx;

	if (at->off >= 0 && s->n < 8)
		s->at[s->n++] = *at;
	return 0;
}

/*
 * After a chunk the repository does not hold (its length unknown), the walk
 * gives the chunks that follow their place in the list and the least offset
 * they can have, not an exact offset it does not know.
 */
static void test_walk_after_missing(void **state)
{
	static const char *const text[] = { "first, 16 bytes.", "not stored",
					    "22 bytes, the third...", "fourth" };
	uint8_t list[4 * SHA256_LEN];
	struct strbuf segs = STRBUF_INIT, json = STRBUF_INIT;
	char hex[2 * SHA256_LEN + 1];
	struct cv_err e = { 0 };
	struct seen_at seen = { .n = 0 };
	struct manifest m;
	struct repo r;
	size_t i;

	(void)state;
	assert_int_equal(repo_open(dir, 1, &r, &e), 0);
	for (i = 0; i < 4; i++) {
		sha256(text[i], strlen(text[i]), list + i * SHA256_LEN);
		if (i != 1)
			put_text(&r, text[i], list + i * SHA256_LEN);
	}
	assert_int_equal(repo_put_list(&r, list, 4, &segs, &e), 0);
	assert_int_equal(repo_flush(&r, &e), 0);
	hex_encode((const uint8_t *)segs.buf, SHA256_LEN, hex);
	sb_addf(&json, MF_HEAD "\"files\":[{\"path\":\"f\",\"size\":53," MF_SHA
		",\"lists\":[\"%s\"]}]}", hex);
	assert_int_equal(manifest_parse("s1", json.buf, &m, &e), 0);
	assert_int_equal(walk_snapshot(&r, &m, record_at, &seen, 0, &e), 0);
	assert_int_equal(seen.n, 4);
	assert_true(seen.at[0].exact && seen.at[0].off == 0);
	assert_true(seen.at[1].exact && seen.at[1].off == 16); /* the missing one */
	for (i = 2; i < 4; i++) {
		assert_false(seen.at[i].exact);
		assert_int_equal(seen.at[i].idx, i);
	}
	assert_int_equal(seen.at[2].off, 16);
	assert_int_equal(seen.at[3].off, 16 + 22);
	manifest_release(&m);
	sb_release(&segs);
	sb_release(&json);
	repo_close(&r, NULL);
}

static int keep_hash(void *ctx, const struct manifest *m, const struct mf_file *f,
		     const struct walk_at *at, const uint8_t *hash, struct cv_err *e)
{
	hashset_add(ctx, hash);
	return 0;
}

/*
 * A snapshot of one file of size bytes whose list is the one segment seg:
 * parsed into m, walked (strictly, as prune does) into keep, then gc keeping
 * that; r open exclusively.
 */
static void keep_and_gc(struct repo *r, const uint8_t *seg, size_t size,
			struct manifest *m, struct hashset *keep)
{
	struct strbuf json = STRBUF_INIT;
	char hex[2 * SHA256_LEN + 1];
	struct gc_stats gs;
	struct cv_err e = { 0 };

	hex_encode(seg, SHA256_LEN, hex);
	sb_addf(&json, MF_HEAD "\"files\":[{\"path\":\"f\",\"size\":%zu," MF_SHA
		",\"lists\":[\"%s\"]}]}", size, hex);
	assert_int_equal(manifest_parse("s1", json.buf, m, &e), 0);
	hashset_init(keep, SHA256_LEN);
	assert_int_equal(walk_snapshot(r, m, keep_hash, keep, 1, &e), 0);
	assert_int_equal(repo_gc(r, keep, 0, &gs, &e), 0);
	sb_release(&json);
}

/*
 * A kept delta shares its frame with a delta no snapshot keeps, whose base
 * is alone in its pack: the walk keeps that base too, since the frame reads
 * only with every base, and gc (which removes unkept packs first, then
 * reads what it moves) keeps the delta readable. Dropping it made gc fail
 * half done, the kept delta unreadable.
 */
static void test_gc_keeps_frame_bases(void **state)
{
	static const char b1[] = "page 1: alpha beta gamma delta epsilon zeta eta";
	static const char b2[] = "page 2: one two three four five six seven eight";
	static const char x[] = "page 1: alpha beta GAMMA delta epsilon zeta eta";
	static const char y[] = "page 2: one two THREE four five six seven eight";
	uint8_t h1[SHA256_LEN], h2[SHA256_LEN], hx[SHA256_LEN], hy[SHA256_LEN];
	struct strbuf segs = STRBUF_INIT, out = STRBUF_INIT;
	struct hashset keep;
	struct cv_err e = { 0 };
	struct manifest m;
	struct repo r;

	(void)state;
	assert_int_equal(repo_open(dir, 1, &r, &e), 0);
	put_text(&r, b1, h1);
	assert_int_equal(repo_flush(&r, &e), 0);
	put_text(&r, b2, h2);
	assert_int_equal(repo_flush(&r, &e), 0);
	sha256(x, strlen(x), hx);
	sha256(y, strlen(y), hy);
	assert_int_equal(repo_put_delta(&r, 0, hx, x, strlen(x), h1, b1, strlen(b1), &e), 0);
	assert_int_equal(repo_put_delta(&r, 0, hy, y, strlen(y), h2, b2, strlen(b2), &e), 0);
	assert_int_equal(repo_put_list(&r, hx, 1, &segs, &e), 0);
	assert_int_equal(repo_close(&r, &e), 0);

	assert_int_equal(repo_open(dir, STORE_EXCLUSIVE, &r, &e), 0);
	assert_true(repo_find(&r, hx)->off == repo_find(&r, hy)->off); /* one frame */
	keep_and_gc(&r, (const uint8_t *)segs.buf, strlen(x), &m, &keep);
	assert_true(hashset_has(&keep, hx) && hashset_has(&keep, h1));
	assert_true(hashset_has(&keep, h2)); /* y's base: the frame needs it */
	assert_false(hashset_has(&keep, hy));
	assert_int_equal(repo_close(&r, &e), 0);

	assert_int_equal(repo_open(dir, 0, &r, &e), 0);
	assert_int_equal(repo_get(&r, hx, &out, &e), 0);
	assert_int_equal(out.len, strlen(x));
	assert_memory_equal(out.buf, x, out.len);
	assert_null(repo_find(&r, hy));
	repo_close(&r, NULL);
	manifest_release(&m);
	hashset_release(&keep);
	sb_release(&segs);
	sb_release(&out);
}

/*
 * A list segment is a chunk like any other, stored once: one with the bytes
 * of a data chunk stored as a delta is that delta, and the walk keeps its
 * base too (gc removed it, and the file's list could not be read).
 */
static void test_gc_keeps_segment_base(void **state)
{
	static const char z[] = "some file content that is one chunk long";
	uint8_t hz[SHA256_LEN], hb[SHA256_LEN], hd[SHA256_LEN], bb[SHA256_LEN];
	struct strbuf segs = STRBUF_INIT, out = STRBUF_INIT;
	struct hashset keep;
	struct cv_err e = { 0 };
	struct manifest m;
	struct repo r;

	(void)state;
	assert_int_equal(repo_open(dir, 1, &r, &e), 0);
	put_text(&r, z, hz);
	assert_int_equal(repo_flush(&r, &e), 0);
	memcpy(bb, hz, SHA256_LEN);
	bb[5] ^= 0x55; /* a 32-byte chunk close to hz's digest: the base */
	sha256(bb, SHA256_LEN, hb);
	assert_int_equal(repo_put(&r, hb, bb, SHA256_LEN, &e), 0);
	assert_int_equal(repo_flush(&r, &e), 0);
	/* a 32-byte data chunk holding the digest hz, a delta of bb */
	sha256(hz, SHA256_LEN, hd);
	assert_int_equal(repo_put_delta(&r, 0, hd, hz, SHA256_LEN, hb, bb,
					SHA256_LEN, &e), 0);
	assert_int_equal(repo_close(&r, &e), 0);

	assert_int_equal(repo_open(dir, STORE_EXCLUSIVE, &r, &e), 0);
	assert_true(repo_find(&r, hd)->flags & CHUNK_DELTA);
	/* a file of the one chunk z: its list segment is the delta hd */
	assert_int_equal(repo_put_list(&r, hz, 1, &segs, &e), 0);
	assert_memory_equal(segs.buf, hd, SHA256_LEN);
	assert_int_equal(repo_flush(&r, &e), 0);
	keep_and_gc(&r, (const uint8_t *)segs.buf, strlen(z), &m, &keep);
	assert_true(hashset_has(&keep, hd) && hashset_has(&keep, hz));
	assert_true(hashset_has(&keep, hb));
	assert_int_equal(repo_close(&r, &e), 0);

	assert_int_equal(repo_open(dir, 0, &r, &e), 0);
	assert_int_equal(mf_file_list(&r, &m.files[0], &out, &e), 0);
	assert_memory_equal(out.buf, hz, SHA256_LEN);
	repo_close(&r, NULL);
	manifest_release(&m);
	hashset_release(&keep);
	sb_release(&segs);
	sb_release(&out);
}

/* Read a pack's index, let edit change it, write it back with its checksum. */
static void edit_index(const char *pack, void (*edit)(uint8_t *p, size_t n),
		       int fix_sum)
{
	char path[512];
	uint8_t buf[4096];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/packs/%s.idx", dir, pack);
	f = fopen(path, "r+b");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf), f);
	edit(buf, n);
	if (fix_sum)
		sha256(buf, n - SHA256_LEN, buf + n - SHA256_LEN);
	rewind(f);
	assert_int_equal(fwrite(buf, 1, n, f), n);
	fclose(f);
}

static void flip_a_byte(uint8_t *p, size_t n)
{
	p[30] ^= 1;
}

/* The last frame's flags made ones no version has (its checksum made again). */
static void bad_last_flags(uint8_t *p, size_t n)
{
	uint64_t nf = load_u64(p + 8);

	assert_true(nf >= 2);
	store_u32(p + 24 + (nf - 1) * 12 + 8, 2);
}

/*
 * An index that cannot be read leaves the others read: its pack's chunks are
 * not found, and it is remembered (which prune refuses on). One whose
 * checksum matches but whose entries do not add up adds none of them.
 */
static void test_bad_index(void **state)
{
	struct repo r;
	struct cv_err e = { 0 };
	uint8_t a[SHA256_LEN], b[SHA256_LEN], c[SHA256_LEN];
	char pa[128], pb[128], path[512];
	struct hashset keep;
	struct gc_stats gs;

	(void)state;
	assert_int_equal(repo_open(dir, STORE_APPEND, &r, &e), 0);
	put_text(&r, "in the first pack", a);
	assert_int_equal(repo_flush(&r, &e), 0);
	snprintf(pa, sizeof(pa), "%s", r.packs[r.npacks - 1]);
	sha256("in lane 1", 9, b);
	assert_int_equal(repo_put_delta(&r, 1, b, "in lane 1", 9, NULL, NULL, 0, &e), 0);
	put_text(&r, "in the second pack, lane 0", c);
	assert_int_equal(repo_flush(&r, &e), 0);
	snprintf(pb, sizeof(pb), "%s", r.packs[r.npacks - 1]);
	assert_string_not_equal(pa, pb);
	repo_close(&r, NULL);

	edit_index(pb, flip_a_byte, 0);
	assert_int_equal(repo_open(dir, STORE_READ, &r, &e), 0);
	assert_int_equal(r.nbad, 1);
	assert_non_null(strstr(r.bad[0].err.msg, "checksum mismatch"));
	assert_non_null(repo_find(&r, a));
	assert_null(repo_find(&r, b));
	assert_int_equal(repo_indexes_ok(&r, &e), CV_ECORRUPT);
	assert_non_null(strstr(e.msg, pb));
	cv_err_clear(&e);
	assert_int_equal(repo_refresh(&r, &e), 0); /* not read again, nor twice */
	assert_int_equal(r.nbad, 1);
	repo_close(&r, NULL);
	/* gc itself refuses: what that pack holds is unknown */
	assert_int_equal(repo_open(dir, STORE_EXCLUSIVE, &r, &e), 0);
	hashset_init(&keep, SHA256_LEN);
	hashset_add(&keep, a);
	assert_int_equal(repo_gc(&r, &keep, 0, &gs, &e), CV_ECORRUPT);
	hashset_release(&keep);
	repo_close(&r, NULL);
	snprintf(path, sizeof(path), "%s/packs/%s.pack", dir, pb);
	assert_int_equal(access(path, F_OK), 0);

	edit_index(pb, flip_a_byte, 0); /* as it was */
	edit_index(pb, bad_last_flags, 1);
	assert_int_equal(repo_open(dir, STORE_READ, &r, &e), 0);
	assert_int_equal(r.nbad, 1);
	assert_non_null(strstr(r.bad[0].err.msg, "inconsistent entries"));
	assert_null(repo_find(&r, b));
	assert_null(repo_find(&r, c));
	assert_int_equal(r.npacks, 1);
	repo_close(&r, NULL);
}

static void test_cutter(void **state)
{
	struct cutter fixed = { 4096, 4096 }, alt = { 132, 1544 };

	(void)state;
	assert_int_equal(cutter_next(&fixed, 0, 10000), 4096);
	assert_int_equal(cutter_next(&fixed, 8192, 10000), 10000 - 8192);
	assert_int_equal(cutter_next(&alt, 0, 100000), 132);
	assert_int_equal(cutter_next(&alt, 132, 100000), 1544);
	assert_int_equal(cutter_next(&alt, 1676, 100000), 132);
	assert_int_equal(cutter_next(&alt, 1700, 100000), 132 - 24); /* mid-list */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_get_dedup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delta_base_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delta_in_open_pack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gc_keeps_frame_bases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gc_keeps_segment_base, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lists_and_snapshots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gc_keeps_what_is_asked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gc_after_interrupted_gc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gc_delta_after_base_moved, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_damaged_pack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unchecked_append, setup, teardown),
		cmocka_unit_test_setup_teardown(test_frame_cache_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delta_chunks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lanes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_patches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reads_version1_packs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_takeable, setup, teardown),
		cmocka_unit_test(test_manifest_required),
		cmocka_unit_test_setup_teardown(test_manifest_checksum, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk_after_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_index, setup, teardown),
		cmocka_unit_test(test_cutter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
