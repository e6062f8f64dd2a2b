/*
 * The label -> slot lookup of a large HNSW index, kept in an unlinked
 * temporary file instead of memory: 4 bytes a label at offset 4 * label,
 * written in sorted runs while the slots are scanned, read back through a
 * small window. Memory stays the same whatever the index size.
 */
#ifndef CV_SLOTFILE_H
#define CV_SLOTFILE_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Labels must stay below this (Chroma's count insertions). */
#define SLOTFILE_MAX_LABEL (1ull << 40)

struct sf_pair {
	uint64_t label;
	uint32_t slot;
	uint32_t deleted;
};

struct slotfile {
	int fd;
	const char *name;        /* the data file, for messages */
	struct sf_pair *chunk;   /* pairs not yet written */
	size_t n, cap;
	uint32_t *run;           /* a run of the file, read and written */
	uint32_t *win;           /* labels [win_lo, win_lo + win_n) */
	uint64_t win_lo;
	size_t win_n;
	uint64_t end;            /* 1 + the largest label written */
};

/* An unlinked file in $TMPDIR (or /tmp). name is borrowed. */
int sf_open(struct slotfile *f, const char *name, struct cv_err *e);
void sf_close(struct slotfile *f);

/* A slot's label; two live slots with one label are an error. */
int sf_add(struct slotfile *f, uint64_t label, uint32_t slot, int deleted,
	   struct cv_err *e);
/* Write what is buffered; then the file can be read. */
int sf_finish(struct slotfile *f, struct cv_err *e);

/* Slot of a label: 0, CV_ENOTFOUND, or an I/O error. */
int sf_find(struct slotfile *f, uint64_t label, uint32_t *slot, int *deleted,
	    struct cv_err *e);

#endif
