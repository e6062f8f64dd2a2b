/*
 * `chromavault inspect DIR [--json] [--check]`: what a persist directory
 * holds per collection, the Chroma versions it fits, and what is wrong with it.
 */
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chroma/collection.h"
#include "chroma/db.h"
#include "chroma/reader.h"
#include "cli/cli.h"
#include "util/strbuf.h"
#include "util/banned.h"

struct inspect {
	struct cv_db db;
	json_t *doc;
	json_t *colls;
	json_t *problems;
};

static void problem(struct inspect *in, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void problem(struct inspect *in, const char *where, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	sb_vaddf(&sb, fmt, ap);
	va_end(ap);
	json_array_append_new(in->problems, json_pack("{s:s, s:s}", "where", where,
						      "problem", sb.buf));
	sb_release(&sb);
}

static long long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : (long long)st.st_size;
}

static long long dir_size(const char *dir)
{
	struct strbuf p = STRBUF_INIT;
	struct dirent *de;
	long long total = 0, n;
	DIR *d = opendir(dir);

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		sb_reset(&p);
		sb_addf(&p, "%s/%s", dir, de->d_name);
		n = file_size(p.buf);
		total += n > 0 ? n : 0;
	}
	closedir(d);
	sb_release(&p);
	return total;
}

static void scan_records(struct inspect *in, struct cv_reader *r, json_t *jc,
			 const struct cv_collection *c)
{
	struct cv_err e = { 0 };
	struct cv_record rec;
	const struct cv_reader_stats *s = cv_reader_stats(r);
	uint64_t with_vec;
	int rc;

	while ((rc = cv_reader_next(r, &rec, &e)) == 1)
		;
	if (rc < 0)
		problem(in, c->name, "%s", e.msg);
	json_object_set_new(jc, "records", json_integer((json_int_t)s->records));
	if (s->missing_vectors)
		problem(in, c->name, "%llu records have no vector in the index or the "
			"WAL (the WAL was purged while the index is missing or "
			"behind)", (unsigned long long)s->missing_vectors);
	with_vec = s->records - s->missing_vectors;
	if (rc == 0 && s->vectors_final > with_vec)
		problem(in, c->name, "index and metadata out of step: %llu vectors "
			"have no record", (unsigned long long)(s->vectors_final - with_vec));
}

static json_t *collection_base(const struct cv_collection *c)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:s?}",
			 "name", c->name, "id", c->id, "tenant", c->tenant,
			 "database", c->database,
			 "dimension", c->has_dimension ?
			 json_integer(c->dimension) : json_null(),
			 "space", c->space, "vector_segment", c->vseg);
}

static void index_info(struct inspect *in, const struct cv_collection *c,
		       const struct cv_reader_stats *s, json_t *jc)
{
	struct strbuf dir = STRBUF_INIT;

	json_object_set_new(jc, "index_flushed", json_boolean(s->has_index));
	json_object_set_new(jc, "vectors_in_index", json_integer((json_int_t)s->index_vectors));
	json_object_set_new(jc, "index_slots", json_integer((json_int_t)s->index_slots));
	json_object_set_new(jc, "index_deleted_slots", json_integer((json_int_t)s->index_deleted));
	json_object_set_new(jc, "wal_rows_not_indexed", json_integer((json_int_t)s->wal_rows_above_v));
	json_object_set_new(jc, "watermarks", json_pack("{s:I, s:I}",
			    "metadata", (json_int_t)s->m, "vector", (json_int_t)s->v));
	if (c->vseg) {
		sb_addf(&dir, "%s/%s", in->db.dir, c->vseg);
		json_object_set_new(jc, "index_bytes", json_integer(dir_size(dir.buf)));
	}
	sb_release(&dir);
}

static void inspect_collection(struct inspect *in, const struct cv_collection *c)
{
	struct cv_err e = { 0 };
	struct cv_reader *r;
	json_t *jc = collection_base(c);

	json_array_append_new(in->colls, jc);
	if (!c->mseg || !c->vseg)
		problem(in, c->name, "collection has no %s segment row",
			c->mseg ? "VECTOR" : "METADATA");
	if (cv_reader_open(&in->db, c, &r, &e)) {
		problem(in, c->name, "%s", e.msg);
		return;
	}
	index_info(in, c, cv_reader_stats(r), jc);
	scan_records(in, r, jc, c);
	cv_reader_close(r);
}

static int is_uuid(const char *s)
{
	static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
	size_t i;

	if (strlen(s) != sizeof(shape) - 1)
		return 0;
	for (i = 0; shape[i]; i++)
		if (shape[i] == '-' ? s[i] != '-' : !strchr("0123456789abcdef", s[i]))
			return 0;
	return 1;
}

