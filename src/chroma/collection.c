/*
 * Collection listing (see collection.h), with the distance-space resolution
 * that Rust Chroma applies (chroma-format.md §3.5).
 */
#include "chroma/collection.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "chroma/meta.h"
#include "util/strbuf.h"
#include "util/xalloc.h"
#include "util/banned.h"

/* The HNSW parameters that decide between config and segment metadata. */
struct hnsw_params {
	char space[8];
	double ef_construction, ef_search, m, resize_factor, sync_threshold;
	int any;
};

static void params_default(struct hnsw_params *p)
{
	memcpy(p->space, "l2", 3);
	p->ef_construction = 100;
	p->ef_search = 100;
	p->m = 16;
	p->resize_factor = 1.2;
	p->sync_threshold = 1000;
	p->any = 0;
}

static int params_equal(const struct hnsw_params *a, const struct hnsw_params *b)
{
	return !strcmp(a->space, b->space) &&
	       a->ef_construction == b->ef_construction &&
	       a->ef_search == b->ef_search && a->m == b->m &&
	       a->resize_factor == b->resize_factor &&
	       a->sync_threshold == b->sync_threshold;
}

static void set_space(struct hnsw_params *p, const char *s)
{
	if (s && (!strcmp(s, "l2") || !strcmp(s, "cosine") || !strcmp(s, "ip"))) {
		snprintf(p->space, sizeof(p->space), "%s", s);
		p->any = 1;
	}
}

static void set_num(double *dst, json_t *v)
{
	if (json_is_number(v))
		*dst = json_number_value(v);
}

static void params_from_json(struct hnsw_params *p, json_t *cfg)
{
	if (!json_is_object(cfg))
		return;
	set_space(p, json_string_value(json_object_get(cfg, "space")));
	set_num(&p->ef_construction, json_object_get(cfg, "ef_construction"));
	set_num(&p->ef_search, json_object_get(cfg, "ef_search"));
	set_num(&p->m, json_object_get(cfg, "max_neighbors"));
	set_num(&p->resize_factor, json_object_get(cfg, "resize_factor"));
	set_num(&p->sync_threshold, json_object_get(cfg, "sync_threshold"));
}

/* The config C of §3.5 step 1: schema_str first, else config_json_str. */
static void params_from_collection(struct hnsw_params *p, const char *schema,
				   const char *config)
{
	json_t *root, *vi;

	params_default(p);
	if (schema && (root = json_loads(schema, 0, NULL))) {
		vi = json_object_get(json_object_get(json_object_get(json_object_get(
			json_object_get(root, "keys"), "#embedding"), "float_list"),
			"vector_index"), "config");
		if (!vi)
			vi = json_object_get(json_object_get(json_object_get(
				json_object_get(root, "defaults"), "float_list"),
				"vector_index"), "config");
		params_from_json(p, vi);
		params_from_json(p, json_object_get(vi, "hnsw"));
		json_decref(root);
		return;
	}
	if (config && (root = json_loads(config, 0, NULL))) {
		params_from_json(p, json_object_get(json_object_get(root,
					"vector_index"), "hnsw"));
		json_decref(root);
	}
}

void cv_space_from_json(const char *schema, const char *config, char out[8])
{
	struct hnsw_params p;

	params_from_collection(&p, schema, config);
	memcpy(out, p.space, sizeof(p.space));
}

/* The legacy L of §3.5 step 2: hnsw:* keys of a metadata table. */
static int params_from_kv(struct cv_db *db, struct hnsw_params *p,
			  const char *table, const char *idcol, const char *id,
			  int has_bool, struct cv_err *e)
{
	struct strbuf q = STRBUF_INIT;
	sqlite3_stmt *st;
	const char *k;
	int rc;

	sb_addf(&q, "SELECT key, str_value, int_value, float_value FROM %s "
		"WHERE %s = ?1 AND key LIKE 'hnsw:%%'", table, idcol);
	rc = cv_db_prepare(db, q.buf, &st, e);
	sb_release(&q);
	if (rc)
		return rc;
	(void)has_bool;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		k = (const char *)sqlite3_column_text(st, 0);
		double num = sqlite3_column_type(st, 2) != SQLITE_NULL ?
			     (double)sqlite3_column_int64(st, 2) :
			     sqlite3_column_double(st, 3);
		if (!strcmp(k, "hnsw:space"))
			set_space(p, (const char *)sqlite3_column_text(st, 1));
		else if (!strcmp(k, "hnsw:construction_ef"))
			p->ef_construction = num;
		else if (!strcmp(k, "hnsw:search_ef"))
			p->ef_search = num;
		else if (!strcmp(k, "hnsw:M"))
			p->m = num;
		else if (!strcmp(k, "hnsw:resize_factor"))
			p->resize_factor = num;
		else if (!strcmp(k, "hnsw:sync_threshold"))
			p->sync_threshold = num;
	}
	sqlite3_finalize(st);
	return 0;
}

