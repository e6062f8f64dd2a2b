/*
 * Backup repository (repo.h, docs/REPOSITORY.md): the chunk table, pack and
 * index writing, chunk reads with hash checks, chunk lists and manifests.
 */
#include "repo/repo.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "util/bytes.h"
#include "util/fsutil.h"
#include "util/xalloc.h"
#include "util/banned.h"

#define PACK_MAGIC "CVPACK01"
#define IDX_MAGIC_V1 "CVIDX001" /* 48-byte entries, one frame per chunk */
#define IDX_MAGIC "CVIDX002"
#define IDX_ENTRY_V1 48
#define IDX_FRAME 12          /* u32 compressed length, u32 chunks, u32 flags */
#define IDX_CHUNK 36          /* hash, u32 length */
#define MAX_FRAME_CHUNKS 4096
#define PACK_MAX (128ull << 20)
#define CHUNK_MAX (64u << 20)

/*
 * ---- the chunk table ----
 * Entries live in a dense array (locs, in the order they were added); an
 * open-addressing array of slots finds them: each slot holds 32 more bits of
 * the hash as a tag and the entry's index + 1 (0: empty), so a probe rarely
 * touches an entry that does not match, and growing moves 8 bytes a chunk.
 */

static uint32_t hash_tag(const uint8_t *hash)
{
	return load_u32(hash + 8);
}

/* The slot holding hash, or the empty slot where it would go. */
static size_t tab_slot(const struct repo *r, const uint8_t *hash)
{
	size_t i = (size_t)load_u64(hash) & (r->cap - 1);
	uint64_t tag = hash_tag(hash), s;

	while ((s = r->slots[i])) {
		if (s >> 32 == tag &&
		    !memcmp(r->locs[(uint32_t)s - 1].hash, hash, SHA256_LEN))
			break;
		i = (i + 1) & (r->cap - 1);
	}
	return i;
}

static void tab_grow(struct repo *r)
{
	size_t i;

	free(r->slots);
	r->cap = r->cap ? r->cap * 2 : 4096;
	r->slots = xcalloc(r->cap, sizeof(*r->slots));
	for (i = 0; i < r->n; i++)
		r->slots[tab_slot(r, r->locs[i].hash)] =
			(uint64_t)hash_tag(r->locs[i].hash) << 32 | (i + 1);
}

/* Room for n more entries without growing (indexes about to be read). */
static void tab_reserve(struct repo *r, size_t n)
{
	size_t want = r->n + n;

	if (want > r->capl) {
		r->capl = want;
		r->locs = xrealloc(r->locs, r->capl * sizeof(*r->locs));
	}
	while ((want + 1) * 2 > r->cap)
		tab_grow(r);
}

static struct chunk_loc *tab_add(struct repo *r, const struct chunk_loc *loc)
{
	size_t i;

	if ((r->n + 1) * 2 > r->cap)
		tab_grow(r);
	i = tab_slot(r, loc->hash);
	if (r->slots[i]) {
		struct chunk_loc *old = &r->locs[(uint32_t)r->slots[i] - 1];

		/* in two packs: the whole copy reads without a base */
		if (!(old->flags & CHUNK_DELTA) && (loc->flags & CHUNK_DELTA))
			return old;
		*old = *loc;
		return old;
	}
	if (r->n == r->capl) {
		r->capl = r->capl ? 2 * r->capl : 4096;
		r->locs = xrealloc(r->locs, r->capl * sizeof(*r->locs));
	}
	r->locs[r->n] = *loc;
	r->slots[i] = (uint64_t)hash_tag(loc->hash) << 32 | (r->n + 1);
	return &r->locs[r->n++];
}

static struct chunk_loc *tab_find(const struct repo *r, const uint8_t *hash)
{
	size_t i;

	if (!r->cap)
		return NULL;
	i = tab_slot(r, hash);
	return r->slots[i] ? &r->locs[(uint32_t)r->slots[i] - 1] : NULL;
}

const struct chunk_loc *repo_find(const struct repo *r,
				  const uint8_t hash[SHA256_LEN])
{
	return tab_find(r, hash);
}

static uint32_t add_pack_name(struct repo *r, const char *name)
{
	if (r->npacks == r->cappacks) {
		r->cappacks = r->cappacks ? 2 * r->cappacks : 16;
		r->packs = xrealloc(r->packs, r->cappacks * sizeof(*r->packs));
		r->pack_entries = xrealloc(r->pack_entries,
					   r->cappacks * sizeof(*r->pack_entries));
	}
	r->pack_entries[r->npacks] = 0;
	r->packs[r->npacks] = xstrdup(name);
	return (uint32_t)r->npacks++;
}

/* ---- indexes ---- */

/*
 * Version 1: 48-byte entries, each chunk its own frame. With r NULL only
 * checked.
 */
static int load_v1(struct repo *r, const uint8_t *p, size_t n, uint32_t pack)
{
	size_t count = (size_t)load_u64(p + 8), i;
	struct chunk_loc loc;

	if (count != (n - 16) / IDX_ENTRY_V1 || (n - 16) % IDX_ENTRY_V1)
		return -1;
	memset(&loc, 0, sizeof(loc));
	loc.pack = pack;
	for (i = 0, p += 16; i < count; i++, p += IDX_ENTRY_V1) {
		memcpy(loc.hash, p, SHA256_LEN);
		loc.off = load_u64(p + 32);
		loc.clen = load_u32(p + 40);
		loc.ulen = loc.fulen = load_u32(p + 44);
		if (r) {
			tab_add(r, &loc);
			r->pack_entries[pack]++;
		}
	}
	return 0;
}

/*
 * Version 2: frame entries, then chunk entries in frame order. With r NULL
 * only checked, so that an inconsistent index adds no entry at all.
 */
