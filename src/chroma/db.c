/*
 * chroma.sqlite3 access (see db.h): read-only open with clear diagnostics,
 * schema probing with PRAGMA table_info, version map of chroma-format.md §1.
 */
#include "chroma/db.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/strbuf.h"
#include "util/xalloc.h"
#include "util/banned.h"

static int path_exists(const char *dir, const char *name, struct stat *st)
{
	struct strbuf sb = STRBUF_INIT;
	struct stat tmp;
	int r;

	sb_addf(&sb, "%s/%s", dir, name);
	r = stat(sb.buf, st ? st : &tmp) == 0;
	sb_release(&sb);
	return r;
}

static int check_dir(const char *dir, struct cv_err *e)
{
	struct stat st;

	if (stat(dir, &st))
		return cv_errno(e, CV_ENOTFOUND, "%s", dir);
	if (!S_ISDIR(st.st_mode))
		return cv_errf(e, CV_EUSAGE, "%s: not a directory", dir);
	if (path_exists(dir, "chroma.sqlite3", NULL))
		return 0;
	if (path_exists(dir, "chroma-collections.parquet", NULL) ||
	    path_exists(dir, "chroma-embeddings.parquet", NULL))
		return cv_errf(e, CV_EUNSUP,
			       "%s: unsupported format (Chroma 0.3): duckdb+parquet "
			       "layout; open it once with Chroma 0.4's chroma-migrate "
			       "or export it with Chroma 0.3", dir);
	return cv_errf(e, CV_ENOTFOUND,
		       "%s: not a Chroma persist directory (no chroma.sqlite3)", dir);
}

/* The magic string; *wal set when the header's versions say WAL mode. */
static int check_sqlite_header(const char *path, int *wal, struct cv_err *e)
{
	static const char magic[16] = "SQLite format 3";
	unsigned char head[20];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		return cv_errno(e, CV_EIO, "%s: cannot open", path);
	n = fread(head, 1, sizeof(head), f);
	fclose(f);
	if (n < sizeof(magic) || memcmp(head, magic, sizeof(magic)))
		return cv_errf(e, CV_ECORRUPT,
			       "%s: not an SQLite database (bad header at offset 0)",
			       path);
	*wal = n == sizeof(head) && head[18] == 2 && head[19] == 2;
	return 0;
}

static int column_exists(struct cv_db *db, const char *table, const char *col)
{
	struct strbuf sb = STRBUF_INIT;
	sqlite3_stmt *st;
	int found = 0;

	sb_addf(&sb, "PRAGMA table_info(\"%s\")", table);
	if (sqlite3_prepare_v2(db->sql, sb.buf, -1, &st, NULL) == SQLITE_OK) {
		while (!found && sqlite3_step(st) == SQLITE_ROW)
			found = !strcmp((const char *)sqlite3_column_text(st, 1), col);
		sqlite3_finalize(st);
	}
	sb_release(&sb);
	return found;
}

