/*
 * `chromavault verify REPO [--read-data]`: every snapshot's chunks present,
 * every pack there; with --read-data every chunk read and re-hashed. A
 * problem is named by snapshot, file and offset.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "repo/manifest.h"
#include "repo/readback.h"
#include "repo/repo.h"
#include "repo/walk.h"
#include "util/progress.h"
#include "util/xalloc.h"
#include "util/banned.h"

enum { PACK_GONE = 1, PACK_UNREAD = 2 };

struct verify {
	struct repo r;
	int read_data;
	struct hashset seen;   /* chunks already checked */
	struct hashset bad;    /* of them, missing or damaged */
	struct hashset here;   /* bad ones this snapshot has met */
	struct hashset files;  /* files checked whole: list, size and sha256 */
	/*
	 * --read-data: per file of the snapshot, a byte per chunk, set for the
	 * chunks first met there, which that file's pass hashes
	 */
	struct strbuf *fresh;
	size_t nfresh;
	size_t again;          /* of them, reported under an earlier snapshot */
	const char *again_path; /* the first of them: its file and place */
	struct walk_at again_at;
	struct strbuf buf;
	uint8_t *pack_gone;    /* per pack: PACK_GONE, PACK_UNREAD or 0 */
	size_t problems;
	size_t damaged;        /* of them, damage found (not an I/O error) */
	size_t unsealed;       /* manifests written without a checksum */
	uint64_t chunks;
	struct progress prog;  /* --read-data: bytes of the snapshot's files */
	uint64_t done;
};

/*
 * Where a chunk is: its offset, or, after a chunk of unknown length (not in
 * the repository), its place in the list and the least offset it can have.
 */
static void print_at(const struct walk_at *at)
{
	if (at->off < 0)
		printf("chunk list");
	else if (at->exact)
		printf("offset %lld", at->off);
	else
		printf("chunk %zu, at or after offset %lld", at->idx, at->off);
}

static void problem(struct verify *v, const struct manifest *m,
		    const struct mf_file *f, const struct walk_at *at,
		    const char *what)
{
	v->problems++;
	printf("snapshot %s: %s%s", m->name, f->path, at->off < 0 ? ": " : " at ");
	print_at(at);
	printf(": %s\n", what);
}

/* Chunk idx of f is first met here: its file's pass hashes it. */
static void mark_fresh(struct verify *v, const struct manifest *m,
		       const struct mf_file *f, size_t idx)
{
	struct strbuf *fr = &v->fresh[f - m->files];

	if (fr->len <= idx) {
		sb_grow(fr, idx + 1 - fr->len);
		memset(fr->buf + fr->len, 0, idx + 1 - fr->len);
		fr->len = idx + 1;
	}
	fr->buf[idx] = 1;
}

static int check_chunk(void *ctx, const struct manifest *m,
		       const struct mf_file *f, const struct walk_at *at,
		       const uint8_t *hash, struct cv_err *e)
{
	struct verify *v = ctx;
	const struct chunk_loc *loc;
	struct cv_err ce = { 0 };
	char hex[2 * SHA256_LEN + 1];

	if (!hashset_add(&v->seen, hash)) {
		/* once a chunk a snapshot, and not where it was first reported */
		if (hashset_has(&v->bad, hash) && hashset_add(&v->here, hash) &&
		    !v->again++) {
			v->again_path = f->path;
			v->again_at = *at;
		}
		return 0;
	}
	v->chunks++;
	hex_encode(hash, SHA256_LEN, hex);
	loc = repo_find(&v->r, hash);
	if (!loc || (!v->read_data && loc->pack < v->r.npacks &&
		     v->pack_gone[loc->pack])) {
		char msg[200];

		if (!loc)
			snprintf(msg, sizeof(msg), "chunk %s%s is missing%s", hex,
				 at->base ? ", a base its delta frame is compressed "
					    "against," : "",
				 v->r.nbad ? " (or in a pack whose index cannot be "
					     "read, above)" : "");
		else if (v->pack_gone[loc->pack] == PACK_UNREAD)
			snprintf(msg, sizeof(msg), "chunk %s: its pack %s cannot be "
				 "read", hex, v->r.packs[loc->pack]);
		else
			snprintf(msg, sizeof(msg), "chunk %s: its pack %s is missing "
				 "or truncated", hex, v->r.packs[loc->pack]);
		problem(v, m, f, at, msg);
		if (!loc || v->pack_gone[loc->pack] != PACK_UNREAD)
			v->damaged++;
		hashset_add(&v->bad, hash);
		hashset_add(&v->here, hash);
		return 0;
	}
	if (v->read_data && at->off >= 0 && !at->base) {
		mark_fresh(v, m, f, at->idx); /* hashed by its file's pass */
		return 0;
	}
	if ((v->read_data || at->off < 0) && repo_get(&v->r, hash, &v->buf, &ce)) {
		problem(v, m, f, at, ce.msg);
		if (ce.code != CV_EIO)
			v->damaged++;
		hashset_add(&v->bad, hash);
		hashset_add(&v->here, hash);
	}
	return 0;
}