static int load_v2(struct repo *r, const uint8_t *p, size_t n, uint32_t pack)
{
	uint64_t nf = load_u64(p + 8), nc = load_u64(p + 16), off = 8, k = 0, content;
	const uint8_t *fr = p + 24, *ch = fr + nf * IDX_FRAME;
	struct chunk_loc loc;
	uint32_t cnt, flags, j, uoff;
	size_t f;

	if (nf > n / IDX_FRAME || nc > n / IDX_CHUNK ||
	    24 + nf * IDX_FRAME + nc * IDX_CHUNK != n)
		return -1;
	memset(&loc, 0, sizeof(loc));
	loc.pack = pack;
	for (f = 0; f < nf; f++, fr += IDX_FRAME) {
		loc.clen = load_u32(fr);
		cnt = load_u32(fr + 4);
		flags = load_u32(fr + 8);
		if (!cnt || cnt > MAX_FRAME_CHUNKS || cnt > nc - k || (flags & ~CHUNK_DELTA))
			return -1;
		loc.off = off;
		loc.flags = (uint16_t)flags;
		for (j = 0, content = 0; j < cnt; j++)
			content += load_u32(ch + (k + j) * IDX_CHUNK + SHA256_LEN);
		if (content > CHUNK_MAX)
			return -1;
		loc.fulen = (uint32_t)content;
		for (j = 0, uoff = 0; j < cnt; j++, k++) {
			memcpy(loc.hash, ch + k * IDX_CHUNK, SHA256_LEN);
			loc.ulen = load_u32(ch + k * IDX_CHUNK + SHA256_LEN);
			loc.uoff = uoff;
			loc.ord = (uint16_t)j;
			uoff += loc.ulen;
			if (r) {
				tab_add(r, &loc);
				r->pack_entries[pack]++;
			}
		}
		off += loc.clen;
	}
	return k == nc ? 0 : -1;
}

/* The index's bytes, checked: magic, checksum, consistent entries. */
static int read_index(struct repo *r, const char *name, uint8_t **buf,
		      size_t *n, struct cv_err *e)
{
	uint8_t sum[SHA256_LEN];
	int rc, v1;

	if ((rc = store_get(&r->st, name, 1u << 30, buf, n, e)))
		return rc;
	v1 = *n >= 8 && !memcmp(*buf, IDX_MAGIC_V1, 8);
	if (*n < 24 + SHA256_LEN || (!v1 && memcmp(*buf, IDX_MAGIC, 8))) {
		cv_errf(e, CV_ECORRUPT, "%s/%s: not a pack index", r->st.root, name);
		goto fail;
	}
	sha256(*buf, *n - SHA256_LEN, sum);
	if (memcmp(sum, *buf + *n - SHA256_LEN, SHA256_LEN)) {
		cv_errf(e, CV_ECORRUPT, "%s/%s: checksum mismatch", r->st.root, name);
		goto fail;
	}
	if (v1 ? load_v1(NULL, *buf, *n - SHA256_LEN, 0) :
		 load_v2(NULL, *buf, *n - SHA256_LEN, 0)) {
		cv_errf(e, CV_ECORRUPT, "%s/%s: inconsistent entries", r->st.root, name);
		goto fail;
	}
	return 0;
fail:
	free(*buf);
	*buf = NULL;
	return CV_ECORRUPT;
}

/*
 * The pack of the index name ("packs/NAME.idx") is there. A pack is renamed
 * into place before its index is written, and its index removed before it:
 * a pack missing beside its index is lost, unless the index went too
 * meanwhile (a failed backup's, removed: CV_ENOTFOUND). Its size is not
 * checked here (verify --read-data reads it).
 */
static int pack_there(struct repo *r, const char *name, struct cv_err *e)
{
	char pack[300];

	snprintf(pack, sizeof(pack), "%.*s.pack", (int)(strlen(name) - 4), name);
	if (store_may_exist(&r->st, pack))
		return 0;
	if (!store_may_exist(&r->st, name))
		return CV_ENOTFOUND;
	return cv_errf(e, CV_ECORRUPT, "%s/%s: missing, though its index is there",
		       r->st.root, pack);
}

static int load_index(struct repo *r, const char *file, struct cv_err *e)
{
	char name[256];
	uint8_t *buf;
	size_t n;
	uint32_t pack;
	int rc, v1;

	snprintf(name, sizeof(name), "packs/%s", file);
	if ((rc = read_index(r, name, &buf, &n, e)))
		return rc;
	if ((rc = pack_there(r, name, e))) {
		free(buf);
		return rc;
	}
	v1 = !memcmp(buf, IDX_MAGIC_V1, 8);
	name[strlen(name) - 4] = '\0'; /* drop ".idx" */
	pack = add_pack_name(r, strrchr(name, '/') + 1);
	rc = v1 ? load_v1(r, buf, n - SHA256_LEN, pack) :
		  load_v2(r, buf, n - SHA256_LEN, pack);
	free(buf);
	if (rc) /* v1 checks its count before adding; v2 was checked whole */
		return cv_errf(e, CV_ECORRUPT, "%s/%s.idx: inconsistent entries",
			       r->st.root, name);
	return 0;
}

static int is_bad_index(const struct repo *r, const char *file)
{
	size_t i;

	for (i = 0; i < r->nbad; i++)
		if (!strcmp(r->bad[i].name, file))
			return 1;
	return 0;
}

/*
 * Load one index; one that cannot be read is remembered (repo.h) and the
 * others are loaded: every chunk not in its pack is still found. One gone
 * since the listing was removed by a failed backup, with its pack.
 */
static void load_or_remember(struct repo *r, const char *file)
{
	struct cv_err ie = { 0 };
	int rc = load_index(r, file, &ie);

	if (!rc || rc == CV_ENOTFOUND)
		return;
	r->bad = xrealloc(r->bad, (r->nbad + 1) * sizeof(*r->bad));
	r->bad[r->nbad].name = xstrdup(file);
	r->bad[r->nbad++].err = ie;
}

static int load_indexes(struct repo *r, struct cv_err *e)
{
	char **names, path[300];
	uint64_t bytes = 0;
	size_t n, i;
	int rc;

	if ((rc = store_list(&r->st, "packs", ".idx", &names, &n, e)))
		return rc;
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "packs/%s", names[i]);
		bytes += store_size(&r->st, path);
	}
	tab_reserve(r, (size_t)(bytes / IDX_CHUNK)); /* at most this many entries */
	for (i = 0; i < n; i++) {
		load_or_remember(r, names[i]);
		free(names[i]);
	}
	free(names);
	return 0;
}

int repo_refresh(struct repo *r, struct cv_err *e)
{
	char **names;
	size_t n, i, k, len;
	int rc, known;

	if ((rc = store_list(&r->st, "packs", ".idx", &names, &n, e)))
		return rc;
	for (i = 0; i < n; i++) {
		len = strlen(names[i]) - 4; /* without ".idx" */
		for (known = 0, k = 0; !known && k < r->npacks; k++)
			known = strlen(r->packs[k]) == len &&
				!strncmp(r->packs[k], names[i], len);
		if (!known && !is_bad_index(r, names[i]))
			load_or_remember(r, names[i]);
		free(names[i]);
	}
	free(names);
	return 0;
}

