/*
 * The WAL (embeddings_queue) tail of one collection, replayed above the
 * segments' watermarks with Chroma's ADD/UPDATE/UPSERT/DELETE rules
 * (chroma-format.md §3.10, §4.4) into a per-id overlay.
 */
#ifndef CV_WAL_H
#define CV_WAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "chroma/collection.h"
#include "chroma/db.h"
#include "util/err.h"
#include "util/hmap.h"

enum { WAL_ADD = 0, WAL_UPDATE = 1, WAL_UPSERT = 2, WAL_DELETE = 3, WAL_BACKFILL = 4 };

enum ov_vec { OV_VEC_NONE, OV_VEC_SET, OV_VEC_DEL };
enum ov_meta { OV_META_NONE, OV_META_MOD, OV_META_NEW, OV_META_DEL };

struct ov_entry {
	char *id;
	size_t id_len;
	uint8_t vec_state;    /* enum ov_vec */
	uint8_t meta_state;   /* enum ov_meta */
	uint64_t vec_seq;     /* WAL row holding the vector (OV_VEC_SET) */
	uint64_t create_seq;  /* row that (re)created the record (OV_META_NEW) */
	json_t *patch;        /* accumulated update metadata, null = delete key */
};

struct wal_overlay {
	struct hmap map;      /* id -> index into e */
	struct ov_entry *e;
	size_t n, cap;
	uint64_t rows;        /* WAL rows of this collection read */
	uint64_t rows_above_v;/* rows not yet in the vector index */
	int64_t dim;          /* dimension seen in the WAL, -1 if none */
};

/* Callback: does the vector index (state at V) hold this id? */
typedef int (*wal_vec_exists_fn)(void *ctx, const char *id, size_t len);

/*
 * Read the collection's WAL rows above min(M, V) and fold them into ov.
 * dim: expected dimension (-1 unknown; then the first vector decides).
 */
int wal_overlay_build(struct cv_db *db, const struct cv_collection *c,
		      uint64_t m, uint64_t v, int64_t dim,
		      wal_vec_exists_fn vec_exists, void *ctx,
		      struct wal_overlay *ov, struct cv_err *e);
void wal_overlay_release(struct wal_overlay *ov);
struct ov_entry *wal_overlay_get(const struct wal_overlay *ov, const char *id,
				 size_t len);

/*
 * Decode a WAL vector cell (little-endian float32 x dim). where names the
 * row in messages. dim < 0: any length that is a multiple of 4 (≤ 65536
 * floats); *out_dim receives the count. out must hold dim floats (or 65536).
 */
int wal_vector_decode(const void *blob, size_t n, const char *encoding,
		      int64_t dim, float *out, int64_t *out_dim,
		      const char *where, struct cv_err *e);

/* True when a WAL topic names this collection (last component == id). */
int wal_topic_matches(const char *topic, const struct cv_collection *c);

#endif