/* A chunk found bad by a file's pass or check: named, once. */
static void chunk_bad(struct verify *v, const struct manifest *m,
		      const struct mf_file *f, const struct walk_at *at,
		      const uint8_t *hash, const struct cv_err *ce)
{
	if (!hashset_add(&v->bad, hash))
		return; /* named already */
	hashset_add(&v->here, hash);
	problem(v, m, f, at, ce->msg);
	if (ce->code != CV_EIO)
		v->damaged++;
}

/* Whether f's chunk i is hashed on its own: first met in f. */
static int to_hash(const struct verify *v, const struct manifest *m,
		   const struct mf_file *f, size_t i)
{
	const struct strbuf *fr = &v->fresh[f - m->files];

	return i < fr->len && fr->buf[i];
}

/*
 * A file with a chunk missing or bad (named already): its other chunks
 * first met here hashed one by one, each named where it is.
 */
static void check_each(struct verify *v, const struct manifest *m,
		       const struct mf_file *f, const struct strbuf *list)
{
	struct walk_at at = { 0, 0, 1, 0 };
	const struct chunk_loc *loc;
	const uint8_t *h;
	struct cv_err ce;

	for (; at.idx < list->len / SHA256_LEN; at.idx++) {
		h = (const uint8_t *)list->buf + at.idx * SHA256_LEN;
		loc = repo_find(&v->r, h);
		cv_err_clear(&ce);
		if (to_hash(v, m, f, at.idx) && repo_get(&v->r, h, &v->buf, &ce))
			chunk_bad(v, m, f, &at, h, &ce);
		if (loc)
			at.off += loc->ulen;
		else
			at.exact = 0;
	}
}

/* 1 if one of the chunks of list is missing or known bad. */
static int has_bad(struct verify *v, const struct strbuf *list)
{
	const uint8_t *h;
	size_t i;

	for (i = 0; i < list->len / SHA256_LEN; i++) {
		h = (const uint8_t *)list->buf + i * SHA256_LEN;
		if (hashset_has(&v->bad, h) || !repo_find(&v->r, h))
			return 1;
	}
	return 0;
}

/* The file's size and SHA-256 against its manifest's, after a clean pass. */
static void check_sum(struct verify *v, const struct manifest *m,
		      const struct mf_file *f, const struct readback *rb)
{
	char want[2 * SHA256_LEN + 1], got[2 * SHA256_LEN + 1];

	hex_encode(rb->sha, SHA256_LEN, got);
	hex_encode(f->sha, SHA256_LEN, want);
	if (rb->size != f->size)
		printf("snapshot %s: %s: its chunks add up to %llu bytes, its manifest "
		       "records %llu\n", m->name, f->path, (unsigned long long)rb->size,
		       (unsigned long long)f->size);
	else if (memcmp(rb->sha, f->sha, SHA256_LEN))
		printf("snapshot %s: %s: its chunks' SHA-256 is %s, its manifest "
		       "records %s\n", m->name, f->path, got, want);
	if (rb->size != f->size || memcmp(rb->sha, f->sha, SHA256_LEN)) {
		v->problems++;
		v->damaged++;
	}
}

