/*
 * Snapshot walks (see walk.h).
 */
#include "repo/walk.h"

#include <string.h>

#include "util/banned.h"

/* The i-th of f's list segments, then of its patch segments. */
static const uint8_t *segment(const struct mf_file *f, size_t i)
{
	return i < f->nsegs ? f->segs + i * SHA256_LEN :
	       f->psegs + (i - f->nsegs) * SHA256_LEN;
}

/* 1 if every list and patch segment of f reads (checked only after a failure). */
static int segments_read(struct repo *r, const struct mf_file *f)
{
	struct strbuf seg = STRBUF_INIT;
	struct cv_err ignored = { 0 };
	size_t i;
	int ok = 1;

	for (i = 0; ok && i < f->nsegs + f->npsegs; i++)
		ok = !repo_get(r, segment(f, i), &seg, &ignored);
	sb_release(&seg);
	return ok;
}

/* Strict: which chunk a delta needs could not be read. */
static int base_unknown(const struct manifest *m, const struct mf_file *f,
			const struct walk_at *at, struct cv_err *why,
			struct cv_err *e)
{
	*e = *why;
	cv_err_prefix(e, "snapshot %s, %s, chunk %zu, offset %s%lld: the base of "
		      "a delta cannot be read", m->name, f->path, at->idx,
		      at->exact ? "" : "at or after ", at->off);
	return e->code ? e->code : CV_EIO;
}

/* One walk over snapshots: where it reports, and what it has reported. */
struct walk {
	struct repo *r;
	const struct manifest *m;
	walk_fn fn;
	void *ctx;
	int strict;
	struct hashset frames;  /* delta frames whose bases were reported */
	struct strbuf bases;
};

/*
 * The bases of the delta frame loc is in, each as a base of the chunk at
 * at: the frame decompresses only with every chunk's base, so all are
 * needed (prune keeps them; one it dropped made a kept delta unreadable).
 * Each frame once a walk.
 */
static int walk_bases(struct walk *w, const struct mf_file *f,
		      const struct walk_at *at, const struct chunk_loc *loc,
		      struct cv_err *e)
{
	struct walk_at bat = *at;
	struct cv_err why = { 0 };
	uint8_t key[FRAME_KEY];
	size_t k;
	int rc = 0;

	repo_frame_key(loc, key);
	if (hashset_has(&w->frames, key))
		return 0;
	bat.base = 1;
	if (repo_delta_bases(w->r, loc, &w->bases, &why))
		return w->strict ? base_unknown(w->m, f, at, &why, e) : 0;
	hashset_add(&w->frames, key);
	for (k = 0; !rc && k < w->bases.len / SHA256_LEN; k++)
		rc = w->fn(w->ctx, w->m, f, &bat,
			   (const uint8_t *)w->bases.buf + k * SHA256_LEN, e);
	return rc;
}

/* A chunk, and the bases of its frame if it is a delta; NULL: not found. */
static const struct chunk_loc *walk_chunk(struct walk *w, const struct mf_file *f,
					  const struct walk_at *at,
					  const uint8_t *h, int *rc, struct cv_err *e)
{
	const struct chunk_loc *loc;

	*rc = w->fn(w->ctx, w->m, f, at, h, e);
	loc = repo_find(w->r, h);
	if (!*rc && loc && (loc->flags & CHUNK_DELTA))
		*rc = walk_bases(w, f, at, loc, e);
	return loc;
}

/* The file's chunks, each with its place, and the bases of its deltas. */
static int walk_list(struct walk *w, const struct mf_file *f,
		     const struct strbuf *list, struct cv_err *e)
{
	struct walk_at at = { 0, 0, 1, 0 };
	const struct chunk_loc *loc;
	int rc = 0;

	for (; !rc && at.idx < list->len / SHA256_LEN; at.idx++) {
		loc = walk_chunk(w, f, &at, (const uint8_t *)list->buf +
				 at.idx * SHA256_LEN, &rc, e);
		if (loc)
			at.off += loc->ulen;
		else
			at.exact = 0; /* what follows is at least this far on */
	}
	return rc;
}

/*
 * A file's list and patch segments (chunks like any other: one may be a
 * delta, stored once for a data chunk of the same bytes), then its chunks.
 */
static int walk_file(struct walk *w, const struct mf_file *f, struct cv_err *e)
{
	struct strbuf list = STRBUF_INIT;
	struct cv_err le = { 0 };
	struct walk_at seg = { -1, 0, 1, 0 };
	size_t i;
	int rc = 0;

	for (i = 0; !rc && i < f->nsegs + f->npsegs; i++, seg.idx++)
		walk_chunk(w, f, &seg, segment(f, i), &rc, e);
	if (!rc && mf_file_list(w->r, f, &list, &le) &&
	    (w->strict || segments_read(w->r, f))) {
		*e = le; /* readable segments that do not make a list */
		cv_err_prefix(e, "snapshot %s", w->m->name);
		rc = le.code;
	} else if (le.code) {
		sb_reset(&list); /* an unreadable segment: fn was told about it */
	}
	if (!rc)
		rc = walk_list(w, f, &list, e);
	sb_release(&list);
	return rc;
}

int walk_snapshot(struct repo *r, const struct manifest *m, walk_fn fn,
		  void *ctx, int strict, struct cv_err *e)
{
	struct walk w = { r, m, fn, ctx, strict, { 0 }, STRBUF_INIT };
	size_t i;
	int rc = 0;

	hashset_init(&w.frames, FRAME_KEY);
	for (i = 0; !rc && i < m->n; i++)
		if (!m->files[i].is_dir)
			rc = walk_file(&w, &m->files[i], e);
	hashset_release(&w.frames);
	sb_release(&w.bases);
	return rc;
}