int repo_indexes_ok(const struct repo *r, struct cv_err *e)
{
	if (!r->nbad)
		return 0;
	cv_errf(e, r->bad[0].err.code, "%s", r->bad[0].err.msg);
	if (r->nbad > 1)
		cv_err_prefix(e, "%zu pack indexes cannot be read, the first", r->nbad);
	return e->code;
}

int repo_indexes_needed(const struct repo *r, const char *refused,
			struct cv_err *e)
{
	struct cv_err ie = { 0 };
	int rc = repo_indexes_ok(r, &ie);

	if (rc)
		cv_errf(e, rc, "%s: %s: put back a good copy of it (verify names the "
			"snapshots that need its pack)", ie.msg, refused);
	return rc;
}

void repo_clean_leftovers(struct repo *r, void (*would)(const char *path))
{
	store_clean_tmp(&r->st, "packs", would);
	store_clean_tmp(&r->st, "snapshots", would);
	store_clean_tmp(&r->st, "cache", would);
	rm_prefixed(r->st.root, "staging.tmp.", would); /* a killed backup's copy */
}

/* ---- open, close ---- */

/* Whether the config in place holds text (this call's, by its random id). */
static int config_is(struct store *st, const char *text)
{
	struct cv_err ce = { 0 };
	uint8_t *buf;
	size_t n;
	int same;

	if (store_get(st, "config", 1 << 16, &buf, &n, &ce))
		return 0;
	same = n == strlen(text) && !memcmp(buf, text, n);
	free(buf);
	return same;
}

int repo_init(const char *path, int *made, struct cv_err *e)
{
	struct store st;
	uint8_t rnd[16];
	char hex[33], text[160];
	FILE *f = fopen("/dev/urandom", "rb");
	int rc;

	if (made)
		*made = 0;
	if (!f || fread(rnd, 1, sizeof(rnd), f) != sizeof(rnd)) {
		if (f)
			fclose(f);
		return cv_errno(e, CV_EIO, "/dev/urandom");
	}
	fclose(f);
	hex_encode(rnd, sizeof(rnd), hex);
	snprintf(text, sizeof(text), "{\"format\":\"chromavault-repository\","
		 "\"version\":%d,\"id\":\"%s\"}\n", REPO_VERSION, hex);
	if (!(rc = store_open(&st, path, 1, e)))
		rc = store_put(&st, "config", text, strlen(text), e);
	if (made) /* renamed in, maybe not synced: its random id says whose */
		*made = !rc || config_is(&st, text);
	store_close(&st);
	if (!rc && sync_parent(path)) /* the repository's own entry */
		rc = cv_errno(e, CV_EIO, "%s: cannot sync the folder holding it", path);
	return rc;
}

static int check_config(struct repo *r, struct cv_err *e)
{
	uint8_t *buf;
	size_t n;
	json_t *j;
	int rc, ok;

	if ((rc = store_get(&r->st, "config", 1 << 16, &buf, &n, e))) {
		cv_err_clear(e);
		return cv_errf(e, CV_ENOTFOUND, "%s: not a chromavault repository "
			       "(no config)", r->st.root);
	}
	j = json_loadb((const char *)buf, n, 0, NULL);
	ok = j && !strcmp(json_string_value(json_object_get(j, "format")) ?
			  json_string_value(json_object_get(j, "format")) : "",
			  "chromavault-repository");
	if (ok && json_integer_value(json_object_get(j, "version")) > REPO_VERSION)
		rc = cv_errf(e, CV_EUNSUP, "%s: repository version %lld is newer than "
			     "this chromavault (%d)", r->st.root,
			     (long long)json_integer_value(json_object_get(j, "version")),
			     REPO_VERSION);
	else if (!ok)
		rc = cv_errf(e, CV_ECORRUPT, "%s/config: not a chromavault "
			     "repository configuration", r->st.root);
	json_decref(j);
	free(buf);
	return rc;
}

void repo_reader_init(struct repo_reader *rd)
{
	size_t i;

	memset(rd, 0, sizeof(*rd));
	rd->dc = ZSTD_createDCtx();
	sb_init(&rd->zbuf, 0);
	sb_init(&rd->base, 0);
	sb_init(&rd->tmp, 0);
	for (i = 0; i < REPO_FRAME_CACHE; i++) {
		rd->fc[i].pack = UINT32_MAX;
		sb_init(&rd->fc[i].buf, 0);
	}
}

void repo_reader_release(struct repo_reader *rd)
{
	size_t i;

	store_readers_release(&rd->rds);
	ZSTD_freeDCtx(rd->dc);
	sb_release(&rd->zbuf);
	sb_release(&rd->base);
	sb_release(&rd->tmp);
	for (i = 0; i < REPO_FRAME_CACHE; i++)
		sb_release(&rd->fc[i].buf);
	memset(rd, 0, sizeof(*rd));
}

int repo_open(const char *path, enum store_mode mode, struct repo *r,
	      struct cv_err *e)
{
	int rc;

	memset(r, 0, sizeof(*r));
	r->pf.w.fd = -1;
	r->writable = mode != STORE_READ;
	r->level = 1;
	sb_init(&r->idx, 0);
	sb_init(&r->idx_frames, 0);
	repo_reader_init(&r->rd);
	hashset_init(&r->frames_ok, FRAME_KEY);
	hashset_init(&r->frames_bad, FRAME_KEY);
	if ((rc = store_open(&r->st, path, 0, e)) || (rc = check_config(r, e)) ||
	    (rc = store_lock(&r->st, mode, e)) || (rc = load_indexes(r, e)))
		goto fail;
	if (!r->cap)
		tab_grow(r);
	r->first_new = r->npacks;
	return 0;
fail:
	repo_close(r, NULL);
	return rc;
}

int repo_close(struct repo *r, struct cv_err *e)
{
	size_t i;
	int rc = 0;

	if (e && r->writable)
		rc = repo_flush(r, e); /* chunks still in a batch too */
	if (r->pack_open)
		store_abort(&r->pf);
	for (i = 0; i < r->npacks; i++)
		free(r->packs[i]);
	for (i = 0; i < r->nbad; i++)
		free(r->bad[i].name);
	free(r->bad);
	free(r->packs);
	free(r->pack_entries);
	free(r->locs);
	free(r->slots);
	free(r->moves);
	hashset_release(&r->frames_ok);
	hashset_release(&r->frames_bad);
	sb_release(&r->idx);
	sb_release(&r->idx_frames);
	repo_reader_release(&r->rd);
	for (i = 0; i < REPO_LANES; i++)
		if (r->cur[i])
			zpool_release(r->zp, r->cur[i]);
	zpool_free(r->zp);
	store_close(&r->st);
	memset(r, 0, sizeof(*r));
	return rc;
}

