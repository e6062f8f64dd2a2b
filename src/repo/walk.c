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

/*
 * The bases of the delta frame loc is in, each a base of the chunk at at:
 * the frame decompresses only with every chunk's base, so they all are
 * (prune keeps them; one it dropped made a kept delta unreadable). A frame
 * met just before is passed over.
 */
static int walk_bases(struct repo *r, const struct manifest *m,
		      const struct mf_file *f, const struct walk_at *at,
		      const struct chunk_loc *loc, struct chunk_loc *last,
		      struct strbuf *bases, walk_fn fn, void *ctx, int strict,
		      struct cv_err *e)
{
	struct walk_at bat = *at;
	struct cv_err why = { 0 };
	size_t k;
	int rc = 0;

	if (loc->pack == last->pack && loc->off == last->off)
		return 0;
	*last = *loc;
	bat.base = 1;
	if (repo_delta_bases(r, loc, bases, &why)) {
		last->pack = UINT32_MAX; /* not read: not passed over */
		return strict ? base_unknown(m, f, at, &why, e) : 0;
	}
	for (k = 0; !rc && k < bases->len / SHA256_LEN; k++)
		rc = fn(ctx, m, f, &bat, (const uint8_t *)bases->buf + k * SHA256_LEN, e);
	return rc;
}

/* The file's chunks, each with its place, and the bases of its deltas. */
static int walk_list(struct repo *r, const struct manifest *m,
		     const struct mf_file *f, const struct strbuf *list,
		     walk_fn fn, void *ctx, int strict, struct cv_err *e)
{
	struct walk_at at = { 0, 0, 1, 0 };
	struct strbuf bases = STRBUF_INIT;
	struct chunk_loc last = { .pack = UINT32_MAX };
	const struct chunk_loc *loc;
	int rc = 0;

	for (; !rc && at.idx < list->len / SHA256_LEN; at.idx++) {
		const uint8_t *h = (const uint8_t *)list->buf + at.idx * SHA256_LEN;

		rc = fn(ctx, m, f, &at, h, e);
		loc = repo_find(r, h);
		if (!rc && loc && (loc->flags & CHUNK_DELTA))
			rc = walk_bases(r, m, f, &at, loc, &last, &bases, fn, ctx,
					strict, e);
		if (loc)
			at.off += loc->ulen;
		else
			at.exact = 0; /* what follows is at least this far on */
	}
	sb_release(&bases);
	return rc;
}

static int walk_file(struct repo *r, const struct manifest *m,
		     const struct mf_file *f, walk_fn fn, void *ctx, int strict,
		     struct cv_err *e)
{
	struct strbuf list = STRBUF_INIT;
	struct cv_err le = { 0 };
	struct walk_at seg = { -1, 0, 1, 0 };
	size_t i;
	int rc = 0;

	for (i = 0; !rc && i < f->nsegs + f->npsegs; i++, seg.idx++)
		rc = fn(ctx, m, f, &seg, segment(f, i), e);
	if (!rc && mf_file_list(r, f, &list, &le) && (strict || segments_read(r, f))) {
		*e = le; /* readable segments that do not make a list */
		cv_err_prefix(e, "snapshot %s", m->name);
		rc = le.code;
	} else if (le.code) {
		sb_reset(&list); /* an unreadable segment: fn was told about it */
	}
	if (!rc)
		rc = walk_list(r, m, f, &list, fn, ctx, strict, e);
	sb_release(&list);
	return rc;
}

int walk_snapshot(struct repo *r, const struct manifest *m, walk_fn fn,
		  void *ctx, int strict, struct cv_err *e)
{
	size_t i;
	int rc = 0;

	for (i = 0; !rc && i < m->n; i++)
		if (!m->files[i].is_dir)
			rc = walk_file(r, m, &m->files[i], fn, ctx, strict, e);
	return rc;
}
