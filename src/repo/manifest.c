/*
 * Snapshot manifests (see manifest.h).
 */
#include "repo/manifest.h"

#include <stdlib.h>
#include <string.h>

#include "util/bytes.h"
#include "util/fsutil.h"
#include "util/xalloc.h"
#include "util/banned.h"

static int add_patch(struct repo *r, const struct mf_file *f, struct strbuf *out,
		     size_t at, struct cv_err *e);

void mfw_init(struct mf_writer *w, struct repo *r, const struct manifest *prev)
{
	memset(w, 0, sizeof(*w));
	w->r = r;
	w->prev = prev;
	w->files = json_array();
	w->takeable = json_object();
	sb_init(&w->hashes, 0);
	sb_init(&w->prev_list, 0);
	sb_init(&w->prev_base, 0);
	sb_init(&w->base, 0);
	sb_init(&w->fps, 0);
	bg_init(&w->hasher);
}

void mfw_release(struct mf_writer *w)
{
	uint8_t dummy[SHA256_LEN];

	if (w->cur) {
		sha256_final(&w->whole, dummy);
		json_decref(w->cur);
	}
	json_decref(w->files);
	json_decref(w->takeable);
	sb_release(&w->hashes);
	sb_release(&w->prev_list);
	sb_release(&w->prev_base);
	sb_release(&w->base);
	sb_release(&w->fps);
	bg_release(&w->hasher);
	memset(w, 0, sizeof(*w));
}

int mfw_dir(struct mf_writer *w, const char *rel, struct cv_err *e)
{
	if (*rel)
		json_array_append_new(w->files, json_pack("{s:s, s:b, s:i}", "path",
					rel, "dir", 1, "mode", 0755));
	return 0;
}

/* The previous snapshot's chunk list of the same path, or none. */
/*
 * The previous snapshot's entry for the same path: its base list (which a
 * new list may patch) and its whole list (where deltas find their bases).
 */
static void prev_list(struct mf_writer *w, const char *rel)
{
	const struct mf_file *pf = w->prev ? manifest_find(w->prev, rel) : NULL;
	struct cv_err ignored = { 0 };

	sb_reset(&w->prev_base);
	sb_reset(&w->prev_list);
	w->prev_file = pf && !pf->is_dir ? pf : NULL;
	if (!w->prev_file)
		return;
	if (repo_get_list(w->r, pf->segs, pf->nsegs, &w->prev_base, &ignored))
		w->prev_file = NULL;
	sb_add(&w->prev_list, w->prev_base.buf, w->prev_base.len);
	if (w->prev_file && pf->has_patch && add_patch(w->r, pf, &w->prev_list, 0,
						       &ignored))
		w->prev_file = NULL;
	if (!w->prev_file) { /* damaged: whole lists and chunks instead */
		sb_reset(&w->prev_base);
		sb_reset(&w->prev_list);
	}
}

/*
 * Store a chunk, as a delta against the chunk at the same place in the
 * previous snapshot when that one is a whole chunk: a flush rewrites a
 * SQLite page or a neighbour list in place, changing a few bytes of it.
 */
static int put_chunk(struct mf_writer *w, size_t idx, const uint8_t *h,
		     const uint8_t *p, size_t n, struct cv_err *e)
{
	unsigned lane = w->two_kinds ? (unsigned)(idx & 1) : 0;
	const uint8_t *ph;
	struct cv_err ignored = { 0 };

	if (idx >= w->prev_list.len / SHA256_LEN)
		return repo_put_delta(w->r, lane, h, p, n, NULL, NULL, 0, e);
	ph = (const uint8_t *)w->prev_list.buf + idx * SHA256_LEN;
	if (!memcmp(ph, h, SHA256_LEN) || repo_find(w->r, h) ||
	    !repo_can_be_base(w->r, ph) || repo_get(w->r, ph, &w->base, &ignored))
		return repo_put_delta(w->r, lane, h, p, n, NULL, NULL, 0, e);
	return repo_put_delta(w->r, lane, h, p, n, ph, w->base.buf, w->base.len, e);
}