/* ---- writing packs ---- */

static int pack_start(struct repo *r, struct cv_err *e)
{
	int rc = store_create(&r->st, "packs/new.pack", &r->pf, e);

	if (rc)
		return rc;
	sb_reset(&r->idx);
	sb_reset(&r->idx_frames);
	r->pack_chunks = r->pack_frames = 0;
	r->pack_open = 1;
	add_pack_name(r, "(open)");
	return store_append(&r->pf, PACK_MAGIC, 8, e);
}

static void idx_frame(struct repo *r, uint32_t clen, uint32_t count,
		      uint32_t flags)
{
	uint8_t p[IDX_FRAME];

	store_u32(p, clen);
	store_u32(p + 4, count);
	store_u32(p + 8, flags);
	sb_add(&r->idx_frames, p, IDX_FRAME);
	r->pack_frames++;
}

static void idx_chunk(struct repo *r, const struct chunk_loc *loc)
{
	uint8_t p[IDX_CHUNK];

	memcpy(p, loc->hash, SHA256_LEN);
	store_u32(p + SHA256_LEN, loc->ulen);
	sb_add(&r->idx, p, IDX_CHUNK);
	r->pack_chunks++;
}

void repo_set_compression(struct repo *r, int level, int threads)
{
	r->level = level;
	zpool_free(r->zp);
	r->zp = zpool_new(threads, level);
}

static int pack_finish(struct repo *r, struct cv_err *e);

static void defer_move(struct repo *r, size_t i, const struct chunk_loc *nl)
{
	if (r->nmoves == r->capmoves) {
		r->capmoves = r->capmoves ? 2 * r->capmoves : 1024;
		r->moves = xrealloc(r->moves, r->capmoves * sizeof(*r->moves));
	}
	r->moves[r->nmoves].i = i;
	r->moves[r->nmoves++].loc = *nl;
}

/* Append a compressed batch to the pack, frame by frame. */
static int append_batch(struct repo *r, struct zbatch *b, struct cv_err *e)
{
	struct chunk_loc *loc, nl;
	const struct zitem *it;
	uint64_t frame_off = 0;
	size_t i;
	int rc;

	if (b->err[0])
		return cv_errf(e, CV_EIO, "%s", b->err);
	for (i = 0; i < b->n; i++) {
		it = &b->it[i];
		if (!it->ord) { /* a frame starts */
			if (r->pack_open && r->pf.w.size >= PACK_MAX &&
			    (rc = pack_finish(r, e)))
				return rc;
			if (!r->pack_open && (rc = pack_start(r, e)))
				return rc;
			frame_off = r->pf.w.size;
			if ((rc = store_append(&r->pf, b->out.buf + it->ooff, it->olen, e)))
				return rc;
			r->stats.bytes_stored += it->olen;
			idx_frame(r, (uint32_t)it->olen, it->count,
				  it->delta ? CHUNK_DELTA : 0);
		}
		loc = tab_find(r, it->hash);
		nl = *loc;
		nl.pack = (uint32_t)(r->npacks - 1);
		r->pack_entries[nl.pack]++;
		nl.off = frame_off;
		nl.clen = (uint32_t)it->olen;
		nl.uoff = it->uoff;
		nl.fulen = it->fulen;
		nl.flags = it->delta ? CHUNK_DELTA : 0;
		nl.ord = (uint16_t)it->ord;
		idx_chunk(r, &nl);
		if (loc->pack == PACK_PENDING)
			*loc = nl; /* new: nowhere else to read it from */
		else
			defer_move(r, (size_t)(loc - r->locs), &nl);
	}
	return 0;
}

/* Write out compressed batches, oldest first; all of them when wait. */
static int collect(struct repo *r, int wait, struct cv_err *e)
{
	struct zbatch *b;
	int rc = 0;

	while ((b = zpool_oldest(r->zp, wait))) {
		if (!rc)
			rc = append_batch(r, b, e);
		zpool_release(r->zp, b);
	}
	return rc;
}

static int submit(struct repo *r, unsigned lane, struct cv_err *e)
{
	struct zbatch *b = r->cur[lane];

	r->cur[lane] = NULL;
	if (!b)
		return 0;
	if (!b->n) {
		zpool_release(r->zp, b);
		return 0;
	}
	zpool_submit(r->zp, b);
	return collect(r, 0, e);
}

/*
 * Vectors, float32, gain about 10% at level 1 and 1.5% at -1, which
 * compresses them three times as fast and decompresses them six times as
 * fast (zstd -b on a 100,000 × 384 data_level0.bin: 370 against 1,260 MB/s).
 */
#define VECTOR_LEVEL (-1)

/*
 * A batch with room in lane, collecting compressed ones while all are in
 * flight (the pool has more batches than there are lanes); vector lanes at
 * VECTOR_LEVEL.
 */
static int current_batch(struct repo *r, unsigned lane, struct cv_err *e)
{
	int rc;

	if (!r->zp)
		repo_set_compression(r, r->level, -1);
	while (!r->cur[lane] && !(r->cur[lane] = zpool_batch(r->zp)))
		if ((rc = collect(r, 1, e)))
			return rc;
	if (lane == REPO_LANE_VECTORS && r->level <= 1)
		r->cur[lane]->level = VECTOR_LEVEL;
	return 0;
}

static int submit_if_full(struct repo *r, unsigned lane, struct cv_err *e)
{
	const struct zbatch *b = r->cur[lane];

	if (b->in.len + b->bases.len >= ZBATCH_BYTES || b->n >= ZBATCH_ITEMS)
		return submit(r, lane, e);
	return 0;
}

/* Record a chunk just added to the batch; submit the batch when full. */
static int added(struct repo *r, unsigned lane, const uint8_t *hash, size_t n,
		 struct cv_err *e)
{
	struct chunk_loc loc;

	memset(&loc, 0, sizeof(loc));
	memcpy(loc.hash, hash, SHA256_LEN);
	loc.pack = PACK_PENDING;
	loc.ulen = (uint32_t)n;
	tab_add(r, &loc);
	r->stats.chunks_new++;
	r->stats.bytes_new += n;
	return submit_if_full(r, lane, e);
}