static int table_exists(struct cv_db *db, const char *table)
{
	sqlite3_stmt *st;
	int found = 0;

	if (sqlite3_prepare_v2(db->sql,
			       "SELECT 1 FROM sqlite_master WHERE name = ?1", -1,
			       &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

static void probe_migrations(struct cv_db *db)
{
	sqlite3_stmt *st;
	const char *dir;
	int v;

	if (sqlite3_prepare_v2(db->sql,
			       "SELECT dir, max(version) FROM migrations GROUP BY dir",
			       -1, &st, NULL) != SQLITE_OK)
		return;
	while (sqlite3_step(st) == SQLITE_ROW) {
		dir = (const char *)sqlite3_column_text(st, 0);
		v = sqlite3_column_int(st, 1);
		if (!dir)
			continue;
		if (!strcmp(dir, "sysdb"))
			db->mig_sysdb = v;
		else if (!strcmp(dir, "metadb"))
			db->mig_metadb = v;
		else if (!strcmp(dir, "embeddings_queue"))
			db->mig_queue = v;
	}
	sqlite3_finalize(st);
}

static int probe_schema(struct cv_db *db, struct cv_err *e)
{
	if (!table_exists(db, "collections") || !table_exists(db, "segments") ||
	    !table_exists(db, "embeddings"))
		return cv_errf(e, CV_ECORRUPT,
			       "%s: not a Chroma database (no collections, segments "
			       "or embeddings table)", db->path);
	db->has_databases = table_exists(db, "databases");
	db->coll_has_topic = column_exists(db, "collections", "topic");
	db->coll_has_config = column_exists(db, "collections", "config_json_str");
	db->coll_has_schema = column_exists(db, "collections", "schema_str");
	db->cm_has_bool = column_exists(db, "collection_metadata", "bool_value");
	db->sm_has_bool = column_exists(db, "segment_metadata", "bool_value");
	db->em_has_bool = column_exists(db, "embedding_metadata", "bool_value");
	db->has_arrays = table_exists(db, "embedding_metadata_array");
	db->has_queue = table_exists(db, "embeddings_queue");
	if (table_exists(db, "migrations"))
		probe_migrations(db);
	return 0;
}

static int open_sqlite(struct cv_db *db, struct cv_err *e)
{
	int rc;

	rc = sqlite3_open_v2(db->path, &db->sql,
			     SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		return cv_errf(e, CV_EIO, "%s: cannot open: %s", db->path,
			       db->sql ? sqlite3_errmsg(db->sql) : sqlite3_errstr(rc));
	/* Chroma's own writers wait up to 1000 s; a reader can wait a minute. */
	sqlite3_busy_timeout(db->sql, 60000);
	/* 2 MiB of page cache: reads are mostly in page order, and an export's
	 * memory must not grow with the database (16 MiB was no faster) */
	sqlite3_exec(db->sql, "PRAGMA cache_size=-2048", NULL, NULL, NULL);
	sqlite3_exec(db->sql, "PRAGMA query_only=1", NULL, NULL, NULL);
	return 0;
}

int cv_db_open(const char *dir, struct cv_db *db, struct cv_err *e)
{
	struct strbuf sb = STRBUF_INIT;
	int rc;

	memset(db, 0, sizeof(*db));
	if ((rc = check_dir(dir, e)))
		return rc;
	db->dir = xstrdup(dir);
	sb_addf(&sb, "%s/chroma.sqlite3", dir);
	db->path = sb_detach(&sb, NULL);
	if ((rc = check_sqlite_header(db->path, &db->wal_mode, e)))
		goto fail;
	if ((rc = open_sqlite(db, e)))
		goto fail;
	if ((rc = cv_db_begin(db, e)))
		goto fail;
	rc = probe_schema(db, e);
	cv_db_end(db);
	if (rc)
		goto fail;
	return 0;
fail:
	cv_db_close(db);
	return rc;
}

void cv_db_close(struct cv_db *db)
{
	if (db->in_txn)
		cv_db_end(db);
	sqlite3_close_v2(db->sql);
	free(db->dir);
	free(db->path);
	memset(db, 0, sizeof(*db));
}

int cv_db_error(struct cv_db *db, struct cv_err *e, const char *what)
{
	int ext = sqlite3_extended_errcode(db->sql);
	int code = CV_EIO;

	if (ext == SQLITE_CORRUPT || ext == SQLITE_NOTADB ||
	    (ext & 0xff) == SQLITE_CORRUPT)
		code = CV_ECORRUPT;
	if (ext == SQLITE_READONLY_ROLLBACK || ext == SQLITE_READONLY_RECOVERY)
		return cv_errf(e, CV_ECORRUPT,
			       "%s: a hot journal (chroma.sqlite3-journal) was left "
			       "by an interrupted write; it must be rolled back by "
			       "opening the directory once with Chroma (or sqlite3) "
			       "with write access before it can be read",
			       db->path);
	if (db->wal_mode && ((ext & 0xff) == SQLITE_READONLY ||
			     (ext & 0xff) == SQLITE_CANTOPEN))
		return cv_errf(e, CV_EIO, "%s: %s: %s: the database is in WAL mode, "
			       "and SQLite reads it only with chroma.sqlite3-wal and "
			       "-shm beside it, which this user cannot create (give "
			       "it write access to the folder, or switch the database "
			       "back with PRAGMA journal_mode=DELETE)", db->path, what,
			       sqlite3_errmsg(db->sql));
	return cv_errf(e, code, "%s: %s: %s", db->path, what,
		       sqlite3_errmsg(db->sql));
}

int cv_db_prepare(struct cv_db *db, const char *sql, sqlite3_stmt **st,
		  struct cv_err *e)
{
	if (sqlite3_prepare_v2(db->sql, sql, -1, st, NULL) != SQLITE_OK) {
		*st = NULL;
		return cv_db_error(db, e, "query failed");
	}
	return 0;
}

int cv_db_begin(struct cv_db *db, struct cv_err *e)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_exec(db->sql, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return cv_db_error(db, e, "cannot begin a read transaction");
	db->in_txn = 1;
	rc = sqlite3_prepare_v2(db->sql, "SELECT count(*) FROM sqlite_master",
				-1, &st, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		rc = cv_db_error(db, e, "cannot read");
		cv_db_end(db);
		return rc;
	}
	return 0;
}

void cv_db_end(struct cv_db *db)
{
	if (!db->in_txn)
		return;
	sqlite3_exec(db->sql, "COMMIT", NULL, NULL, NULL);
	db->in_txn = 0;
}

const char *cv_db_version_range(const struct cv_db *db)
{
	int s = db->mig_sysdb, m = db->mig_metadb;

	if (s > 10 || m > 6)
		return "newer than 1.5";
	if (s == 10)
		return m >= 6 ? "1.5.0-1.5.x" : "1.3.0-1.4.x";
	if (s == 9)
		return m >= 5 ? "1.0.0-1.2.x" : "0.5.6-0.6.3";
	if (s == 8)
		return "0.5.6-0.6.3";
	if (s == 7)
		return "0.5.4-0.5.5";
	if (s == 6)
		return "0.5.1-0.5.3";
	if (s == 5)
		return "0.5.0";
	if (s == 4)
		return "0.4.15-0.4.24";
	if (s == 3)
		return m >= 3 ? "0.4.6-0.4.14" : m == 2 ? "0.4.4-0.4.5" : "0.4.0-0.4.3";
	return "unknown";
}

int cv_seq_decode(sqlite3_stmt *st, int col, uint64_t *v)
{
	const unsigned char *b;
	int type = sqlite3_column_type(st, col), n, i;

	if (type == SQLITE_INTEGER) {
		*v = (uint64_t)sqlite3_column_int64(st, col);
		return 0;
	}
	if (type != SQLITE_BLOB)
		return -1;
	b = sqlite3_column_blob(st, col);
	n = sqlite3_column_bytes(st, col);
	if (n != 8 && n != 24)
		return -1;
	/* 24-byte ids above 2^64 are never produced locally. */
	for (i = 0; i < n - 8; i++)
		if (b[i])
			return -1;
	*v = 0;
	for (i = n - 8; i < n; i++)
		*v = (*v << 8) | b[i];
	return 0;
}

int cv_db_watermark(struct cv_db *db, const char *segment, uint64_t *v,
		    int *found, struct cv_err *e)
{
	sqlite3_stmt *st;
	int rc;

	*found = 0;
	*v = 0;
	if (!segment || !table_exists(db, "max_seq_id"))
		return 0;
	if ((rc = cv_db_prepare(db, "SELECT seq_id FROM max_seq_id WHERE segment_id = ?1",
				&st, e)))
		return rc;
	sqlite3_bind_text(st, 1, segment, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (cv_seq_decode(st, 0, v) == 0)
			*found = 1;
		else if (sqlite3_column_type(st, 0) != SQLITE_NULL)
			rc = cv_errf(e, CV_ECORRUPT,
				     "%s: max_seq_id row of segment %s: seq_id is "
				     "neither an integer nor an 8-byte blob",
				     db->path, segment);
		if (rc == SQLITE_ROW)
			rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = cv_db_error(db, e, "reading max_seq_id");
	}
	sqlite3_finalize(st);
	return rc;
}