/*
 * The capture's stat of rel's source ([device, inode, size, mtime, ctime]);
 * a file of the root is in folder "".
 */
static json_t *src_stat(const struct mf_writer *w, const char *rel)
{
	const char *slash = strrchr(rel, '/');
	size_t n = slash ? (size_t)(slash - rel) : 0;
	char folder[256];

	if (!w->stamps || n >= sizeof(folder))
		return NULL;
	memcpy(folder, rel, n);
	folder[n] = '\0';
	return json_object_get(json_object_get(w->stamps, folder), slash ? slash + 1 : rel);
}

static int all_present(struct repo *r, const uint8_t *h, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!repo_readable(r, repo_find(r, h + i * SHA256_LEN)))
			return 0;
	return 1;
}

void mfw_find_takeable(struct mf_writer *w,
		       int (*same)(void *ctx, const char *rel, const json_t *src),
		       void *ctx)
{
	const struct mf_file *pf;
	json_t *src;
	size_t i;

	for (i = 0; w->prev && i < w->prev->n; i++) {
		pf = &w->prev->files[i];
		if (pf->is_dir || !(src = json_object_get(pf->json, "src")) ||
		    (same && !same(ctx, pf->path, src)))
			continue;
		prev_list(w, pf->path); /* NULL prev_file: its lists cannot be read */
		if (w->prev_file && all_present(w->r, pf->segs, pf->nsegs) &&
		    all_present(w->r, pf->psegs, pf->npsegs) &&
		    all_present(w->r, (const uint8_t *)w->prev_list.buf,
				w->prev_list.len / SHA256_LEN))
			json_object_set(w->takeable, pf->path, src);
	}
}

int mfw_has(const struct mf_writer *w, const char *rel, const json_t *src)
{
	const json_t *t = json_object_get(w->takeable, rel);

	return t && src && json_equal(t, src);
}

int mfw_unchanged(struct mf_writer *w, const char *rel)
{
	const struct fp_entry *f;

	if (!mfw_has(w, rel, src_stat(w, rel)))
		return 0;
	if (w->fpw && w->fpc && (f = fpc_entry(w->fpc, rel)))
		fpw_copy(w->fpw, f); /* the same list: its fingerprints hold */
	json_array_append_new(w->files, json_deep_copy(manifest_find(w->prev, rel)->json));
	w->unchanged++;
	return 1;
}

int mfw_file_begin(struct mf_writer *w, const char *rel, const struct stat *st,
		   const struct cutter *cut)
{
	json_t *src = src_stat(w, rel);

	w->cur = json_pack("{s:s, s:i, s:I}", "path", rel, "mode",
			   (int)(st->st_mode & 07777), "mtime_ns",
			   (json_int_t)ts_ns(&st->st_mtim));
	if (src)
		json_object_set(w->cur, "src", src);
	sha256_init(&w->whole);
	sb_reset(&w->hashes);
	w->size = 0;
	w->two_kinds = cut->a != cut->b;
	prev_list(w, rel);
	sb_reset(&w->fps);
	w->prev_fps = w->fpc && w->prev_file ?
		      fpc_find(w->fpc, rel, (const uint8_t *)w->prev_list.buf,
			       w->prev_list.len / SHA256_LEN) : NULL;
	return 0;
}

/*
 * The second thread's part of a run: the whole-file hash, and, for a file
 * the last snapshot has no fingerprints of, the chunks' fingerprints (which
 * only the next backup uses).
 */
static void hash_whole(void *arg)
{
	struct mf_writer *w = arg;
	const uint8_t *p = w->job.p;
	uint8_t fp[FP_LEN];
	size_t i;

	sha256_update(&w->whole, w->job.p, w->job.n);
	for (i = 0; w->job.lens && i < w->job.nlens; p += w->job.lens[i++]) {
		fp_of(w->fpw->key, p, w->job.lens[i], fp);
		sb_add(&w->fps, fp, FP_LEN);
	}
}

/*
 * The SHA-256 of chunk idx (n bytes at p): the one at the same place in the
 * previous snapshot when the fingerprints there are equal, else computed.
 */