void repo_frame_key(const struct chunk_loc *loc, uint8_t key[FRAME_KEY])
{
	uint64_t x = loc->off ^ (uint64_t)loc->pack << 40;

	x += 0x9e3779b97f4a7c15ull; /* splitmix64: the first 8 bytes pick a slot */
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	x ^= x >> 31;
	memset(key, 0, FRAME_KEY);
	memcpy(key, &x, 8);
	memcpy(key + 8, &loc->pack, 4);
	memcpy(key + 16, &loc->off, 8);
}

/*
 * The base hashes of loc's delta frame, every chunk's, in chunk order, into
 * out (replacing it): the frame decompresses only with all of them.
 */
static int frame_bases(struct repo *r, struct store_readers *rs,
		       const struct chunk_loc *loc, struct strbuf *out,
		       struct cv_err *e)
{
	char name[256];
	uint8_t cnt[4];
	uint32_t n;
	int rc;

	snprintf(name, sizeof(name), "packs/%s.pack", r->packs[loc->pack]);
	sb_reset(out);
	if ((rc = store_pread_in(&r->st, rs, name, loc->off, cnt, 4, e)))
		return rc;
	n = load_u32(cnt);
	if (n <= loc->ord || n > MAX_FRAME_CHUNKS ||
	    4 + (size_t)n * SHA256_LEN > loc->clen)
		return cv_errf(e, CV_ECORRUPT, "%s/%s: offset %llu: bad delta frame "
			       "header", r->st.root, name, (unsigned long long)loc->off);
	sb_grow(out, (size_t)n * SHA256_LEN);
	if ((rc = store_pread_in(&r->st, rs, name, loc->off + 4, out->buf,
				 (size_t)n * SHA256_LEN, e)))
		return rc;
	sb_setlen(out, (size_t)n * SHA256_LEN);
	return 0;
}

int repo_delta_bases(struct repo *r, const struct chunk_loc *loc,
		     struct strbuf *out, struct cv_err *e)
{
	return frame_bases(r, &r->rd.rds, loc, out, e);
}

/* Whether every base of loc's delta frame is in the repository, whole. */
static int bases_present(struct repo *r, const struct chunk_loc *loc)
{
	struct cv_err ignored = { 0 };
	struct strbuf head = STRBUF_INIT;
	const struct chunk_loc *bl;
	size_t i;
	int ok = !frame_bases(r, &r->rd.rds, loc, &head, &ignored);

	for (i = 0; ok && i < head.len / SHA256_LEN; i++) {
		bl = repo_find(r, (const uint8_t *)head.buf + i * SHA256_LEN);
		ok = bl && !(bl->flags & CHUNK_DELTA);
	}
	sb_release(&head);
	cv_err_clear(&ignored);
	return ok;
}

int repo_readable(struct repo *r, const struct chunk_loc *loc)
{
	uint8_t key[FRAME_KEY];
	int ok;

	if (!loc || !(loc->flags & CHUNK_DELTA) || loc->pack == PACK_PENDING ||
	    loc->pack >= r->first_new)
		return loc != NULL; /* written by this handle, its bases checked */
	repo_frame_key(loc, key);
	if (hashset_has(&r->frames_ok, key))
		return 1;
	if (hashset_has(&r->frames_bad, key))
		return 0;
	ok = bases_present(r, loc);
	hashset_add(ok ? &r->frames_ok : &r->frames_bad, key);
	return ok;
}

int repo_can_be_base(const struct repo *r, const uint8_t hash[SHA256_LEN])
{
	const struct chunk_loc *bl = repo_find(r, hash);

	return bl && bl->pack != PACK_PENDING && !(bl->flags & CHUNK_DELTA);
}

/* A chunk not in the repository yet: counted, checked, batched. */
static int put_new(struct repo *r, unsigned lane, const uint8_t hash[SHA256_LEN],
		   const void *p, size_t n, const uint8_t *base, const void *bp,
		   size_t bn, struct cv_err *e)
{
	int rc;

	if (n > CHUNK_MAX)
		return cv_errf(e, CV_EUSAGE, "chunk of %zu bytes is too large", n);
	if ((rc = current_batch(r, lane, e)))
		return rc;
	if (base) {
		zpool_add_delta(r->cur[lane], hash, p, n, base, bp, bn);
		r->stats.chunks_delta++;
	} else {
		zpool_add(r->cur[lane], hash, p, n);
	}
	return added(r, lane, hash, n, e);
}

int repo_put(struct repo *r, const uint8_t hash[SHA256_LEN], const void *p,
	     size_t n, struct cv_err *e)
{
	return repo_put_delta(r, 0, hash, p, n, NULL, NULL, 0, e);
}

int repo_put_delta(struct repo *r, unsigned lane, const uint8_t hash[SHA256_LEN],
		   const void *p, size_t n, const uint8_t *base,
		   const void *bp, size_t bn, struct cv_err *e)
{
	r->stats.chunks_seen++;
	r->stats.bytes_seen += n;
	if (repo_readable(r, repo_find(r, hash)))
		return 0; /* else new, or a delta whose base is gone: stored again */
	if (base && !repo_can_be_base(r, base))
		base = NULL;
	return put_new(r, lane % REPO_LANES, hash, p, n, base, bp, bn, e);
}

int repo_flush(struct repo *r, struct cv_err *e)
{
	unsigned lane;
	int rc = 0;

	if (r->zp) {
		for (lane = 0; !rc && lane < REPO_LANES; lane++)
			rc = submit(r, lane, e);
		if (!rc)
			rc = collect(r, 1, e);
	}
	return rc ? rc : pack_finish(r, e);
}

/*
 * Close the open pack: named by the SHA-256 of its index (every chunk's hash
 * and place), renamed into place, then its index written.
 */
