/*
 * The records of one collection as Chroma serves them: metadata segment at
 * its watermark, vectors from the HNSW folder at its watermark, and the WAL
 * tail replayed above both (chroma-format.md §4.4). Streams; holds no
 * collection in memory.
 */
#ifndef CV_READER_H
#define CV_READER_H

#include <stddef.h>
#include <stdint.h>

#include "chroma/collection.h"
#include "chroma/db.h"
#include "util/err.h"

struct cv_record {
	const char *id;
	size_t id_len;
	const char *doc;        /* NULL when the record has no document */
	size_t doc_len;
	const char *uri;        /* NULL when the record has no URI */
	size_t uri_len;
	const char *meta_json;  /* JSON object text, or "null" */
	size_t meta_len;
	const float *vec;       /* NULL when no vector was found (damaged dir) */
	size_t dim;
	const char *vec_text;   /* or the embedding already as JSON text */
	size_t vec_text_len;
	size_t bad_utf8;        /* strings whose invalid bytes became U+FFFD */
};

struct cv_reader_stats {
	uint64_t records;
	uint64_t missing_vectors;   /* records without a vector */
	uint64_t wal_rows;          /* WAL rows of the collection above min(M,V) */
	uint64_t wal_rows_above_v;  /* not yet in the vector index */
	uint64_t index_vectors;     /* ids in the pickle */
	uint64_t vectors_final;     /* ids with a vector after the WAL replay */
	uint64_t index_slots;       /* cur_element_count */
	uint64_t index_deleted;     /* slots with the delete mark */
	uint64_t m, v;              /* watermarks used */
	int has_index;              /* a pickle was found and loaded */
	int v_from_pickle;          /* V came from a Python-era pickle */
};

struct cv_reader;

/*
 * Open the collection for reading. The caller holds a read transaction
 * (cv_db_begin) for as long as the reader is used.
 */
int cv_reader_open(struct cv_db *db, const struct cv_collection *c,
		   struct cv_reader **out, struct cv_err *e);

/*
 * Next record: 1 with *rec filled (valid until the next call), 0 at the end,
 * negative on error.
 */
int cv_reader_next(struct cv_reader *r, struct cv_record *rec,
		   struct cv_err *e);

/* Dimension of the vectors (0 when the collection has none yet). */
size_t cv_reader_dim(const struct cv_reader *r);
const struct cv_reader_stats *cv_reader_stats(const struct cv_reader *r);
void cv_reader_close(struct cv_reader *r);

#endif
