/*
 * One file of a snapshot read back from its chunk list: the chunks
 * decompressed by worker threads in units of consecutive chunks, each unit
 * handed on (restore writes it) and hashed into the whole-file SHA-256 in
 * order. restore and verify --read-data share it.
 */
#ifndef CV_READBACK_H
#define CV_READBACK_H

#include <stddef.h>
#include <stdint.h>

#include "repo/repo.h"

/* A chunk that could not be read, or whose content is not its hash. */
struct rb_fail {
	size_t idx;           /* its place in the list */
	uint64_t off;         /* its offset in the file */
	struct cv_err err;
};

struct readback {
	/* set by the caller */
	struct repo *r;
	const uint8_t *hashes;      /* the chunk list, n hashes */
	size_t n;
	/*
	 * Which chunks to hash on their own as well: check_all, or those
	 * whose byte in check is nonzero (check may be NULL: none).
	 */
	int check_all;
	const uint8_t *check;
	/*
	 * 0: stop at the first bad chunk (fails holds it); 1: note each and go
	 * on (verify: every one is named). A bad chunk adds nothing to the
	 * content, so the whole-file hash then does not match; for that reason
	 * keep_going takes no put.
	 */
	int keep_going;
	/* each unit's content at its offset, from any worker; may be NULL */
	int (*put)(void *ctx, const void *p, size_t n, uint64_t off,
		   struct cv_err *e);
	/* called in file order, one call at a time, after a unit is hashed */
	void (*hashed)(void *ctx, uint64_t bytes);
	void *ctx;

	/* results */
	uint8_t sha[SHA256_LEN];    /* of the content read */
	uint64_t size;              /* the sum of the chunks' indexed lengths */
	struct rb_fail *fails;      /* in file order */
	size_t nfails;
};

/*
 * Read rb's chunks. Returns 0 when the pass ran to its end (bad chunks are
 * in fails, with keep_going), else the error of the first bad chunk or of
 * put, in e, its place and offset in fails (a failed put: the start of its
 * unit). A chunk missing from every index ends it before anything is read
 * (CV_ECORRUPT; rb->size is where it would start). Caller frees the
 * results with readback_release.
 */
int readback_run(struct readback *rb, struct cv_err *e);
void readback_release(struct readback *rb);

#endif