static int pack_finish(struct repo *r, struct cv_err *e)
{
	uint8_t sum[SHA256_LEN], head[24];
	char hex[2 * SHA256_LEN + 1], name[256];
	struct strbuf idx = STRBUF_INIT;
	size_t i;
	int rc;

	if (!r->pack_open)
		return 0;
	r->pack_open = 0;
	memcpy(head, IDX_MAGIC, sizeof(IDX_MAGIC) - 1);
	memcpy(head + 8, &r->pack_frames, 8);
	memcpy(head + 16, &r->pack_chunks, 8);
	sb_add(&idx, head, 24);
	sb_add(&idx, r->idx_frames.buf, r->idx_frames.len);
	sb_add(&idx, r->idx.buf, r->idx.len);
	sha256(idx.buf, idx.len, sum);
	hex_encode(sum, SHA256_LEN, hex);
	snprintf(name, sizeof(name), "packs/%s.pack", hex);
	free(r->packs[r->npacks - 1]); /* named even if the commit fails after */
	r->packs[r->npacks - 1] = xstrdup(hex); /* its rename: discard finds it */
	if ((rc = store_commit(&r->st, &r->pf, name, e))) {
		r->nmoves = 0; /* the chunks stay where they were */
		sb_release(&idx);
		return rc;
	}
	sb_add(&idx, sum, SHA256_LEN);
	snprintf(name, sizeof(name), "packs/%s.idx", hex);
	rc = store_put(&r->st, name, idx.buf, idx.len, e);
	sb_release(&idx);
	for (i = 0; !rc && i < r->nmoves; i++) /* the pack can be read now */
		r->locs[r->moves[i].i] = r->moves[i].loc;
	r->nmoves = 0;
	return rc;
}

/* ---- reading ---- */

int repo_delta_base(struct repo *r, const struct chunk_loc *loc,
		    uint8_t base[SHA256_LEN], struct cv_err *e)
{
	char name[256];

	snprintf(name, sizeof(name), "packs/%s.pack", r->packs[loc->pack]);
	return store_pread_in(&r->st, &r->rd.rds, name,
			      loc->off + 4 + (uint64_t)loc->ord * SHA256_LEN, base,
			      SHA256_LEN, e);
}

/*
 * A delta frame's header (u32 count, then a base hash per chunk) and its
 * bases' contents, concatenated into rd->base; *skip is the header's size.
 */
static int load_bases(struct repo *r, struct repo_reader *rd,
		      const struct chunk_loc *loc, size_t *skip,
		      struct cv_err *e)
{
	struct strbuf head = STRBUF_INIT;
	const struct chunk_loc *bl;
	char hex[2 * SHA256_LEN + 1];
	size_t n, i;
	int rc = frame_bases(r, &rd->rds, loc, &head, e);

	n = rc ? 0 : head.len / SHA256_LEN;
	sb_reset(&rd->base);
	for (i = 0; !rc && i < n; i++) {
		const uint8_t *h = (const uint8_t *)head.buf + i * SHA256_LEN;

		bl = repo_find(r, h);
		hex_encode(h, SHA256_LEN, hex);
		if (!bl || (bl->flags & CHUNK_DELTA))
			rc = cv_errf(e, CV_ECORRUPT, "%s/packs/%s.pack: offset %llu: base "
				     "chunk %s %s", r->st.root, r->packs[loc->pack],
				     (unsigned long long)loc->off, hex, bl ?
				     "is a delta itself" : "is not in the repository");
		else if ((rc = repo_get_in(r, rd, h, &rd->tmp, e)))
			cv_err_prefix(e, "base chunk %s", hex);
		else
			sb_add(&rd->base, rd->tmp.buf, rd->tmp.len);
	}
	*skip = 4 + n * SHA256_LEN;
	sb_release(&head);
	return rc;
}

/* Before slot keep is filled: the large frames of the other slots let go. */
static void drop_large_frames(struct repo_reader *rd, const struct frame_cache *keep)
{
	size_t i;

	for (i = 0; i < REPO_FRAME_CACHE; i++)
		if (&rd->fc[i] != keep && rd->fc[i].buf.alloc > REPO_FRAME_KEEP) {
			sb_release(&rd->fc[i].buf);
			rd->fc[i].pack = UINT32_MAX;
		}
}

/* The decompressed content of loc's frame, from the cache or the pack. */
static int load_frame(struct repo *r, struct repo_reader *rd,
		      const struct chunk_loc *loc, const struct strbuf **out,
		      struct cv_err *e)
{
	struct frame_cache *fc;
	char name[256];
	size_t i, d, skip = 0;
	int rc;

	for (i = 0; i < REPO_FRAME_CACHE; i++)
		if (rd->fc[i].pack == loc->pack && rd->fc[i].off == loc->off) {
			*out = &rd->fc[i].buf;
			return 0;
		}
	snprintf(name, sizeof(name), "packs/%s.pack", r->packs[loc->pack]);
	rc = loc->flags & CHUNK_DELTA ? load_bases(r, rd, loc, &skip, e) : 0;
	fc = &rd->fc[rd->fc_next++ % REPO_FRAME_CACHE];
	drop_large_frames(rd, fc);
	fc->pack = UINT32_MAX;
	sb_reset(&rd->zbuf);
	sb_grow(&rd->zbuf, loc->clen);
	if (!rc)
		rc = store_pread_in(&r->st, &rd->rds, name, loc->off, rd->zbuf.buf,
				    loc->clen, e);
	if (rc == CV_ENOTFOUND) {
		cv_err_clear(e);
		return cv_errf(e, CV_ECORRUPT, "%s/%s: missing", r->st.root, name);
	}
	if (rc)
		return rc;
	sb_reset(&fc->buf);
	sb_grow(&fc->buf, loc->fulen);
	ZSTD_DCtx_reset(rd->dc, ZSTD_reset_session_and_parameters);
	if (skip)
		ZSTD_DCtx_refPrefix(rd->dc, rd->base.buf, rd->base.len);
	d = ZSTD_decompressDCtx(rd->dc, fc->buf.buf, loc->fulen, rd->zbuf.buf + skip,
				loc->clen - skip);
	if (ZSTD_isError(d) || d != loc->fulen)
		return cv_errf(e, CV_ECORRUPT, "%s/%s: offset %llu: frame does not "
			       "decompress (%s)", r->st.root, name,
			       (unsigned long long)loc->off,
			       ZSTD_isError(d) ? ZSTD_getErrorName(d) : "wrong length");
	sb_setlen(&fc->buf, d);
	fc->pack = loc->pack;
	fc->off = loc->off;
	*out = &fc->buf;
	return 0;
}

int repo_get(struct repo *r, const uint8_t hash[SHA256_LEN],
	     struct strbuf *out, struct cv_err *e)
{
	return repo_get_in(r, &r->rd, hash, out, e);
}

int repo_get_in(struct repo *r, struct repo_reader *rd,
		const uint8_t hash[SHA256_LEN], struct strbuf *out,
		struct cv_err *e)
{
	sb_reset(out);
	return repo_append_in(r, rd, hash, out, e);
}

