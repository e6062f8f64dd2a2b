/*
 * WAL replay into an overlay (see wal.h). Holds no vectors: only which WAL
 * row holds each changed id's final vector, so memory follows the number of
 * changed ids, not their size.
 */
#include "chroma/wal.h"

#include <stdlib.h>
#include <string.h>

#include "chroma/meta.h"
#include "util/strbuf.h"
#include "util/xalloc.h"
#include "util/banned.h"

#define WAL_MAX_DIM 65536

struct replay {
	struct cv_db *db;
	const struct cv_collection *c;
	uint64_t m, v;
	wal_vec_exists_fn vec_exists;
	void *ctx;
	struct wal_overlay *ov;
	sqlite3_stmt *exists; /* base metadata row lookup */
};

int wal_topic_matches(const char *topic, const struct cv_collection *c)
{
	size_t tl, il;

	if (!topic)
		return 0;
	if (c->topic && !strcmp(topic, c->topic))
		return 1;
	tl = strlen(topic);
	il = strlen(c->id);
	return tl > il && topic[tl - il - 1] == '/' && !strcmp(topic + tl - il, c->id);
}

int wal_vector_decode(const void *blob, size_t n, const char *encoding,
		      int64_t dim, float *out, int64_t *out_dim,
		      const char *where, struct cv_err *e)
{
	if (encoding && strcmp(encoding, "FLOAT32"))
		return cv_errf(e, CV_EUNSUP, "%s: vector encoding \"%s\" is not "
			       "supported (only FLOAT32)", where, encoding);
	if (n % 4 || n / 4 > WAL_MAX_DIM || n == 0)
		return cv_errf(e, CV_ECORRUPT, "%s: vector of %zu bytes is not a "
			       "float32 array", where, n);
	if (dim >= 0 && (int64_t)(n / 4) != dim)
		return cv_errf(e, CV_ECORRUPT, "%s: vector has dimension %zu, the "
			       "collection has %lld", where, n / 4, (long long)dim);
	if (out)
		memcpy(out, blob, n); /* little-endian hosts only (x86-64, arm64) */
	if (out_dim)
		*out_dim = (int64_t)(n / 4);
	return 0;
}

static struct ov_entry *ov_get_or_add(struct wal_overlay *ov, const char *id,
				      size_t len)
{
	struct hmap_slot *s = hmap_get(&ov->map, id, len);
	struct ov_entry *en;

	if (s)
		return &ov->e[s->val];
	if (ov->n == ov->cap) {
		ov->cap = ov->cap ? ov->cap * 2 : 64;
		ov->e = xrealloc(ov->e, ov->cap * sizeof(*ov->e));
	}
	en = &ov->e[ov->n];
	memset(en, 0, sizeof(*en));
	en->id = xmemdupz(id, len);
	en->id_len = len;
	hmap_put(&ov->map, en->id, len, ov->n);
	ov->n++;
	return en;
}

struct ov_entry *wal_overlay_get(const struct wal_overlay *ov, const char *id,
				 size_t len)
{
	struct hmap_slot *s = hmap_get(&ov->map, id, len);

	return s ? &ov->e[s->val] : NULL;
}

void wal_overlay_release(struct wal_overlay *ov)
{
	size_t i;

	for (i = 0; i < ov->n; i++) {
		free(ov->e[i].id);
		json_decref(ov->e[i].patch);
	}
	free(ov->e);
	hmap_release(&ov->map);
	memset(ov, 0, sizeof(*ov));
}

/* Vector semantics for a row above V (§4.4). */
static void apply_vec(struct replay *rp, struct ov_entry *en, int op,
		      int has_vec, uint64_t seq)
{
	int exists = en->vec_state == OV_VEC_SET ? 1 :
		     en->vec_state == OV_VEC_DEL ? 0 :
		     rp->vec_exists(rp->ctx, en->id, en->id_len);

	if ((op == WAL_ADD && !exists && has_vec) ||
	    (op == WAL_UPDATE && exists && has_vec) ||
	    (op == WAL_UPSERT && has_vec)) {
		en->vec_state = OV_VEC_SET;
		en->vec_seq = seq;
	} else if (op == WAL_DELETE) {
		en->vec_state = OV_VEC_DEL;
	}
}

static int base_meta_exists(struct replay *rp, struct ov_entry *en,
			    struct cv_err *e)
{
	int rc;

	if (!rp->c->mseg)
		return 0;
	sqlite3_reset(rp->exists);
	sqlite3_bind_text(rp->exists, 2, en->id, (int)en->id_len, SQLITE_STATIC);
	rc = sqlite3_step(rp->exists);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return cv_db_error(rp->db, e, "looking up a record of the metadata segment");
}

static void patch_set(struct ov_entry *en, json_t *upd, int reset)
{
	if (reset || !en->patch) {
		json_decref(en->patch);
		en->patch = json_object();
	}
	if (upd)
		meta_patch_merge(en->patch, upd);
}

