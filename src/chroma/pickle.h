/*
 * index_metadata.pickle: a minimal, bounded pickle VM for the two shapes Chroma
 * writes (Rust serde-pickle dict, Python PersistentData object); chroma-format.md §5.8.
 */
#ifndef CV_PICKLE_H
#define CV_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct pickle_id_label {
	char *id;        /* user id, UTF-8, NUL-terminated (ids never hold NUL) */
	size_t id_len;
	uint64_t label;
};

struct cv_pickle {
	int has_dimensionality;     /* 0 when None or absent */
	int64_t dimensionality;
	uint64_t total_elements_added;
	int has_max_seq_id;         /* Python < 0.5.6 only: the vector watermark */
	uint64_t max_seq_id;
	size_t n_ids;               /* id_to_label, in pickle order */
	struct pickle_id_label *ids;
	char *arena;                /* the ids' bytes */
	size_t n_label_to_id;       /* entries of label_to_id (for consistency checks) */
};

/*
 * Parse a whole pickle held in memory. `name` is used in error messages
 * ("<name>: offset N: ..."). On error *out is left empty (nothing to release).
 * Returns 0, CV_ECORRUPT (bad or hostile input) or CV_EUNSUP.
 */
int cv_pickle_parse(const uint8_t *buf, size_t len, const char *name,
		    struct cv_pickle *out, struct cv_err *e);

/* Read and parse a file (bounded: at most 1 GiB). */
int cv_pickle_load(const char *path, struct cv_pickle *out, struct cv_err *e);

void cv_pickle_release(struct cv_pickle *p);

#endif
