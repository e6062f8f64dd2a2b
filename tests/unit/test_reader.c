/*
 * Unit tests for chroma/reader.c and chroma/wal.c: a small Rust-era database
 * built here, whose WAL tail exercises every replay rule of
 * chroma-format.md §4.4 (update with a deleted key, upsert merge, delete,
 * re-add, add of an existing id, update of a missing id).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chroma/collection.h"
#include "chroma/db.h"
#include "chroma/jsonl.h"
#include "chroma/reader.h"
#include "chroma/wal.h"

static const char schema[] =
	"CREATE TABLE migrations (dir TEXT, version INTEGER, filename TEXT, sql TEXT, hash TEXT);"
	"INSERT INTO migrations VALUES ('sysdb',10,'','',''),('metadb',6,'','',''),"
	" ('embeddings_queue',2,'','','');"
	"CREATE TABLE tenants (id TEXT PRIMARY KEY);"
	"CREATE TABLE databases (id TEXT PRIMARY KEY, name TEXT, tenant_id TEXT);"
	"INSERT INTO databases VALUES ('00000000-0000-0000-0000-000000000000',"
	" 'default_database', 'default_tenant');"
	"CREATE TABLE collections (id TEXT PRIMARY KEY, name TEXT, dimension INTEGER,"
	" database_id TEXT, config_json_str TEXT, schema_str TEXT);"
	"CREATE TABLE collection_metadata (collection_id TEXT, key TEXT, str_value TEXT,"
	" int_value INTEGER, float_value REAL, bool_value INTEGER);"
	"CREATE TABLE segments (id TEXT PRIMARY KEY, type TEXT, scope TEXT, collection TEXT);"
	"CREATE TABLE segment_metadata (segment_id TEXT, key TEXT, str_value TEXT,"
	" int_value INTEGER, float_value REAL, bool_value INTEGER);"
	"CREATE TABLE embeddings (id INTEGER PRIMARY KEY, segment_id TEXT, embedding_id TEXT,"
	" seq_id BLOB, UNIQUE (segment_id, embedding_id));"
	"CREATE TABLE embedding_metadata (id INTEGER, key TEXT, string_value TEXT,"
	" int_value INTEGER, float_value REAL, bool_value INTEGER, PRIMARY KEY (id, key));"
	"CREATE TABLE embedding_metadata_array (id INTEGER, key TEXT, string_value TEXT,"
	" int_value INTEGER, float_value REAL, bool_value INTEGER);"
	"CREATE TABLE max_seq_id (segment_id TEXT PRIMARY KEY, seq_id INTEGER);"
	"CREATE TABLE embeddings_queue (seq_id INTEGER PRIMARY KEY, operation INTEGER,"
	" topic TEXT, id TEXT, vector BLOB, encoding TEXT, metadata TEXT);";

#define C1 "11111111-1111-1111-1111-111111111111"
#define C2 "22222222-2222-2222-2222-222222222222"
#define T1 "'persistent://default/default/" C1 "'"
#define T2 "'persistent://default/default/" C2 "'"
#define V(a, b) "x'" a b "'"
/* float32 little-endian: 1=0000803f 2=00000040 ... */
#define F1 "0000803f"
#define F2 "00000040"
#define F3 "00004040"
#define F7 "0000e040"
#define F8 "00000041"
#define F9 "00001041"

