/*
 * Walking every chunk a snapshot references, in file order, with the file
 * and offset each is at: for verify (naming what is damaged) and prune
 * (what to keep).
 */
#ifndef CV_WALK_H
#define CV_WALK_H

#include "repo/manifest.h"
#include "repo/repo.h"

/* Where a chunk is in its file. */
struct walk_at {
	long long off;  /* its offset; -1: a list or patch segment */
	size_t idx;     /* its place in the file's chunk list */
	/*
	 * off is exact; 0 when an earlier chunk of the file is not in the
	 * repository, so its length is unknown: the chunk is at or after off.
	 */
	int exact;
	/*
	 * a base of the delta frame of the chunk at idx (that chunk's, or
	 * another's of the frame: reading it needs them all)
	 */
	int base;
};

/* Called per chunk; list and patch segments are reported with off = -1. */
typedef int (*walk_fn)(void *ctx, const struct manifest *m,
		       const struct mf_file *f, const struct walk_at *at,
		       const uint8_t *hash, struct cv_err *e);

/*
 * Call fn for every chunk of m. A list segment that cannot be read is
 * reported through fn (with off -1) and the file's chunks skipped; the walk
 * goes on unless fn returns an error (or a readable list is inconsistent).
 * strict (prune: what is not known to be needed is deleted): a list segment
 * or a delta's base hash that cannot be read ends the walk with an error.
 */
int walk_snapshot(struct repo *r, const struct manifest *m, walk_fn fn,
		  void *ctx, int strict, struct cv_err *e);

#endif
