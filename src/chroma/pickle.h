/*
 * index_metadata.pickle: a minimal, bounded, streaming pickle VM for the two
 * shapes Chroma writes (Rust serde-pickle dict, Python PersistentData
 * object); chroma-format.md §5.8. The id_to_label entries are handed to a
 * sink as they are read, so memory does not grow with the index.
 */
#ifndef CV_PICKLE_H
#define CV_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct cv_pickle {
	int has_dimensionality;     /* 0 when None or absent */
	int64_t dimensionality;
	uint64_t total_elements_added;
	int has_max_seq_id;         /* Python < 0.5.6 only: the vector watermark */
	uint64_t max_seq_id;
	size_t n_ids;               /* entries of id_to_label */
	size_t n_label_to_id;       /* entries of label_to_id (for consistency checks) */
};

/*
 * Called for each id_to_label entry in pickle order; `id` (not
 * NUL-terminated) is valid only during the call. A non-zero return stops
 * the parse and is returned by it; the sink sets the error then.
 */
typedef int (*cv_pickle_sink)(void *ctx, const char *id, size_t len,
			      uint64_t label, struct cv_err *e);

/*
 * Parse a pickle held in memory. `name` is used in error messages
 * ("<name>: offset N: ..."). The sink may have seen entries before an error.
 * Returns 0, CV_ECORRUPT (bad or hostile input), CV_EUNSUP or the sink's code.
 */
int cv_pickle_parse(const uint8_t *buf, size_t len, const char *name,
		    cv_pickle_sink sink, void *ctx, struct cv_pickle *out,
		    struct cv_err *e);

/* Read and parse a file in windows (bounded: at most 16 GiB). */
int cv_pickle_load(const char *path, cv_pickle_sink sink, void *ctx,
		   struct cv_pickle *out, struct cv_err *e);

#endif