static int segment_known(struct inspect *in, const char *id)
{
	sqlite3_stmt *st;
	int found = 0;

	if (sqlite3_prepare_v2(in->db.sql, "SELECT 1 FROM segments WHERE id = ?1",
			       -1, &st, NULL) != SQLITE_OK)
		return 1;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

static void find_orphans(struct inspect *in)
{
	struct dirent *de;
	DIR *d = opendir(in->db.dir);

	if (!d)
		return;
	while ((de = readdir(d)))
		if (is_uuid(de->d_name) && !segment_known(in, de->d_name))
			problem(in, de->d_name, "orphan folder: no segment references "
				"it (left by a deleted collection; ignored)");
	closedir(d);
}

static void inspect_db(struct inspect *in)
{
	struct strbuf p = STRBUF_INIT;
	struct cv_collection *cs = NULL;
	struct cv_err e = { 0 };
	size_t n = 0, i;

	sb_addf(&p, "%s-journal", in->db.path);
	if (file_size(p.buf) > 0)
		problem(in, "chroma.sqlite3-journal", "a rollback journal is present: "
			"a write is in progress, or Chroma stopped in the middle of one");
	sb_release(&p);
	json_object_set_new(in->doc, "sqlite_bytes", json_integer(file_size(in->db.path)));
	if (cv_db_begin(&in->db, &e) || cv_collections_load(&in->db, &cs, &n, &e)) {
		problem(in, "chroma.sqlite3", "%s", e.msg);
		cv_db_end(&in->db);
		return;
	}
	for (i = 0; i < n; i++)
		inspect_collection(in, &cs[i]);
	find_orphans(in);
	cv_db_end(&in->db);
	cv_collections_free(cs, n);
}

static long long jint(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static void print_collection(json_t *c)
{
	json_t *wm = json_object_get(c, "watermarks"), *dim;

	dim = json_object_get(c, "dimension");
	printf("collection \"%s\" (%s) in %s/%s\n",
	       json_string_value(json_object_get(c, "name")),
	       json_string_value(json_object_get(c, "id")),
	       json_string_value(json_object_get(c, "tenant")),
	       json_string_value(json_object_get(c, "database")));
	if (json_is_null(dim))
		printf("  dimension none (no vector yet), space %s\n",
		       json_string_value(json_object_get(c, "space")));
	else
		printf("  dimension %lld, space %s\n", jint(c, "dimension"),
		       json_string_value(json_object_get(c, "space")));
	if (!json_object_get(c, "records"))
		return;
	printf("  records %lld, vectors in index %lld (%lld slots, %lld deleted), "
	       "WAL rows not yet indexed %lld\n", jint(c, "records"),
	       jint(c, "vectors_in_index"), jint(c, "index_slots"),
	       jint(c, "index_deleted_slots"), jint(c, "wal_rows_not_indexed"));
	printf("  watermarks: metadata %lld, vector %lld; index %s",
	       jint(wm, "metadata"), jint(wm, "vector"),
	       json_is_true(json_object_get(c, "index_flushed")) ?
	       "flushed" : "not flushed yet");
	if (jint(c, "index_bytes") >= 0)
		printf(", %lld bytes on disk\n", jint(c, "index_bytes"));
	else
		printf(", no index folder\n");
}

static void print_text(json_t *doc)
{
	json_t *v, *m = json_object_get(doc, "migrations");
	size_t i;

	printf("%s: Chroma %s (migrations sysdb %lld, metadb %lld, "
	       "embeddings_queue %lld), chroma.sqlite3 %lld bytes\n",
	       json_string_value(json_object_get(doc, "path")),
	       json_string_value(json_object_get(doc, "chroma_version")),
	       jint(m, "sysdb"), jint(m, "metadb"), jint(m, "embeddings_queue"),
	       jint(doc, "sqlite_bytes"));
	json_array_foreach(json_object_get(doc, "collections"), i, v)
		print_collection(v);
	v = json_object_get(doc, "problems");
	if (!json_array_size(v)) {
		printf("problems: none\n");
		return;
	}
	printf("problems: %zu\n", json_array_size(v));
	json_array_foreach(v, i, m)
		printf("  %s: %s\n", json_string_value(json_object_get(m, "where")),
		       json_string_value(json_object_get(m, "problem")));
}

static int inspect_run(int argc, char **argv)
{
	static const char *const names[] = { "json", "check", NULL };
	struct inspect in;
	struct cv_err e = { 0 };
	int flags[2], nprob, rc;

	if ((rc = cli_flags(&cmd_inspect, argc, argv, names, flags, 1, "one DIR")) >= 0)
		return rc;
	memset(&in, 0, sizeof(in));
	if (cv_db_open(argv[optind], &in.db, &e))
		return cli_fail(&cmd_inspect, &e);
	in.colls = json_array();
	in.problems = json_array();
	in.doc = json_pack("{s:s, s:s, s:{s:i, s:i, s:i}, s:o, s:o}",
			   "path", argv[optind], "chroma_version",
			   cv_db_version_range(&in.db), "migrations",
			   "sysdb", in.db.mig_sysdb, "metadb", in.db.mig_metadb,
			   "embeddings_queue", in.db.mig_queue,
			   "collections", in.colls, "problems", in.problems);
	inspect_db(&in);
	if (flags[0]) {
		json_dumpf(in.doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
	} else
		print_text(in.doc);
	nprob = (int)json_array_size(in.problems);
	json_decref(in.doc);
	cv_db_close(&in.db);
	return flags[1] && nprob ? CV_EXIT_CORRUPT : CV_EXIT_OK;
}

const struct cli_cmd cmd_inspect = {
	.name = "inspect",
	.usage = "inspect DIR [--json] [--check]",
	.summary = "Describe a persist directory: per collection its dimension, space,\n"
		   "records, vectors in the index, WAL rows not yet indexed,\n"
		   "watermarks and bytes on disk; the Chroma versions its migrations\n"
		   "imply; and the problems found (orphan folders, index and metadata\n"
		   "out of step, records without a vector, damaged index files).",
	.options =
		"  --json     machine-readable report\n"
		"  --check    exit 3 when a problem is found\n",
	.run = inspect_run,
};