static int resolve_space(struct cv_db *db, struct cv_collection *c,
			 struct cv_err *e)
{
	struct hnsw_params cfg, legacy, defaults;
	int rc;

	params_default(&defaults);
	params_from_collection(&cfg, c->schema_json, c->config_json);
	params_default(&legacy);
	if (c->vseg && (rc = params_from_kv(db, &legacy, "segment_metadata",
					    "segment_id", c->vseg, db->sm_has_bool, e)))
		return rc;
	/* Python era: the space may live only in the collection metadata. */
	if (!legacy.any && !c->schema_json &&
	    (rc = params_from_kv(db, &legacy, "collection_metadata",
				 "collection_id", c->id, db->cm_has_bool, e)))
		return rc;
	if (params_equal(&cfg, &defaults) && !params_equal(&legacy, &cfg))
		memcpy(c->space, legacy.space, sizeof(c->space));
	else
		memcpy(c->space, cfg.space, sizeof(c->space));
	return 0;
}

static char *col_dup(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	return t ? xmemdupz(t, (size_t)sqlite3_column_bytes(st, col)) : NULL;
}

static int load_metadata(struct cv_db *db, struct cv_collection *c,
			 struct cv_err *e)
{
	struct strbuf out = STRBUF_INIT;
	struct meta m;
	sqlite3_stmt *st;
	const char *sql = db->cm_has_bool ?
		"SELECT key, str_value, int_value, float_value, bool_value "
		"FROM collection_metadata WHERE collection_id = ?1 ORDER BY key" :
		"SELECT key, str_value, int_value, float_value "
		"FROM collection_metadata WHERE collection_id = ?1 ORDER BY key";
	int rc;

	if ((rc = cv_db_prepare(db, sql, &st, e)))
		return rc;
	meta_init(&m);
	sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		meta_add_row(&m, (const char *)sqlite3_column_text(st, 0),
			     (size_t)sqlite3_column_bytes(st, 0), 0, st, 1,
			     db->cm_has_bool ? 4 : -1);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		meta_release(&m);
		return cv_db_error(db, e, "reading collection_metadata");
	}
	meta_write_json(&m, &out);
	c->metadata_json = sb_detach(&out, NULL);
	meta_release(&m);
	return 0;
}

static void build_query(struct cv_db *db, struct strbuf *q)
{
	sb_adds(q, "SELECT c.id, c.name, c.dimension, ");
	sb_adds(q, db->has_databases ?
		"d.tenant_id, d.name, " : "'default_tenant', 'default_database', ");
	sb_adds(q, db->coll_has_topic ? "c.topic, " : "NULL, ");
	sb_adds(q, db->coll_has_config ? "c.config_json_str, " : "NULL, ");
	sb_adds(q, db->coll_has_schema ? "c.schema_str, " : "NULL, ");
	sb_adds(q, "(SELECT s.id FROM segments s WHERE s.collection = c.id AND "
		"s.scope = 'METADATA' ORDER BY s.id LIMIT 1), "
		"(SELECT s.id FROM segments s WHERE s.collection = c.id AND "
		"s.scope = 'VECTOR' ORDER BY s.id LIMIT 1) FROM collections c ");
	if (db->has_databases)
		sb_adds(q, "LEFT JOIN databases d ON d.id = c.database_id ");
	sb_adds(q, "ORDER BY 4, 5, c.name");
}

static void fill_one(sqlite3_stmt *st, struct cv_collection *c)
{
	struct strbuf t = STRBUF_INIT;

	memset(c, 0, sizeof(*c));
	c->id = col_dup(st, 0);
	c->name = col_dup(st, 1);
	c->has_dimension = sqlite3_column_type(st, 2) == SQLITE_INTEGER;
	c->dimension = sqlite3_column_int64(st, 2);
	c->tenant = col_dup(st, 3);
	c->database = col_dup(st, 4);
	c->topic = col_dup(st, 5);
	c->config_json = col_dup(st, 6);
	c->schema_json = col_dup(st, 7);
	c->mseg = col_dup(st, 8);
	c->vseg = col_dup(st, 9);
	if (!c->tenant)
		c->tenant = xstrdup("default_tenant");
	if (!c->database)
		c->database = xstrdup("default_database");
	if (!c->topic) {
		sb_addf(&t, "persistent://default/default/%s", c->id ? c->id : "");
		c->topic = sb_detach(&t, NULL);
	}
}

