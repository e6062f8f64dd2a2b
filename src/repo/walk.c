/*
 * Snapshot walks (see walk.h).
 */
#include "repo/walk.h"

#include <string.h>

#include "util/banned.h"

static int walk_file(struct repo *r, const struct manifest *m,
		     const struct mf_file *f, walk_fn fn, void *ctx,
		     struct cv_err *e)
{
	struct strbuf seg = STRBUF_INIT;
	const struct chunk_loc *loc;
	struct cv_err ignored = { 0 };
	long long off = 0;
	size_t s, i;
	int rc = 0;

	for (s = 0; !rc && s < f->nsegs; s++) {
		const uint8_t *sh = f->segs + s * SHA256_LEN;

		if ((rc = fn(ctx, m, f, -1, sh, e)))
			break;
		cv_err_clear(&ignored);
		if (repo_get(r, sh, &seg, &ignored))
			continue; /* fn was told about the segment already */
		for (i = 0; !rc && i < seg.len / SHA256_LEN; i++) {
			const uint8_t *h = (const uint8_t *)seg.buf + i * SHA256_LEN;

			rc = fn(ctx, m, f, off, h, e);
			loc = repo_find(r, h);
			off += loc ? loc->ulen : 0;
		}
	}
	sb_release(&seg);
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