int repo_append_in(struct repo *r, struct repo_reader *rd,
		   const uint8_t hash[SHA256_LEN], struct strbuf *out,
		   struct cv_err *e)
{
	return repo_append_at(r, rd, repo_find(r, hash), hash, out, e);
}

static int append_chunk(struct repo *r, struct repo_reader *rd,
			const struct chunk_loc *loc, const uint8_t hash[SHA256_LEN],
			int check, struct strbuf *out, struct cv_err *e)
{
	const struct strbuf *frame = NULL;
	char hex[2 * SHA256_LEN + 1];
	uint8_t sum[SHA256_LEN];
	int rc = 0;

	if (!loc || loc->pack == PACK_PENDING)
		rc = cv_errf(e, CV_ECORRUPT, "not in the repository");
	else if (!(rc = load_frame(r, rd, loc, &frame, e))) {
		if (check)
			sha256(frame->buf + loc->uoff, loc->ulen, sum);
		if (check && memcmp(sum, hash, SHA256_LEN))
			rc = cv_errf(e, CV_ECORRUPT, "%s/packs/%s.pack: offset %llu: "
				     "wrong content", r->st.root, r->packs[loc->pack],
				     (unsigned long long)loc->off);
		else
			sb_add(out, frame->buf + loc->uoff, loc->ulen);
	}
	if (rc) {
		hex_encode(hash, SHA256_LEN, hex);
		cv_err_prefix(e, "chunk %s", hex);
	}
	return rc;
}

int repo_append_at(struct repo *r, struct repo_reader *rd,
		   const struct chunk_loc *loc, const uint8_t hash[SHA256_LEN],
		   struct strbuf *out, struct cv_err *e)
{
	return append_chunk(r, rd, loc, hash, 1, out, e);
}

int repo_append_unchecked(struct repo *r, struct repo_reader *rd,
			  const struct chunk_loc *loc,
			  const uint8_t hash[SHA256_LEN], struct strbuf *out,
			  struct cv_err *e)
{
	return append_chunk(r, rd, loc, hash, 0, out, e);
}

/* ---- chunk lists ---- */

int repo_put_list(struct repo *r, const uint8_t *hashes, size_t n,
		  struct strbuf *segs, struct cv_err *e)
{
	uint8_t sum[SHA256_LEN];
	size_t i, k;
	int rc;

	for (i = 0; i < n; i += REPO_LIST_SEGMENT) {
		k = n - i < REPO_LIST_SEGMENT ? n - i : REPO_LIST_SEGMENT;
		sha256(hashes + i * SHA256_LEN, k * SHA256_LEN, sum);
		if ((rc = repo_put(r, sum, hashes + i * SHA256_LEN, k * SHA256_LEN, e)))
			return rc;
		sb_add(segs, sum, SHA256_LEN);
	}
	return 0;
}

int repo_get_list(struct repo *r, const uint8_t *segs, size_t nsegs,
		  struct strbuf *out, struct cv_err *e)
{
	struct strbuf seg = STRBUF_INIT;
	size_t i;
	int rc = 0;

	for (i = 0; !rc && i < nsegs; i++) {
		rc = repo_get(r, segs + i * SHA256_LEN, &seg, e);
		if (!rc && seg.len % SHA256_LEN)
			rc = cv_errf(e, CV_ECORRUPT, "chunk list segment %zu has a "
				     "partial entry", i);
		if (!rc)
			sb_add(out, seg.buf, seg.len);
	}
	sb_release(&seg);
	return rc;
}

/* ---- manifests ---- */

/*
 * A manifest's checksum (version 3) is its first member, over every byte
 * after it: the file stays one JSON object, and the bytes hashed are the
 * bytes read, with nothing to canonicalise.
 */
#define SEAL_HEAD "{\"manifest_sha256\":\""
#define SEAL_LEN (sizeof(SEAL_HEAD) - 1 + 2 * SHA256_LEN + 2) /* hex, then "," */

int repo_put_snapshot(struct repo *r, const char *name, const char *json,
		      struct cv_err *e)
{
	struct strbuf sb = STRBUF_INIT;
	char path[256], hex[2 * SHA256_LEN + 1];
	uint8_t sum[SHA256_LEN];
	size_t n = strlen(json);
	int rc;

	/* an object with a member, compact: what follows its "{" is sealed */
	if (n < 2 || json[0] != '{' || json[1] != '"')
		return cv_errf(e, CV_EUSAGE, "snapshot %s: the manifest does not "
			       "begin with a member", name);
	sha256(json + 1, n - 1, sum);
	hex_encode(sum, SHA256_LEN, hex);
	sb_grow(&sb, SEAL_LEN + n);
	sb_adds(&sb, SEAL_HEAD);
	sb_adds(&sb, hex);
	sb_adds(&sb, "\",");
	sb_add(&sb, json + 1, n - 1);
	snprintf(path, sizeof(path), "snapshots/%s.json", name);
	rc = store_put(&r->st, path, sb.buf, sb.len, e);
	sb_release(&sb);
	return rc;
}

int repo_snapshot_sealed(const char *text, int *sealed)
{
	const char *at = text + sizeof(SEAL_HEAD) - 1;
	char hex[2 * SHA256_LEN + 1];
	uint8_t sum[SHA256_LEN], want[SHA256_LEN];

	*sealed = !strncmp(text, SEAL_HEAD, sizeof(SEAL_HEAD) - 1);
	if (!*sealed)
		return 0;
	if (strnlen(text, SEAL_LEN) < SEAL_LEN ||
	    memcmp(at + 2 * SHA256_LEN, "\",", 2))
		return CV_ECORRUPT;
	memcpy(hex, at, 2 * SHA256_LEN);
	hex[2 * SHA256_LEN] = '\0';
	if (hex_decode(hex, want, SHA256_LEN))
		return CV_ECORRUPT;
	sha256(text + SEAL_LEN, strlen(text + SEAL_LEN), sum);
	return memcmp(sum, want, SHA256_LEN) ? CV_ECORRUPT : 0;
}

int repo_list_snapshots(struct repo *r, char ***names, size_t *n,
			struct cv_err *e)
{
	size_t i;
	int rc = store_list(&r->st, "snapshots", ".json", names, n, e);

	for (i = 0; !rc && i < *n; i++)
		(*names)[i][strlen((*names)[i]) - 5] = '\0';
	return rc;
}