static void chunk_hash(struct mf_writer *w, size_t idx, const uint8_t *p,
		       size_t n, uint8_t h[SHA256_LEN])
{
	uint8_t fp[FP_LEN];

	if (!w->prev_fps) { /* fingerprinted beside, if at all */
		sha256(p, n, h);
		return;
	}
	fp_of(w->fpw->key, p, n, fp);
	sb_add(&w->fps, fp, FP_LEN);
	if (idx < w->prev_list.len / SHA256_LEN &&
	    !memcmp(w->prev_fps + idx * FP_LEN, fp, FP_LEN)) {
		memcpy(h, w->prev_list.buf + idx * SHA256_LEN, SHA256_LEN);
		w->chunks_known++;
		return;
	}
	sha256(p, n, h);
}

/*
 * The whole-file hash of the run goes on beside (the second thread), while
 * this one hashes each chunk and stores it; p stays unchanged until both are
 * done.
 */
int mfw_chunks(struct mf_writer *w, const uint8_t *p, const size_t *lens,
	       size_t n, struct cv_err *e)
{
	size_t i, total = 0, at = w->hashes.len / SHA256_LEN;
	uint8_t h[SHA256_LEN];
	int rc = 0;

	for (i = 0; i < n; i++)
		total += lens[i];
	w->job = (struct hash_job){ p, total, w->fpw && !w->prev_fps ? lens : NULL, n };
	bg_start(&w->hasher, hash_whole, w);
	for (i = 0; !rc && i < n; p += lens[i], i++) {
		chunk_hash(w, at + i, p, lens[i], h);
		sb_add(&w->hashes, h, SHA256_LEN);
		rc = put_chunk(w, at + i, h, p, lens[i], e);
	}
	bg_wait(&w->hasher);
	w->size += total;
	return rc;
}

static json_t *hex_array(const struct strbuf *hashes)
{
	char hex[2 * SHA256_LEN + 1];
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < hashes->len / SHA256_LEN; i++) {
		hex_encode((const uint8_t *)hashes->buf + i * SHA256_LEN, SHA256_LEN, hex);
		json_array_append_new(a, json_string(hex));
	}
	return a;
}

static json_t *hex_array_of(const uint8_t *segs, size_t n)
{
	struct strbuf sb = STRBUF_INIT;
	json_t *a;

	sb_add(&sb, segs, n * SHA256_LEN);
	a = hex_array(&sb);
	sb_release(&sb);
	return a;
}

/*
 * The patch that turns base into list: (u32 index, hash) for every entry
 * that differs or is past base's end. 1 if it is small enough to use.
 */
static int make_patch(const struct strbuf *base, const uint8_t *list, size_t n,
		      struct strbuf *patch)
{
	size_t nb = base->len / SHA256_LEN, i;
	uint8_t idx[4];

	for (i = 0; i < n; i++) {
		if (i < nb && !memcmp(base->buf + i * SHA256_LEN, list + i * SHA256_LEN,
				      SHA256_LEN))
			continue;
		store_u32(idx, (uint32_t)i);
		sb_add(patch, idx, 4);
		sb_add(patch, list + i * SHA256_LEN, SHA256_LEN);
		if (patch->len / MF_PATCH_ENTRY > n / MF_PATCH_MAX_FRACTION)
			return 0;
	}
	return 1;
}

/* Store patch in segments of REPO_LIST_SEGMENT entries; hashes to segs. */
static int put_patch(struct repo *r, const struct strbuf *patch,
		     struct strbuf *segs, struct cv_err *e)
{
	size_t step = REPO_LIST_SEGMENT * MF_PATCH_ENTRY, i, k;
	uint8_t sum[SHA256_LEN];
	int rc;

	for (i = 0; i < patch->len; i += step) {
		k = patch->len - i < step ? patch->len - i : step;
		sha256(patch->buf + i, k, sum);
		if ((rc = repo_put(r, sum, patch->buf + i, k, e)))
			return rc;
		sb_add(segs, sum, SHA256_LEN);
	}
	return 0;
}