int cv_collections_load(struct cv_db *db, struct cv_collection **out,
			size_t *n, struct cv_err *e)
{
	struct strbuf q = STRBUF_INIT;
	struct cv_collection *v = NULL;
	size_t len = 0, cap = 0, i;
	sqlite3_stmt *st;
	int rc;

	build_query(db, &q);
	rc = cv_db_prepare(db, q.buf, &st, e);
	sb_release(&q);
	if (rc)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap ? cap * 2 : 8;
			v = xrealloc(v, cap * sizeof(*v));
		}
		fill_one(st, &v[len++]);
	}
	sqlite3_finalize(st);
	rc = rc == SQLITE_DONE ? 0 : cv_db_error(db, e, "reading collections");
	for (i = 0; !rc && i < len; i++) {
		if (!v[i].id || !v[i].name)
			rc = cv_errf(e, CV_ECORRUPT, "%s: collections row %zu has no "
				     "id or name", db->path, i + 1);
		if (!rc)
			rc = load_metadata(db, &v[i], e);
		if (!rc)
			rc = resolve_space(db, &v[i], e);
	}
	if (rc) {
		cv_collections_free(v, len);
		return rc;
	}
	*out = v;
	*n = len;
	return 0;
}

void cv_collection_release(struct cv_collection *c)
{
	free(c->id);
	free(c->name);
	free(c->tenant);
	free(c->database);
	free(c->topic);
	free(c->mseg);
	free(c->vseg);
	free(c->config_json);
	free(c->schema_json);
	free(c->metadata_json);
	memset(c, 0, sizeof(*c));
}

void cv_collections_free(struct cv_collection *c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		cv_collection_release(&c[i]);
	free(c);
}

int cv_collection_find(struct cv_collection *c, size_t n, const char *name,
		       const char *tenant, const char *database,
		       struct cv_collection **found, struct cv_err *e)
{
	struct cv_collection *hit = NULL;
	size_t i, hits = 0;

	for (i = 0; i < n; i++) {
		if (strcmp(c[i].name, name) ||
		    (tenant && strcmp(c[i].tenant, tenant)) ||
		    (database && strcmp(c[i].database, database)))
			continue;
		hit = &c[i];
		hits++;
	}
	if (!hits)
		return cv_errf(e, CV_ENOTFOUND, "collection \"%s\" not found%s%s%s%s",
			       name, tenant ? " in tenant " : "", tenant ? tenant : "",
			       database ? " database " : "", database ? database : "");
	if (hits > 1)
		return cv_errf(e, CV_EUSAGE, "collection \"%s\" exists in %zu "
			       "databases; add ?tenant=T&database=D", name, hits);
	*found = hit;
	return 0;
}

/* Does the query (with ?1 and ?2 bound to a and b, NULL as SQL NULL) give a row? */
static int row_exists(struct cv_db *db, const char *q, const char *a,
		      const char *b)
{
	sqlite3_stmt *st;
	int found;

	if (sqlite3_prepare_v2(db->sql, q, -1, &st, NULL) != SQLITE_OK)
		return 0;
	if (a)
		sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	if (b)
		sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

int cv_scope_check(struct cv_db *db, const char *tenant, const char *database,
		   struct cv_err *e)
{
	if (!db->has_databases) { /* before tenants: only the defaults */
		if (tenant && strcmp(tenant, "default_tenant"))
			return cv_errf(e, CV_ENOTFOUND, "%s: tenant \"%s\" not found "
				       "(this Chroma version has none)", db->dir, tenant);
		if (database && strcmp(database, "default_database"))
			return cv_errf(e, CV_ENOTFOUND, "%s: database \"%s\" not found "
				       "(this Chroma version has none)", db->dir, database);
		return 0;
	}
	if (tenant && !row_exists(db, "SELECT 1 FROM tenants WHERE id = ?1", tenant,
				  NULL))
		return cv_errf(e, CV_ENOTFOUND, "%s: tenant \"%s\" not found", db->dir,
			       tenant);
	if (database && !row_exists(db, "SELECT 1 FROM databases WHERE name = ?2 AND "
				    "(?1 IS NULL OR tenant_id = ?1)", tenant, database))
		return cv_errf(e, CV_ENOTFOUND, "%s: database \"%s\" not found%s%s%s",
			       db->dir, database, tenant ? " in tenant \"" : "",
			       tenant ? tenant : "", tenant ? "\"" : "");
	return 0;
}