static const char data[] =
	"INSERT INTO collections VALUES ('" C1 "', 'one', 2,"
	" '00000000-0000-0000-0000-000000000000', '{}', NULL),"
	" ('" C2 "', 'two', 2, '00000000-0000-0000-0000-000000000000', '{}', NULL);"
	"INSERT INTO collection_metadata VALUES ('" C1 "', 'owner', 'me', NULL, NULL, NULL);"
	"INSERT INTO segments VALUES ('m1','urn:chroma:segment/metadata/sqlite','METADATA','" C1 "'),"
	" ('v1','urn:chroma:segment/vector/hnsw-local-persisted','VECTOR','" C1 "'),"
	" ('m2','urn:chroma:segment/metadata/sqlite','METADATA','" C2 "'),"
	" ('v2','urn:chroma:segment/vector/hnsw-local-persisted','VECTOR','" C2 "');"
	/* metadata segment of "one" at M = 3 */
	"INSERT INTO embeddings VALUES (1,'m1','a',1),(2,'m1','b',2),(3,'m1','c',3),(4,'m2','z',4);"
	"INSERT INTO embedding_metadata VALUES (1,'k',NULL,1,NULL,NULL),"
	" (1,'chroma:document','da',NULL,NULL,NULL),(2,'x','s',NULL,NULL,NULL),"
	" (4,'other','zz',NULL,NULL,NULL);"
	"INSERT INTO embedding_metadata_array VALUES (3,'arr',NULL,1,NULL,NULL),"
	" (3,'arr',NULL,2,NULL,NULL);"
	"INSERT INTO max_seq_id VALUES ('m1', 3), ('m2', 4);"
	"INSERT INTO embeddings_queue VALUES"
	" (1,0," T1 ",'a'," V(F1, F2) ",'FLOAT32','{\"k\":1,\"chroma:document\":\"da\"}'),"
	" (2,0," T1 ",'b'," V(F3, F3) ",'FLOAT32','{\"x\":\"s\"}'),"
	" (3,0," T1 ",'c'," V(F1, F1) ",'FLOAT32','{\"arr\":[1,2]}'),"
	" (4,0," T2 ",'z'," V(F9, F9) ",'FLOAT32','{\"other\":\"zz\"}'),"
	" (5,1," T1 ",'a',NULL,NULL,'{\"k\":null,\"chroma:document\":\"da2\",\"n\":2.0}'),"
	" (6,2," T1 ",'b'," V(F7, F8) ",'FLOAT32','{\"y\":true}'),"
	" (7,3," T1 ",'c',NULL,NULL,'{}'),"
	" (8,0," T1 ",'d'," V(F9, F9) ",'FLOAT32','{\"chroma:uri\":\"u\"}'),"
	" (9,0," T1 ",'c'," V(F2, F2) ",'FLOAT32','{}'),"
	" (10,0," T1 ",'a'," V(F9, F9) ",'FLOAT32','{\"z\":1}'),"
	" (11,1," T1 ",'e'," V(F1, F1) ",'FLOAT32','{}'),"
	" (12,2," T1 ",'f',NULL,NULL,'{\"q\":1}'),"
	" (13,4," T1 ",'a',NULL,NULL,'{}');";

static char dir[64];

static int make_db(const char *extra)
{
	char path[128];
	sqlite3 *db;
	int rc;

	snprintf(path, sizeof(path), "%s/chroma.sqlite3", dir);
	unlink(path);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return -1;
	rc = sqlite3_exec(db, schema, NULL, NULL, NULL) ||
	     sqlite3_exec(db, data, NULL, NULL, NULL) ||
	     (extra && sqlite3_exec(db, extra, NULL, NULL, NULL));
	sqlite3_close(db);
	return rc ? -1 : 0;
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/cv-test-reader-XXXXXX");
	return mkdtemp(dir) ? make_db(NULL) : -1;
}

static int teardown(void **state)
{
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/chroma.sqlite3", dir);
	unlink(path);
	rmdir(dir);
	return 0;
}

/* Export collection `name` as JSONL text into out. */
static int export_one(const char *name, struct strbuf *out, struct cv_err *e)
{
	struct cv_collection *cs, *c;
	struct cv_reader *r;
	struct cv_record rec;
	struct cv_db db;
	size_t n;
	int rc;

	if ((rc = cv_db_open(dir, &db, e)))
		return rc;
	cv_db_begin(&db, e);
	rc = cv_collections_load(&db, &cs, &n, e);
	if (!rc && !(rc = cv_collection_find(cs, n, name, NULL, NULL, &c, e))) {
		if (!(rc = cv_reader_open(&db, c, &r, e))) {
			while ((rc = cv_reader_next(r, &rec, e)) == 1)
				jsonl_record(out, &rec);
			cv_reader_close(r);
		}
	}
	if (n)
		cv_collections_free(cs, n);
	cv_db_close(&db);
	return rc;
}