static void file_hashed(void *ctx, uint64_t bytes)
{
	struct verify *v = ctx;

	v->done += bytes;
	progress_update(&v->prog, v->done);
}

/*
 * One pass over the file (readback.h, on every core): each chunk
 * decompressed, those first met in this snapshot hashed on their own, and
 * the whole content hashed; each bad chunk named at its offset.
 */
static void read_file(struct verify *v, const struct manifest *m,
		      const struct mf_file *f, const struct strbuf *list)
{
	struct readback rb = { .r = &v->r, .keep_going = 1, .hashed = file_hashed,
			       .ctx = v };
	struct walk_at at = { 0, 0, 1, 0 };
	struct cv_err ce = { 0 };
	uint8_t *check;
	size_t i;

	rb.hashes = (const uint8_t *)list->buf;
	rb.n = list->len / SHA256_LEN;
	check = xcalloc(rb.n + 1, 1);
	for (i = 0; i < rb.n; i++)
		check[i] = (uint8_t)to_hash(v, m, f, i);
	rb.check = check;
	if (readback_run(&rb, &ce)) { /* not found (has_bad rules it out) */
		v->problems++;
		v->damaged++;
		printf("snapshot %s: %s: %s\n", m->name, f->path, ce.msg);
	}
	for (i = 0; !ce.code && i < rb.nfails; i++) {
		at.idx = rb.fails[i].idx;
		at.off = (long long)rb.fails[i].off;
		chunk_bad(v, m, f, &at, rb.hashes + at.idx * SHA256_LEN,
			  &rb.fails[i].err);
	}
	if (!ce.code && !rb.nfails)
		check_sum(v, m, f, &rb);
	readback_release(&rb);
	free(check);
}

/*
 * f's chunk list did not read now, though the walk may have read it (an
 * I/O error since): named, unless the walk named a segment of it already,
 * as its chunks were left for this pass to hash.
 */
static void list_failed(struct verify *v, const struct manifest *m,
			const struct mf_file *f, const struct cv_err *ce)
{
	size_t i;

	for (i = 0; i < f->nsegs; i++)
		if (hashset_has(&v->bad, f->segs + i * SHA256_LEN))
			return;
	for (i = 0; i < f->npsegs; i++)
		if (hashset_has(&v->bad, f->psegs + i * SHA256_LEN))
			return;
	printf("snapshot %s: %s: its chunk list: %s\n", m->name, f->path, ce->msg);
	v->problems++;
	if (ce->code != CV_EIO)
		v->damaged++;
}

/*
 * With --read-data: f's chunks read and, concatenated, its recorded size
 * and sha256 (what restore checks). A file with the same list, size and
 * hash as one checked before (unchanged between snapshots) is not read
 * again.
 */
static void check_whole(struct verify *v, const struct manifest *m,
			const struct mf_file *f)
{
	struct strbuf list = STRBUF_INIT;
	struct cv_err ce = { 0 };
	struct sha256 whole;
	uint8_t key[SHA256_LEN];

	if (mf_file_list(&v->r, f, &list, &ce)) {
		list_failed(v, m, f, &ce);
		goto out;
	}
	sha256_init(&whole);
	sha256_update(&whole, list.buf, list.len);
	sha256_update(&whole, f->sha, SHA256_LEN);
	sha256_update(&whole, &f->size, sizeof(f->size));
	sha256_final(&whole, key);
	if (!hashset_add(&v->files, key))
		goto out;
	if (has_bad(v, &list))
		check_each(v, m, f, &list);
	else
		read_file(v, m, f, &list);
out:
	sb_release(&list);
}