/*
 * Record the file's list: as a patch of the previous snapshot's base list
 * for the same path when few entries differ (a flush changes a few percent
 * of a large file's chunks, and a full list of 200,000 hashes costs 6 MB),
 * else as a new full list.
 */
static int write_list(struct mf_writer *w, struct cv_err *e)
{
	const struct mf_file *pf = w->prev_file;
	struct strbuf patch = STRBUF_INIT, segs = STRBUF_INIT;
	const uint8_t *list = (const uint8_t *)w->hashes.buf;
	size_t n = w->hashes.len / SHA256_LEN;
	int rc;

	if (pf && n >= MF_PATCH_MIN_CHUNKS && make_patch(&w->prev_base, list, n, &patch)) {
		rc = put_patch(w->r, &patch, &segs, e);
		json_object_set_new(w->cur, "lists", hex_array_of(pf->segs, pf->nsegs));
		json_object_set_new(w->cur, "patch", hex_array(&segs));
		json_object_set_new(w->cur, "chunks", json_integer((json_int_t)n));
	} else {
		rc = repo_put_list(w->r, list, n, &segs, e);
		json_object_set_new(w->cur, "lists", hex_array(&segs));
	}
	sb_release(&patch);
	sb_release(&segs);
	return rc;
}

int mfw_file_end(struct mf_writer *w, struct cv_err *e)
{
	char hex[2 * SHA256_LEN + 1];
	uint8_t sum[SHA256_LEN];
	int rc = write_list(w, e);

	if (w->fpw)
		fpw_add(w->fpw, json_string_value(json_object_get(w->cur, "path")),
			(const uint8_t *)w->hashes.buf, w->hashes.len / SHA256_LEN,
			(const uint8_t *)w->fps.buf);
	sha256_final(&w->whole, sum);
	hex_encode(sum, SHA256_LEN, hex);
	json_object_set_new(w->cur, "size", json_integer((json_int_t)w->size));
	json_object_set_new(w->cur, "sha256", json_string(hex));
	json_array_append_new(w->files, w->cur);
	w->cur = NULL;
	return rc;
}

static int parse_hashes(json_t *arr, uint8_t **out, size_t *n)
{
	json_t *v;
	size_t k;

	*n = json_array_size(arr);
	*out = xmalloc(*n * SHA256_LEN + 1);
	json_array_foreach(arr, k, v)
		if (!json_is_string(v) ||
		    hex_decode(json_string_value(v), *out + k * SHA256_LEN, SHA256_LEN))
			return -1;
	return json_is_array(arr) ? 0 : -1;
}

/* Absent, or an integer: the first manifests had no mode or mtime_ns. */
static int int_or_absent(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return !v || json_is_integer(v);
}

static int parse_file(json_t *o, struct mf_file *f, const char *name, size_t i,
		      struct cv_err *e)
{
	json_t *patch = json_object_get(o, "patch");
	json_t *size = json_object_get(o, "size");
	const char *sha = json_string_value(json_object_get(o, "sha256"));

	memset(f, 0, sizeof(*f));
	f->path = json_string_value(json_object_get(o, "path"));
	f->json = o;
	f->is_dir = json_is_true(json_object_get(o, "dir"));
	f->mode = (unsigned)json_integer_value(json_object_get(o, "mode"));
	f->mtime_ns = json_integer_value(json_object_get(o, "mtime_ns"));
	f->size = (uint64_t)json_integer_value(size);
	if (!json_is_object(o) || !f->path || !*f->path || strstr(f->path, "..") ||
	    f->path[0] == '/')
		return cv_errf(e, CV_ECORRUPT, "snapshot %s: file %zu has a bad path",
			       name, i);
	if (!int_or_absent(o, "mode") || !int_or_absent(o, "mtime_ns") || f->mtime_ns < 0)
		return cv_errf(e, CV_ECORRUPT, "snapshot %s: %s: bad mode or mtime_ns",
			       name, f->path);
	if (f->is_dir)
		return 0;
	/* restore writes exactly size bytes, which must hash to sha256 */
	if (!json_is_integer(size) || json_integer_value(size) < 0)
		return cv_errf(e, CV_ECORRUPT, "snapshot %s: %s: no size", name,
			       f->path);
	if (!sha || hex_decode(sha, f->sha, SHA256_LEN) ||
	    parse_hashes(json_object_get(o, "lists"), &f->segs, &f->nsegs))
		return cv_errf(e, CV_ECORRUPT, "snapshot %s: %s: bad sha256 or lists",
			       name, f->path);
	if (!patch)
		return 0;
	f->has_patch = 1;
	f->nchunks = (uint64_t)json_integer_value(json_object_get(o, "chunks"));
	if (parse_hashes(patch, &f->psegs, &f->npsegs) ||
	    !json_is_integer(json_object_get(o, "chunks")) || f->nchunks > UINT32_MAX)
		return cv_errf(e, CV_ECORRUPT, "snapshot %s: %s: bad patch or chunks",
			       name, f->path);
	return 0;
}

