/*
 * chroma.sqlite3, opened read-only: schema probing across eras 0.4-1.5,
 * collections and their segments, watermarks (chroma-format.md §3).
 */
#ifndef CV_DB_H
#define CV_DB_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct cv_db {
	sqlite3 *sql;
	char *dir;           /* persist directory */
	char *path;          /* dir/chroma.sqlite3 */
	int wal_mode;        /* its header says WAL mode */
	int has_databases;   /* tenants + databases (>= 0.4.15) */
	int coll_has_topic;  /* collections.topic (<= 0.4.24) */
	int coll_has_config; /* collections.config_json_str (>= 0.5.4) */
	int coll_has_schema; /* collections.schema_str (>= 1.3) */
	int cm_has_bool;     /* collection_metadata.bool_value */
	int sm_has_bool;     /* segment_metadata.bool_value */
	int em_has_bool;     /* embedding_metadata.bool_value (>= 0.4.4) */
	int has_arrays;      /* embedding_metadata_array (>= 1.5) */
	int has_queue;       /* embeddings_queue */
	int mig_sysdb, mig_metadb, mig_queue;
	int in_txn;
};

/*
 * Open DIR/chroma.sqlite3 read-only. Never writes: no journal, no WAL file.
 * Distinguishes: not a directory, Chroma 0.3 (duckdb+parquet), not Chroma,
 * not SQLite, hot journal left by a crash.
 */
int cv_db_open(const char *dir, struct cv_db *db, struct cv_err *e);
void cv_db_close(struct cv_db *db);

/*
 * Start a read transaction and take SQLite's SHARED lock at once, so every
 * later query sees one consistent state while Chroma keeps running (its
 * writers wait; their busy timeout is 1000 s). cv_db_end releases it.
 */
int cv_db_begin(struct cv_db *db, struct cv_err *e);
void cv_db_end(struct cv_db *db);

/* Prepare a statement; errors name the database file. */
int cv_db_prepare(struct cv_db *db, const char *sql, sqlite3_stmt **st,
		  struct cv_err *e);
/* Record the current SQLite error for `what`. */
int cv_db_error(struct cv_db *db, struct cv_err *e, const char *what);

/* "1.5.0-1.5.x" etc. from the applied migrations (§1); static string. */
const char *cv_db_version_range(const struct cv_db *db);

/* Decode a seq_id cell (INTEGER, or 8/24-byte big-endian BLOB, §3.9). */
int cv_seq_decode(sqlite3_stmt *st, int col, uint64_t *v);

/* max_seq_id of a segment; *found = 0 when there is no row. */
int cv_db_watermark(struct cv_db *db, const char *segment, uint64_t *v,
		    int *found, struct cv_err *e);

#endif