/* With --read-data: every file read whole, with progress on a terminal. */
static void check_files(struct verify *v, const struct manifest *m, size_t at,
			size_t of)
{
	char what[64];
	uint64_t total = 0, before;
	size_t i;

	if (!v->read_data)
		return;
	for (i = 0; i < m->n; i++)
		total += m->files[i].is_dir ? 0 : m->files[i].size;
	snprintf(what, sizeof(what), "verify %zu/%zu", at + 1, of);
	progress_init(&v->prog, what, total);
	v->done = 0;
	for (i = 0; i < m->n; i++) {
		if (m->files[i].is_dir)
			continue;
		before = v->done;
		check_whole(v, m, &m->files[i]);
		v->done = before + m->files[i].size; /* read or not */
		progress_update(&v->prog, v->done);
	}
	progress_end(&v->prog);
}

/*
 * A snapshot that shares bad chunks with one checked before it is named too,
 * once, so that every snapshot that cannot be restored is listed.
 */
static void report_again(struct verify *v, const struct manifest *m)
{
	if (!v->again)
		return;
	v->problems++;
	printf("snapshot %s: %zu chunk%s reported above, the first in %s ", m->name,
	       v->again, v->again == 1 ? "" : "s", v->again_path);
	if (v->again_at.off < 0)
		printf("(its chunk list)\n");
	else {
		printf("at ");
		print_at(&v->again_at);
		printf("\n");
	}
	v->again = 0;
}

/*
 * Whether pack i's index is gone too: a backup that fails beside verify
 * removes the packs it wrote (which no snapshot references), index first.
 */
static int index_gone(struct verify *v, size_t i)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/packs/%s.idx", v->r.st.root, v->r.packs[i]);
	return stat(path, &st) && errno == ENOENT;
}

/*
 * Indexes that could not be read: their packs' chunks are not found, and
 * each one a snapshot needs is named as missing.
 */
static void report_bad_indexes(struct verify *v)
{
	size_t i;

	for (i = 0; i < v->r.nbad; i++) {
		printf("%s: the chunks of its pack cannot be found\n",
		       v->r.bad[i].err.msg);
		v->problems++;
		if (v->r.bad[i].err.code != CV_EIO)
			v->damaged++;
	}
}

/* Without --read-data: each pack is there and long enough. */
static void check_packs(struct verify *v)
{
	uint64_t *need = xcalloc(v->r.npacks + 1, sizeof(uint64_t));
	char path[4096];
	struct stat st;
	size_t i;

	for (i = 0; i < v->r.n; i++) {
		const struct chunk_loc *l = &v->r.locs[i];

		if (l->pack < v->r.npacks && l->off + l->clen > need[l->pack])
			need[l->pack] = l->off + l->clen;
	}
	for (i = 0; i < v->r.npacks; i++) {
		snprintf(path, sizeof(path), "%s/packs/%s.pack", v->r.st.root, v->r.packs[i]);
		if (stat(path, &st)) {
			/* a chunk a snapshot needs in it is named */
			v->pack_gone[i] = errno == ENOENT ? PACK_GONE : PACK_UNREAD;
			if (errno != ENOENT) {
				printf("%s: cannot check: %s\n", path, strerror(errno));
				v->problems++;
				continue;
			}
			if (index_gone(v, i))
				continue; /* removed with its index by a failed backup */
			printf("%s: missing\n", path);
			v->problems++;
			v->damaged++;
		} else if ((uint64_t)st.st_size < need[i]) {
			printf("%s: truncated at %lld bytes, its index needs %llu\n", path,
			       (long long)st.st_size, (unsigned long long)need[i]);
			v->problems++;
			v->damaged++;
			v->pack_gone[i] = PACK_GONE;
		}
	}
	free(need);
}

/* A byte list per file of the next snapshot (n files), all clear. */
static void fresh_reset(struct verify *v, size_t n)
{
	size_t i;

	for (i = 0; i < v->nfresh; i++)
		sb_release(&v->fresh[i]);
	free(v->fresh);
	v->fresh = n ? xcalloc(n, sizeof(*v->fresh)) : NULL;
	v->nfresh = n;
}