/*
 * The manifest's checksum: any change after it was written (a path renamed,
 * a hash edited) is found here, before a restore or verify uses it.
 */
static int check_seal(const char *name, const char *json, struct manifest *m,
		      struct cv_err *e)
{
	json_int_t version = json_integer_value(json_object_get(m->root, "version"));

	if (repo_snapshot_sealed(json, &m->sealed))
		return cv_errf(e, CV_ECORRUPT, "snapshot %s: checksum mismatch (the "
			       "manifest was changed or damaged after it was written)",
			       name);
	if (!m->sealed && version >= MF_SEALED_SINCE)
		return cv_errf(e, CV_ECORRUPT, "snapshot %s: a version %lld manifest "
			       "without its checksum", name, (long long)version);
	return 0;
}

static int cmp_path(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Each path once: restore could not make a second entry of the same name. */
static int unique_paths(const struct manifest *m, struct cv_err *e)
{
	const char **p = xcalloc(m->n + 1, sizeof(*p));
	size_t i;
	int rc = 0;

	for (i = 0; i < m->n; i++)
		p[i] = m->files[i].path;
	qsort(p, m->n, sizeof(*p), cmp_path);
	for (i = 1; !rc && i < m->n; i++)
		if (!strcmp(p[i - 1], p[i]))
			rc = cv_errf(e, CV_ECORRUPT, "snapshot %s: %s: listed twice",
				     m->name, p[i]);
	free(p);
	return rc;
}

int manifest_parse(const char *name, const char *json, struct manifest *m,
		   struct cv_err *e)
{
	json_error_t je;
	json_t *files, *o;
	size_t i;
	int rc = 0;

	memset(m, 0, sizeof(*m));
	m->name = xstrdup(name);
	m->root = json_loads(json, 0, &je);
	if (!m->root || strcmp(json_string_value(json_object_get(m->root, "format")) ?
			       json_string_value(json_object_get(m->root, "format")) : "",
			       "chromavault-snapshot")) {
		rc = cv_errf(e, CV_ECORRUPT, "snapshot %s: not a manifest (line %d: "
			     "%s)", name, je.line, m->root ? "wrong format" : je.text);
		manifest_release(m);
		return rc;
	}
	if ((rc = check_seal(name, json, m, e))) {
		manifest_release(m);
		return rc;
	}
	m->time = json_integer_value(json_object_get(m->root, "unix_time"));
	files = json_object_get(m->root, "files");
	if (!json_is_array(files)) { /* else a restore of nothing would succeed */
		rc = cv_errf(e, CV_ECORRUPT, "snapshot %s: no files list", name);
		manifest_release(m);
		return rc;
	}
	m->files = xcalloc(json_array_size(files) + 1, sizeof(*m->files));
	json_array_foreach(files, i, o) {
		if ((rc = parse_file(o, &m->files[i], name, i, e)))
			break;
		m->n++;
	}
	if (!rc && (rc = unique_paths(m, e)))
		m->n--; /* released below, as a partial entry would be */
	if (rc) {
		m->n++; /* the partial entry too */
		manifest_release(m);
	}
	return rc;
}

void manifest_release(struct manifest *m)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		free(m->files[i].segs);
		free(m->files[i].psegs);
	}
	free(m->files);
	json_decref(m->root);
	free(m->name);
	memset(m, 0, sizeof(*m));
}