static void test_replay(void **state)
{
	struct strbuf out = STRBUF_INIT;
	struct cv_err e = { 0 };

	(void)state;
	assert_int_equal(export_one("one", &out, &e), 0);
	assert_string_equal(out.buf,
		"{\"id\":\"a\",\"metadata\":{\"n\":2.0},\"embedding\":[1.0,2.0],\"text_chunk\":\"da2\"}\n"
		"{\"id\":\"b\",\"metadata\":{\"x\":\"s\",\"y\":true},\"embedding\":[7.0,8.0],\"text_chunk\":null}\n"
		"{\"id\":\"d\",\"metadata\":null,\"embedding\":[9.0,9.0],\"text_chunk\":null,\"uri\":\"u\"}\n"
		"{\"id\":\"c\",\"metadata\":null,\"embedding\":[2.0,2.0],\"text_chunk\":null}\n"
		"{\"id\":\"f\",\"metadata\":{\"q\":1},\"embedding\":null,\"text_chunk\":null}\n");
	sb_release(&out);
}

static void test_other_collection(void **state)
{
	struct strbuf out = STRBUF_INIT;
	struct cv_err e = { 0 };

	(void)state;
	assert_int_equal(export_one("two", &out, &e), 0);
	assert_string_equal(out.buf,
		"{\"id\":\"z\",\"metadata\":{\"other\":\"zz\"},\"embedding\":[9.0,9.0],\"text_chunk\":null}\n");
	sb_release(&out);
}

static void expect_error(const char *extra, const char *needle, int code)
{
	struct strbuf out = STRBUF_INIT;
	struct cv_err e = { 0 };

	assert_int_equal(make_db(extra), 0);
	assert_int_equal(export_one("one", &out, &e), code);
	if (!strstr(e.msg, needle))
		fail_msg("message \"%s\" lacks \"%s\"", e.msg, needle);
	sb_release(&out);
	assert_int_equal(make_db(NULL), 0);
}

static void test_bad_rows(void **state)
{
	(void)state;
	expect_error("UPDATE embeddings_queue SET vector = x'0000803f' WHERE seq_id = 8",
		     "row seq_id 8: vector has dimension 1, the collection has 2",
		     CV_ECORRUPT);
	expect_error("UPDATE embeddings_queue SET metadata = '{\"k\":' WHERE seq_id = 5",
		     "row seq_id 5: metadata is not valid JSON", CV_ECORRUPT);
	expect_error("UPDATE embeddings_queue SET operation = 9 WHERE seq_id = 6",
		     "row seq_id 6: unknown operation 9", CV_ECORRUPT);
	expect_error("UPDATE embeddings_queue SET vector = x'00' WHERE seq_id = 8",
		     "vector of 1 bytes is not a float32 array", CV_ECORRUPT);
}

static void test_not_found(void **state)
{
	struct strbuf out = STRBUF_INIT;
	struct cv_err e = { 0 };

	(void)state;
	assert_int_equal(export_one("nope", &out, &e), CV_ENOTFOUND);
	assert_non_null(strstr(e.msg, "collection \"nope\" not found"));
	sb_release(&out);
}

static void test_topic_match(void **state)
{
	struct cv_collection c = { 0 };

	(void)state;
	c.id = (char *)C1;
	c.topic = (char *)"persistent://default/default/" C1;
	assert_true(wal_topic_matches("persistent://default/default/" C1, &c));
	assert_true(wal_topic_matches("persistent://t/ns/" C1, &c));
	assert_false(wal_topic_matches("persistent://default/default/" C2, &c));
	assert_false(wal_topic_matches("x" C1, &c));
	assert_false(wal_topic_matches(NULL, &c));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_other_collection),
		cmocka_unit_test(test_bad_rows),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_topic_match),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