static int verify_all(const char *path, int read_data, struct cv_err *e)
{
	struct verify v = { .read_data = read_data };
	struct manifest m;
	char **names = NULL;
	size_t n = 0, i;
	int rc;

	if ((rc = repo_open(path, STORE_READ, &v.r, e)))
		return rc;
	hashset_init(&v.seen, SHA256_LEN);
	hashset_init(&v.bad, SHA256_LEN);
	hashset_init(&v.here, SHA256_LEN);
	hashset_init(&v.files, SHA256_LEN);
	sb_init(&v.buf, 0);
	if (!(rc = repo_list_snapshots(&v.r, &names, &n, e)))
		rc = repo_refresh(&v.r, e); /* packs a backup beside added */
	v.pack_gone = xcalloc(v.r.npacks + 1, 1);
	if (!rc) {
		report_bad_indexes(&v);
		check_packs(&v);
	}
	for (i = 0; !rc && i < n; i++) {
		struct cv_err me = { 0 };

		if (manifest_load(&v.r, names[i], &m, &me)) {
			printf("%s\n", me.msg);
			v.problems++;
			if (me.code != CV_EIO)
				v.damaged++;
		} else {
			v.unsealed += !m.sealed;
			hashset_release(&v.here);
			hashset_init(&v.here, SHA256_LEN);
			fresh_reset(&v, m.n);
			rc = walk_snapshot(&v.r, &m, check_chunk, &v, 0, e);
			if (!rc)
				check_files(&v, &m, i, n);
			if (!rc)
				report_again(&v, &m);
		}
		manifest_release(&m);
	}
	if (!rc && v.unsealed) /* not a problem: they are as their backup wrote them */
		printf("%zu snapshot manifest%s no checksum (written before "
		       "version 3): read, not checked\n", v.unsealed,
		       v.unsealed == 1 ? " carries" : "s carry");
	if (!rc)
		printf("%zu snapshots, %zu packs, %llu chunks %s: %zu problems\n", n,
		       v.r.npacks, (unsigned long long)v.chunks,
		       read_data ? "read and hashed" : "present", v.problems);
	if (!rc && v.damaged)
		rc = cv_errf(e, CV_ECORRUPT, "%s: %zu problems found", path, v.problems);
	else if (!rc && v.problems) /* nothing known damaged, but not all read */
		rc = cv_errf(e, CV_EIO, "%s: %zu problems, each a read that failed "
			     "(above): not verified", path, v.problems);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	hashset_release(&v.seen);
	hashset_release(&v.bad);
	hashset_release(&v.here);
	hashset_release(&v.files);
	fresh_reset(&v, 0);
	sb_release(&v.buf);
	free(v.pack_gone);
	repo_close(&v.r, NULL);
	return rc;
}

static int verify_run(int argc, char **argv)
{
	static const char *const names[] = { "read-data", NULL };
	struct cv_err e = { 0 };
	int flags[1], rc;

	if ((rc = cli_flags(&cmd_verify, argc, argv, names, flags, 1, "REPO")) >= 0)
		return rc;
	if (verify_all(argv[optind], flags[0], &e))
		return cli_fail(&cmd_verify, &e);
	return 0;
}

const struct cli_cmd cmd_verify = {
	.name = "verify",
	.usage = "verify REPO [--read-data] [--lock-wait S]",
	.summary = "Check a repository: its indexes, every snapshot manifest's checksum,\n"
		   "that every pack is there, and that every chunk of every snapshot is\n"
		   "present. Each problem is printed with its snapshot, file and offset,\n"
		   "and every other snapshot that needs the same chunk is named too;\n"
		   "exit 3 when one is damaged or missing, 2 when what is left could not\n"
		   "be read (I/O errors).",
	.options = "  --read-data       also read every chunk, decompress it and check\n"
		   "                    its SHA-256, and check that each file's chunks\n"
		   "                    make its recorded size and SHA-256\n"
		   CLI_LOCK_WAIT_HELP,
	.run = verify_run,
	.lock_wait = 1,
};