const struct mf_file *manifest_find(const struct manifest *m, const char *path)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (!strcmp(m->files[i].path, path))
			return &m->files[i];
	return NULL;
}

/* Apply a patch (sorted (u32 index, hash) entries) to the list in out. */
static int apply_patch(const struct mf_file *f, const struct strbuf *patch,
		       struct strbuf *out, size_t at, struct cv_err *e)
{
	size_t nb = (out->len - at) / SHA256_LEN, np = patch->len / MF_PATCH_ENTRY;
	size_t i, past = 0;
	uint32_t idx, last = 0;

	if (f->nchunks > nb + np) /* the patch could not set them all */
		return cv_errf(e, CV_ECORRUPT, "%s: chunk list patch leaves entries "
			       "past the base list unset", f->path);
	if (f->nchunks > nb)
		sb_grow(out, (size_t)(f->nchunks - nb) * SHA256_LEN);
	sb_setlen(out, at + (size_t)f->nchunks * SHA256_LEN);
	for (i = 0; i < np; i++) {
		const uint8_t *p = (const uint8_t *)patch->buf + i * MF_PATCH_ENTRY;

		idx = load_u32(p);
		if (idx >= f->nchunks || (i && idx <= last))
			return cv_errf(e, CV_ECORRUPT, "%s: chunk list patch entry %zu "
				       "(index %u) is out of order or range", f->path, i, idx);
		memcpy(out->buf + at + (size_t)idx * SHA256_LEN, p + 4, SHA256_LEN);
		past += idx >= nb;
		last = idx;
	}
	if (f->nchunks > nb && past != f->nchunks - nb)
		return cv_errf(e, CV_ECORRUPT, "%s: chunk list patch leaves entries "
			       "past the base list unset", f->path);
	return 0;
}

/* Read f's patch and apply it to the base list at out[at..). */
static int add_patch(struct repo *r, const struct mf_file *f, struct strbuf *out,
		     size_t at, struct cv_err *e)
{
	struct strbuf patch = STRBUF_INIT, seg = STRBUF_INIT;
	size_t i;
	int rc = 0;

	for (i = 0; !rc && i < f->npsegs; i++) {
		rc = repo_get(r, f->psegs + i * SHA256_LEN, &seg, e);
		if (!rc && seg.len % MF_PATCH_ENTRY)
			rc = cv_errf(e, CV_ECORRUPT, "%s: chunk list patch segment %zu "
				     "has a partial entry", f->path, i);
		if (!rc)
			sb_add(&patch, seg.buf, seg.len);
	}
	if (!rc)
		rc = apply_patch(f, &patch, out, at, e);
	sb_release(&patch);
	sb_release(&seg);
	return rc;
}

int mf_file_list(struct repo *r, const struct mf_file *f, struct strbuf *out,
		 struct cv_err *e)
{
	size_t at = out->len;
	int rc = repo_get_list(r, f->segs, f->nsegs, out, e);

	return !rc && f->has_patch ? add_patch(r, f, out, at, e) : rc;
}

int manifest_load(struct repo *r, const char *name, struct manifest *m,
		  struct cv_err *e)
{
	char **names = NULL, *json = NULL;
	size_t n = 0, i;
	int rc = 0;

	memset(m, 0, sizeof(*m));
	if (!strcmp(name, "latest")) {
		if ((rc = repo_list_snapshots(r, &names, &n, e)))
			return rc;
		if (!n)
			rc = cv_errf(e, CV_ENOTFOUND, "%s: the repository has no "
				     "snapshot", r->st.root);
		else
			name = names[n - 1];
	}
	if (!rc && !(rc = repo_get_snapshot(r, name, &json, e)) &&
	    (rc = manifest_parse(name, json, m, e)))
		cv_err_prefix(e, "%s/snapshots/%s.json", r->st.root, name);
	free(json);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}
