/*
 * Snapshot walks (see walk.h).
 */
#include "repo/walk.h"

#include <string.h>

#include "util/banned.h"

/* The list segments (and patch segments) of f; 0 if all of them read. */
static int walk_segments(struct repo *r, const struct manifest *m,
			 const struct mf_file *f, walk_fn fn, void *ctx,
			 int *readable, struct cv_err *e)
{
	const uint8_t *sh;
	struct strbuf seg = STRBUF_INIT;
	struct cv_err ignored = { 0 };
	size_t s;
	int rc = 0;

	*readable = 1;
	for (s = 0; !rc && s < f->nsegs + f->npsegs; s++) {
		sh = s < f->nsegs ? f->segs + s * SHA256_LEN :
		     f->psegs + (s - f->nsegs) * SHA256_LEN;
		if ((rc = fn(ctx, m, f, -1, sh, e)))
			break;
		cv_err_clear(&ignored);
		if (repo_get(r, sh, &seg, &ignored))
			*readable = 0; /* fn was told about the segment already */
	}
	sb_release(&seg);
	return rc;
}

static int walk_file(struct repo *r, const struct manifest *m,
		     const struct mf_file *f, walk_fn fn, void *ctx,
		     struct cv_err *e)
{
	struct strbuf list = STRBUF_INIT;
	struct cv_err ignored = { 0 };
	const struct chunk_loc *loc;
	uint8_t base[SHA256_LEN];
	long long off = 0;
	size_t i;
	int rc, readable;

	rc = walk_segments(r, m, f, fn, ctx, &readable, e);
	if (!rc && readable && (rc = mf_file_list(r, f, &list, e)))
		cv_err_prefix(e, "snapshot %s", m->name);
	for (i = 0; !rc && readable && i < list.len / SHA256_LEN; i++) {
		const uint8_t *h = (const uint8_t *)list.buf + i * SHA256_LEN;

		rc = fn(ctx, m, f, off, h, e);
		loc = repo_find(r, h);
		cv_err_clear(&ignored);
		if (!rc && loc && (loc->flags & CHUNK_DELTA) &&
		    !repo_delta_base(r, loc, base, &ignored))
			rc = fn(ctx, m, f, off, base, e); /* needed to read it */
		off += loc ? loc->ulen : 0;
	}
	sb_release(&list);
	return rc;
}

int walk_snapshot(struct repo *r, const struct manifest *m, walk_fn fn,
		  void *ctx, struct cv_err *e)
{
	size_t i;
	int rc = 0;

	for (i = 0; !rc && i < m->n; i++)
		if (!m->files[i].is_dir)
			rc = walk_file(r, m, &m->files[i], fn, ctx, e);
	return rc;
}
