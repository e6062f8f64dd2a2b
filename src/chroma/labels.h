/*
 * A vector segment's id -> label map for the reader (index_metadata.pickle,
 * chroma-format.md §5.8) in bounded memory: the fingerprints (idmap.h) of
 * one window of labels at a time. Records come in the order of their labels
 * (Chroma numbers both in insertion order), so an export moves the window
 * forward, reading the pickle once more for each window. A lookup outside
 * the window reads the pickle through once and moves the window when the
 * label is ahead; after a few behind it (records out of label order) the
 * whole map is loaded instead.
 */
#ifndef CV_LABELS_H
#define CV_LABELS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "chroma/idmap.h"
#include "chroma/pickle.h"
#include "util/err.h"
#include "util/hmap.h"

/* Labels a window holds by default: about 13 MiB of fingerprints. */
#define LABELS_WINDOW (1ull << 20)

struct labels {
	char *path;
	struct stat st;          /* the pickle as first read */
	struct cv_pickle pk;     /* its top-level fields and counts */
	struct siphash_key key;
	struct idmap ids;        /* the labels [lo, hi), less lo */
	uint64_t lo, hi;         /* hi UINT64_MAX: every label */
	uint64_t span;           /* labels in a window */
	uint64_t max_label;      /* the largest label listed */
	uint64_t next;           /* the label guessed for the next record */
	unsigned passes;         /* readings of the pickle after the first */
	unsigned scans;          /* lookups out of label order */
	struct hmap known;       /* id -> listed, settled by labels_learn */
	char *known_ids;
};

/*
 * Read the pickle at path (a torn one, being rewritten by a flush, again
 * after a pause). span: labels in a window (0: LABELS_WINDOW).
 * On error nothing needs releasing.
 */
int labels_open(struct labels *l, const char *path, uint64_t span,
		struct cv_err *e);
void labels_close(struct labels *l);

/* Whether the index lists the id: 1, 0, or -1 unknown (see labels_learn). */
int labels_has(const struct labels *l, const char *id, size_t len);

/* Settle labels_has for these ids (those outside the window) in one reading. */
int labels_learn(struct labels *l, const char *const *ids, const size_t *lens,
		 size_t n, struct cv_err *e);

/*
 * The label of a record id: 1 with *label set, 0 when the index does not
 * list it, negative on error (the pickle may be read again, and must not
 * have changed since labels_open).
 */
int labels_of(struct labels *l, const char *id, size_t len, uint64_t *label,
	      struct cv_err *e);

#endif