int repo_get_snapshot(struct repo *r, const char *name, char **json,
		      struct cv_err *e)
{
	char path[256];
	uint8_t *buf;
	size_t n;
	int rc;

	snprintf(path, sizeof(path), "snapshots/%s.json", name);
	rc = store_get(&r->st, path, 1u << 30, &buf, &n, e);
	if (rc == CV_ENOTFOUND) {
		cv_err_clear(e);
		return cv_errf(e, CV_ENOTFOUND, "%s: no snapshot %s", r->st.root, name);
	}
	*json = (char *)buf;
	if (!rc)
		(*json)[n] = '\0';
	return rc;
}

/* ---- garbage collection ---- */

/*
 * Store a kept chunk again, whole, in a new pack: its frame may hold chunks
 * that are not kept. Its table entry is updated in place once written (the
 * table does not grow).
 */
static int store_again(struct repo *r, struct chunk_loc *loc, struct strbuf *buf,
		       struct cv_err *e)
{
	int rc;

	if ((rc = repo_get(r, loc->hash, buf, e)) || (rc = current_batch(r, 0, e)))
		return rc;
	/* loc keeps its old place, still readable (a delta's base may be read
	 * later in this loop), until the pack it is written to is finished */
	zpool_add(r->cur[0], loc->hash, buf->buf, buf->len);
	return submit_if_full(r, 0, e);
}

/*
 * Per pack, its kept chunks and all its entries. A chunk in two packs (a
 * killed prune's copies) is found in one of them only; the other's entry
 * counts but is never kept, so that pack is rewritten or removed too.
 */
static void pack_counts(const struct repo *r, const struct hashset *keep,
			size_t *kept, size_t *total)
{
	size_t i;

	for (i = 0; i < r->npacks; i++)
		total[i] = r->pack_entries[i];
	for (i = 0; i < r->n; i++)
		if (r->locs[i].pack < r->npacks)
			kept[r->locs[i].pack] += hashset_has(keep, r->locs[i].hash);
}

static int remove_pack(struct repo *r, const char *name, struct cv_err *e)
{
	char p[256];
	int rc;

	snprintf(p, sizeof(p), "packs/%s.idx", name);
	if ((rc = store_remove(&r->st, p, e)))
		return rc;
	snprintf(p, sizeof(p), "packs/%s.pack", name);
	return store_remove(&r->st, p, e);
}

void repo_discard_new(struct repo *r)
{
	struct cv_err ignored = { 0 };
	size_t i;

	if (r->pack_open) {
		store_abort(&r->pf);
		r->pack_open = 0;
	}
	for (i = r->first_new; i < r->npacks; i++)
		if (strcmp(r->packs[i], "(open)"))
			remove_pack(r, r->packs[i], &ignored);
}

/* Packs without an index: left by a backup or prune that was interrupted. */
static int remove_unindexed(struct repo *r, int dry_run, struct gc_stats *st,
			    struct cv_err *e)
{
	char **names, path[300];
	size_t n, i, k;
	int rc, known;

	if ((rc = store_list(&r->st, "packs", ".pack", &names, &n, e)))
		return rc;
	for (i = 0; i < n; i++) {
		names[i][strlen(names[i]) - 5] = '\0';
		for (k = 0, known = 0; !known && k < r->npacks; k++)
			known = !strcmp(r->packs[k], names[i]);
		snprintf(path, sizeof(path), "packs/%s.idx", names[i]);
		if (!known && store_may_exist(&r->st, path))
			known = 1; /* indexed after all, or unsure: keep it */
		if (!known && !rc) {
			st->packs_removed++;
			snprintf(path, sizeof(path), "packs/%s.pack", names[i]);
			if (!dry_run)
				rc = store_remove(&r->st, path, e);
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

/*
 * Whether pack i, one of the first np, is also a pack this gc wrote: a pack
 * is named by its index's hash, so storing the same chunks again (what an
 * interrupted gc had already done) makes the same pack, in place.
 */
static int written_again(const struct repo *r, size_t np, size_t i)
{
	size_t j;

	for (j = np; j < r->npacks; j++)
		if (!strcmp(r->packs[j], r->packs[i]))
			return 1;
	return 0;
}

/*
 * Remove, of the first np packs, those with unkept entries: the partly kept
 * ones (their kept chunks stored again already, unless into this very
 * pack), or those with none kept.
 */
static int remove_packs(struct repo *r, size_t np, const size_t *kept,
			const size_t *total, int partly, int dry_run,
			struct gc_stats *st, struct cv_err *e)
{
	size_t i;
	int rc = 0;

	for (i = 0; !rc && i < np; i++) {
		if (kept[i] == total[i] || (kept[i] > 0) != partly ||
		    (partly && written_again(r, np, i)))
			continue;
		st->chunks_removed += total[i] - kept[i];
		if (partly)
			st->packs_rewritten++;
		else
			st->packs_removed++;
		if (!dry_run)
			rc = remove_pack(r, r->packs[i], e);
	}
	return rc;
}

/*
 * Packs nothing kept is in go first: that frees space without writing, so a
 * full disk can be pruned. Then the kept chunks of partly kept packs are
 * stored again, durably, before those packs go.
 */
int repo_gc(struct repo *r, const struct hashset *keep, int dry_run,
	    struct gc_stats *st, struct cv_err *e)
{
	size_t np = r->npacks, i, *kept, *total;
	struct strbuf buf = STRBUF_INIT;
	int rc;

	memset(st, 0, sizeof(*st));
	/* keep may lack chunks only an unreadable index's pack holds */
	if ((rc = repo_indexes_ok(r, e)))
		return rc;
	kept = xcalloc(np + 1, sizeof(size_t));
	total = xcalloc(np + 1, sizeof(size_t));
	pack_counts(r, keep, kept, total);
	rc = remove_packs(r, np, kept, total, 0, dry_run, st, e);
	for (i = 0; !rc && !dry_run && i < r->n; i++) {
		struct chunk_loc *loc = &r->locs[i];

		if (loc->pack < np &&
		    kept[loc->pack] && kept[loc->pack] < total[loc->pack] &&
		    hashset_has(keep, loc->hash))
			rc = store_again(r, loc, &buf, e);
	}
	sb_release(&buf);
	if (!rc && !dry_run)
		rc = repo_flush(r, e); /* the copies are durable before deletes */
	if (!rc)
		rc = remove_packs(r, np, kept, total, 1, dry_run, st, e);
	free(kept);
	free(total);
	return rc ? rc : remove_unindexed(r, dry_run, st, e);
}