/* Metadata semantics for a row above M (§4.4): upsert merges keys. */
static int apply_meta(struct replay *rp, struct ov_entry *en, int op,
		      json_t *upd, uint64_t seq, struct cv_err *e)
{
	int exists;

	if (en->meta_state == OV_META_NONE)
		exists = base_meta_exists(rp, en, e);
	else
		exists = en->meta_state != OV_META_DEL;
	if (exists < 0)
		return exists;
	if (op == WAL_DELETE) {
		if (exists)
			en->meta_state = OV_META_DEL;
		return 0;
	}
	if (exists && (op == WAL_UPDATE || op == WAL_UPSERT)) {
		if (en->meta_state == OV_META_NONE)
			en->meta_state = OV_META_MOD;
		patch_set(en, upd, 0);
	} else if (!exists && (op == WAL_ADD || op == WAL_UPSERT)) {
		en->meta_state = OV_META_NEW;
		en->create_seq = seq;
		patch_set(en, upd, 1);
	}
	return 0;
}

static int row_json(sqlite3_stmt *st, const char *where, json_t **out,
		    struct cv_err *e)
{
	json_error_t je;
	const char *txt = (const char *)sqlite3_column_text(st, 5);

	*out = NULL;
	if (!txt)
		return 0;
	*out = json_loadb(txt, (size_t)sqlite3_column_bytes(st, 5),
			  JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	if (!*out)
		return cv_errf(e, CV_ECORRUPT, "%s: metadata is not valid JSON "
			       "(column %d: %s)", where, je.column, je.text);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return cv_errf(e, CV_ECORRUPT, "%s: metadata is not a JSON object",
			       where);
	}
	return 0;
}

static int check_vector(struct replay *rp, sqlite3_stmt *st, const char *where,
			int *has_vec, struct cv_err *e)
{
	int64_t dim = 0;
	int rc;

	*has_vec = sqlite3_column_type(st, 3) != SQLITE_NULL;
	if (!*has_vec)
		return 0;
	rc = wal_vector_decode(sqlite3_column_blob(st, 3),
			       (size_t)sqlite3_column_bytes(st, 3),
			       (const char *)sqlite3_column_text(st, 4),
			       rp->ov->dim, NULL, &dim, where, e);
	if (!rc && rp->ov->dim < 0)
		rp->ov->dim = dim;
	return rc;
}

static int replay_row(struct replay *rp, sqlite3_stmt *st, struct cv_err *e)
{
	char where[160];
	uint64_t seq = (uint64_t)sqlite3_column_int64(st, 0);
	int op = sqlite3_column_int(st, 1), has_vec, rc;
	const char *id = (const char *)sqlite3_column_text(st, 2);
	struct ov_entry *en;
	json_t *upd = NULL;

	snprintf(where, sizeof(where), "%s: embeddings_queue row seq_id %llu",
		 rp->db->path, (unsigned long long)seq);
	if (op == WAL_BACKFILL)
		return 0;
	if (op < WAL_ADD || op > WAL_DELETE)
		return cv_errf(e, CV_ECORRUPT, "%s: unknown operation %d", where, op);
	if (!id)
		return cv_errf(e, CV_ECORRUPT, "%s: record id is NULL", where);
	if ((rc = check_vector(rp, st, where, &has_vec, e)))
		return rc;
	rp->ov->rows++;
	en = ov_get_or_add(rp->ov, id, (size_t)sqlite3_column_bytes(st, 2));
	if (seq > rp->v) {
		rp->ov->rows_above_v++;
		apply_vec(rp, en, op, has_vec, seq);
	}
	if (seq > rp->m) {
		if ((rc = row_json(st, where, &upd, e)))
			return rc;
		rc = apply_meta(rp, en, op, upd, seq, e);
		json_decref(upd);
	}
	return rc;
}

static int replay_all(struct replay *rp, struct cv_err *e)
{
	sqlite3_stmt *st;
	uint64_t from = rp->m < rp->v ? rp->m : rp->v;
	int rc;

	if ((rc = cv_db_prepare(rp->db,
				"SELECT seq_id, operation, id, vector, encoding, "
				"metadata, topic FROM embeddings_queue WHERE seq_id > ?1 "
				"ORDER BY seq_id", &st, e)))
		return rc;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)from);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!wal_topic_matches((const char *)sqlite3_column_text(st, 6), rp->c))
			continue;
		if ((rc = replay_row(rp, st, e)))
			break;
	}
	if (rc == SQLITE_DONE)
		rc = 0;
	else if (rc > 0)
		rc = cv_db_error(rp->db, e, "reading embeddings_queue");
	sqlite3_finalize(st);
	return rc;
}

int wal_overlay_build(struct cv_db *db, const struct cv_collection *c,
		      uint64_t m, uint64_t v, int64_t dim,
		      wal_vec_exists_fn vec_exists, void *ctx,
		      struct wal_overlay *ov, struct cv_err *e)
{
	struct replay rp = { db, c, m, v, vec_exists, ctx, ov, NULL };
	int rc;

	memset(ov, 0, sizeof(*ov));
	hmap_init(&ov->map, 64);
	ov->dim = dim;
	if (!db->has_queue)
		return 0;
	if ((rc = cv_db_prepare(db, "SELECT 1 FROM embeddings WHERE segment_id = ?1 "
				"AND embedding_id = ?2", &rp.exists, e)))
		return rc;
	sqlite3_bind_text(rp.exists, 1, c->mseg ? c->mseg : "", -1, SQLITE_STATIC);
	rc = replay_all(&rp, e);
	sqlite3_finalize(rp.exists);
	return rc;
}
