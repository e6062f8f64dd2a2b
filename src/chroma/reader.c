/*
 * Collection reader (see reader.h): chroma-format.md §4.4 as a merge of three
 * id-ordered SQLite cursors, a pickle id->label map, the HNSW slots and a WAL
 * overlay.
 */
#include "chroma/reader.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "chroma/labels.h"
#include "chroma/meta.h"
#include "chroma/wal.h"
#include "hnsw/hnsw.h"
#include "util/fsutil.h"
#include "util/strbuf.h"
#include "util/xalloc.h"
#include "util/banned.h"

struct cursor {
	sqlite3_stmt *st;
	int live;         /* a row is loaded */
	int64_t id;       /* embeddings.id of the loaded row */
};

struct cv_reader {
	struct cv_db *db;
	const struct cv_collection *c;
	int cosine;
	size_t dim;
	struct labels lb;       /* the pickle's id -> label */
	size_t unknown;         /* vec_exists answers not settled */
	struct hnsw_index ix;
	int has_pickle, has_index;
	struct wal_overlay ov;
	struct cursor emb, meta, arr;
	sqlite3_stmt *wal_vec;
	size_t *new_order;      /* overlay entries created in the WAL tail */
	size_t n_new, next_new;
	int base_done;
	int emb_used;           /* the loaded embeddings row was returned */
	struct meta m;
	struct strbuf meta_json;
	float *vec;
	struct cv_reader_stats stats;
};

/*
 * Whether the index holds a vector for the id. While the map is windowed,
 * an id outside the window is noted and answered no; the caller settles
 * the noted ones (settle_unknown) and asks again.
 */
static int vec_exists(void *ctx, const char *id, size_t len)
{
	struct cv_reader *r = ctx;
	int has;

	if (!r->has_pickle)
		return 0;
	has = labels_has(&r->lb, id, len);
	r->unknown += has < 0;
	return has > 0;
}

/*
 * The sizes that bound an export's memory: labels in a window of the id map
 * (labels.h) and elements whose label lookup stays in memory (hnsw.h). The
 * tests make them small so that small collections take every path of the
 * large ones. 0: the default.
 */
static uint64_t test_size(const char *name)
{
	const char *s = getenv(name);
	unsigned long long v;
	char *end;

	if (!s)
		return 0;
	v = strtoull(s, &end, 10);
	return *end ? 0 : v;
}

/* hnsw_open on a thread of its own while the pickle is read (both scan). */
struct index_open {
	const char *dir;
	int cosine;
	uint64_t table_max;
	struct hnsw_index ix;
	struct cv_err e;
	int rc;
};

static void *index_open_run(void *arg)
{
	struct index_open *o = arg;

	o->rc = hnsw_open(o->dir, o->cosine, o->table_max, &o->ix, &o->e);
	return NULL;
}

static int open_index_once(struct cv_reader *r, struct cv_err *e)
{
	struct strbuf dir = STRBUF_INIT, pk = STRBUF_INIT;
	struct index_open io = { 0 };
	struct stat st;
	pthread_t th;
	int rc = 0, threaded;

	sb_addf(&dir, "%s/%s", r->db->dir, r->c->vseg);
	sb_addf(&pk, "%s/index_metadata.pickle", dir.buf);
	if (stat(pk.buf, &st))
		goto out; /* no pickle: an empty, never flushed index (§5.1) */
	io.dir = dir.buf;
	io.cosine = r->cosine;
	io.table_max = test_size("CHROMAVAULT_TEST_HNSW_TABLE");
	io.rc = CV_ENOTFOUND; /* not opened */
	threaded = !thread_start(&th, index_open_run, &io);
	rc = labels_open(&r->lb, pk.buf,
			 test_size("CHROMAVAULT_TEST_LABEL_WINDOW"), e);
	r->has_pickle = !rc;
	if (threaded)
		pthread_join(th, NULL);
	else if (!rc && r->lb.pk.n_ids)
		index_open_run(&io);
	if (rc || !r->lb.pk.n_ids) {
		/* a failed pickle says why; no ids: uninitialised, V is 0 */
		if (!io.rc)
			hnsw_close(&io.ix);
		goto out;
	}
	if ((rc = io.rc)) {
		*e = io.e;
		goto out;
	}
	r->ix = io.ix;
	r->has_index = 1;
out:
	sb_release(&dir);
	sb_release(&pk);
	return rc;
}

#define OPEN_ATTEMPTS 8

/* The folder's files as stat sees them (names, sizes, times), hashed. */
static uint64_t folder_stamp(const char *dir)
{
	static const char *files[] = { "header.bin", "data_level0.bin", "length.bin",
				       "link_lists.bin", "index_metadata.pickle" };
	struct strbuf p = STRBUF_INIT;
	uint64_t h = 1469598103934665603ULL, f[5];
	struct stat st;
	size_t i, k;

	for (i = 0; i < 5; i++) {
		sb_reset(&p);
		sb_addf(&p, "%s/%s", dir, files[i]);
		memset(f, 0, sizeof(f));
		if (!stat(p.buf, &st)) {
			f[0] = (uint64_t)st.st_size;
			f[1] = (uint64_t)st.st_mtim.tv_sec;
			f[2] = (uint64_t)st.st_mtim.tv_nsec;
			f[3] = (uint64_t)st.st_ctim.tv_sec;
			f[4] = (uint64_t)st.st_ctim.tv_nsec;
		}
		for (k = 0; k < 5; k++)
			h = (h ^ f[k]) * 1099511628211ULL;
	}
	sb_release(&p);
	return h;
}

static void close_index(struct cv_reader *r)
{
	if (r->has_index)
		hnsw_close(&r->ix);
	if (r->has_pickle)
		labels_close(&r->lb);
	r->has_index = r->has_pickle = 0;
}

/*
 * A flush racing the opening rewrites the folder's files under it, so what
 * was read may not agree (a link list cut short, say). The opening is
 * tried again while the folder keeps changing; one that did not change
 * while read stands, and so does its error (the files are damaged).
 */
static int open_index(struct cv_reader *r, struct cv_err *e)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	struct strbuf dir = STRBUF_INIT;
	uint64_t before;
	int attempt, rc;

	sb_addf(&dir, "%s/%s", r->db->dir, r->c->vseg);
	for (attempt = 1;; attempt++) {
		before = folder_stamp(dir.buf);
		rc = open_index_once(r, e);
		if (folder_stamp(dir.buf) == before)
			break;
		close_index(r);
		if (attempt == OPEN_ATTEMPTS) {
			rc = cv_errf(e, CV_EIO, "%s: changed while it was read, %d times "
				     "(Chroma keeps flushing it); run the command again",
				     dir.buf, OPEN_ATTEMPTS);
			break;
		}
		cv_err_clear(e);
		nanosleep(&ts, NULL);
		if (ts.tv_nsec < 400 * 1000 * 1000)
			ts.tv_nsec *= 2;
	}
	sb_release(&dir);
	return rc;
}

static int pick_watermarks(struct cv_reader *r, struct cv_err *e)
{
	uint64_t m, v;
	int found, rc;

	if ((rc = cv_db_watermark(r->db, r->c->mseg, &m, &found, e)))
		return rc;
	r->stats.m = m;
	if ((rc = cv_db_watermark(r->db, r->c->vseg, &v, &found, e)))
		return rc;
	if (!found && r->has_pickle && r->lb.pk.has_max_seq_id) {
		v = r->lb.pk.max_seq_id; /* Python < 0.5.6 kept V in the pickle */
		r->stats.v_from_pickle = 1;
	}
	if (!r->has_pickle || !r->lb.pk.n_ids)
		v = 0;
	r->stats.v = v;
	return 0;
}

static int pick_dim(struct cv_reader *r, struct cv_err *e)
{
	const struct cv_collection *c = r->c;

	if (c->has_dimension && (c->dimension <= 0 || c->dimension > 65536))
		return cv_errf(e, CV_ECORRUPT, "%s: collection %s has dimension %lld",
			       r->db->path, c->name, (long long)c->dimension);
	if (c->has_dimension)
		r->dim = (size_t)c->dimension;
	if (r->has_index && r->dim && r->ix.hdr.dim != r->dim)
		return cv_errf(e, CV_ECORRUPT, "%s/%s/header.bin: dimension %u, but "
			       "collection %s has dimension %zu", r->db->dir, c->vseg,
			       r->ix.hdr.dim, c->name, r->dim);
	if (r->has_index && !r->dim)
		r->dim = r->ix.hdr.dim;
	return 0;
}

static int cursor_step(struct cv_reader *r, struct cursor *cu, struct cv_err *e)
{
	int rc = sqlite3_step(cu->st);

	cu->live = rc == SQLITE_ROW;
	if (cu->live)
		cu->id = sqlite3_column_int64(cu->st, 0);
	else if (rc != SQLITE_DONE)
		return cv_db_error(r->db, e, "reading the metadata segment");
	return 0;
}

static int cursor_open(struct cv_reader *r, struct cursor *cu, const char *sql,
		       int bind_seg, struct cv_err *e)
{
	int rc = cv_db_prepare(r->db, sql, &cu->st, e);

	if (rc)
		return rc;
	if (bind_seg)
		sqlite3_bind_text(cu->st, 1, r->c->mseg, -1, SQLITE_STATIC);
	return cursor_step(r, cu, e);
}

static int open_cursors(struct cv_reader *r, struct cv_err *e)
{
	const char *meta_sql = r->db->em_has_bool ?
		"SELECT id, key, string_value, int_value, float_value, bool_value "
		"FROM embedding_metadata ORDER BY id, key" :
		"SELECT id, key, string_value, int_value, float_value "
		"FROM embedding_metadata ORDER BY id, key";
	int rc;

	if (!r->c->mseg)
		return 0; /* no metadata segment: every record is in the WAL */
	/*
	 * The table in rowid order rather than the (segment_id, embedding_id)
	 * index and a sort: rows stream from the first (the sort made the
	 * export wait for all of them), 0.17 s against 0.30 s for 1,000,000;
	 * it reads other segments' rows too, as the metadata cursor does.
	 */
	if ((rc = cursor_open(r, &r->emb, "SELECT id, embedding_id FROM embeddings "
			      "NOT INDEXED WHERE segment_id = ?1 ORDER BY id", 1, e)))
		return rc;
	if ((rc = cursor_open(r, &r->meta, meta_sql, 0, e)))
		return rc;
	if (r->db->has_arrays &&
	    (rc = cursor_open(r, &r->arr, "SELECT id, key, string_value, int_value, "
			      "float_value, bool_value FROM embedding_metadata_array "
			      "ORDER BY id, key, rowid", 0, e)))
		return rc;
	return cv_db_prepare(r->db, "SELECT vector, encoding FROM embeddings_queue "
			     "WHERE seq_id = ?1", &r->wal_vec, e);
}

static int cmp_create(const void *a, const void *b, void *ctx)
{
	const struct wal_overlay *ov = ctx;
	uint64_t x = ov->e[*(const size_t *)a].create_seq;
	uint64_t y = ov->e[*(const size_t *)b].create_seq;

	return x < y ? -1 : x > y;
}

static void collect_new(struct cv_reader *r)
{
	size_t i;

	r->new_order = xmalloc((r->ov.n + 1) * sizeof(*r->new_order));
	for (i = 0; i < r->ov.n; i++)
		if (r->ov.e[i].meta_state == OV_META_NEW)
			r->new_order[r->n_new++] = i;
	qsort_r(r->new_order, r->n_new, sizeof(*r->new_order), cmp_create, &r->ov);
}

/* Vectors Chroma holds after replay: the pickle's ids, changed by the WAL. */
static void count_final_vectors(struct cv_reader *r)
{
	uint64_t n = r->has_index ? r->lb.pk.n_ids : 0;
	const struct ov_entry *en;
	int base, fin;
	size_t i;

	for (i = 0; i < r->ov.n; i++) {
		en = &r->ov.e[i];
		base = r->has_index && vec_exists(r, en->id, en->id_len);
		fin = en->vec_state == OV_VEC_SET ? 1 :
		      en->vec_state == OV_VEC_DEL ? 0 : base;
		n = n + (uint64_t)fin - (uint64_t)base;
	}
	r->stats.vectors_final = n;
}

/* Whether the WAL's ids outside the label window have a vector: one reading. */
static int settle_unknown(struct cv_reader *r, struct cv_err *e)
{
	const char **ids = xmalloc((r->ov.n + 1) * sizeof(*ids));
	size_t *lens = xmalloc((r->ov.n + 1) * sizeof(*lens)), i;
	int rc;

	for (i = 0; i < r->ov.n; i++) {
		ids[i] = r->ov.e[i].id;
		lens[i] = r->ov.e[i].id_len;
	}
	rc = labels_learn(&r->lb, ids, lens, r->ov.n, e);
	free(ids);
	free(lens);
	return rc;
}

/*
 * The WAL tail over the segments (§4.4). Its replay asks which ids have a
 * vector; when some were outside the label window, they are settled and
 * the tail replayed again (it is small: at most what Chroma has not
 * flushed).
 */
static int build_overlay(struct cv_reader *r, struct cv_err *e)
{
	int64_t dim = r->dim ? (int64_t)r->dim : -1;
	int rc;

	r->unknown = 0;
	rc = wal_overlay_build(r->db, r->c, r->stats.m, r->stats.v, dim,
			       vec_exists, r, &r->ov, e);
	if (rc || !r->unknown)
		return rc;
	rc = settle_unknown(r, e);
	wal_overlay_release(&r->ov);
	if (rc)
		return rc;
	r->unknown = 0;
	rc = wal_overlay_build(r->db, r->c, r->stats.m, r->stats.v, dim,
			       vec_exists, r, &r->ov, e);
	assert(rc || !r->unknown);
	return rc;
}

int cv_reader_open(struct cv_db *db, const struct cv_collection *c,
		   struct cv_reader **out, struct cv_err *e)
{
	struct cv_reader *r = xcalloc(1, sizeof(*r));
	int rc = 0;

	r->db = db;
	r->c = c;
	r->cosine = !strcmp(c->space, "cosine");
	meta_init(&r->m);
	sb_init(&r->meta_json, 256);
	if (c->vseg && (rc = open_index(r, e)))
		goto fail;
	if ((rc = pick_watermarks(r, e)) || (rc = pick_dim(r, e)))
		goto fail;
	if ((rc = build_overlay(r, e)))
		goto fail;
	if (!r->dim && r->ov.dim > 0)
		r->dim = (size_t)r->ov.dim;
	if ((rc = open_cursors(r, e)))
		goto fail;
	collect_new(r);
	r->vec = xcalloc(r->dim ? r->dim : 1, sizeof(float));
	count_final_vectors(r);
	r->stats.wal_rows = r->ov.rows;
	r->stats.wal_rows_above_v = r->ov.rows_above_v;
	r->stats.has_index = r->has_pickle;
	r->stats.index_vectors = r->lb.pk.n_ids;
	r->stats.index_slots = r->has_index ? r->ix.hdr.cur_element_count : 0;
	r->stats.index_deleted = r->has_index ? r->ix.n_deleted : 0;
	*out = r;
	return 0;
fail:
	cv_reader_close(r);
	return rc;
}

void cv_reader_close(struct cv_reader *r)
{
	if (!r)
		return;
	sqlite3_finalize(r->emb.st);
	sqlite3_finalize(r->meta.st);
	sqlite3_finalize(r->arr.st);
	sqlite3_finalize(r->wal_vec);
	wal_overlay_release(&r->ov);
	close_index(r);
	meta_release(&r->m);
	sb_release(&r->meta_json);
	free(r->new_order);
	free(r->vec);
	free(r);
}

size_t cv_reader_dim(const struct cv_reader *r)
{
	return r->dim;
}

const struct cv_reader_stats *cv_reader_stats(const struct cv_reader *r)
{
	return &r->stats;
}

/*
 * Chroma stores cosine vectors normalised and multiplies them back by their
 * norm on get (§5.7); a WAL vector gets the same float32 round trip so the
 * export equals what the server returns, bit for bit. hnswlib's norm is a
 * compiler-vectorised sum: four lanes, summed (0+2, 1+3) then together, the
 * elements past the last multiple of four added one by one; a plain loop
 * differs from the server by one unit in the last place on 183 of the
 * shared fixtures' records, this order on none.
 */
static void cosine_roundtrip(float *v, size_t n)
{
	float norm, len, inv, lane[4] = { 0.0f, 0.0f, 0.0f, 0.0f };
	size_t i, body = n / 4 * 4;

	for (i = 0; i < body; i++)
		lane[i % 4] += v[i] * v[i];
	norm = (lane[0] + lane[2]) + (lane[1] + lane[3]);
	for (i = body; i < n; i++)
		norm += v[i] * v[i];
	len = sqrtf(norm);
	inv = 1.0f / (len + 1e-30f);
	for (i = 0; i < n; i++)
		v[i] = (v[i] * inv) * len;
}

static int vec_from_wal(struct cv_reader *r, uint64_t seq, struct cv_err *e)
{
	char where[160];
	int rc;

	snprintf(where, sizeof(where), "%s: embeddings_queue row seq_id %llu",
		 r->db->path, (unsigned long long)seq);
	sqlite3_reset(r->wal_vec);
	sqlite3_bind_int64(r->wal_vec, 1, (sqlite3_int64)seq);
	rc = sqlite3_step(r->wal_vec);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ?
		       cv_errf(e, CV_ECORRUPT, "%s: row vanished", where) :
		       cv_db_error(r->db, e, "reading embeddings_queue");
	rc = wal_vector_decode(sqlite3_column_blob(r->wal_vec, 0),
			       (size_t)sqlite3_column_bytes(r->wal_vec, 0),
			       (const char *)sqlite3_column_text(r->wal_vec, 1),
			       (int64_t)r->dim, r->vec, NULL, where, e);
	if (!rc && r->cosine)
		cosine_roundtrip(r->vec, r->dim);
	return rc;
}

static int vec_from_index(struct cv_reader *r, const char *id, size_t len,
			  int *found, struct cv_err *e)
{
	uint64_t label;
	uint32_t slot = 0;
	int rc, deleted = 0;

	*found = 0;
	if (!r->has_index)
		return 0;
	if ((rc = labels_of(&r->lb, id, len, &label, e)) <= 0)
		return rc;
	rc = hnsw_find(&r->ix, label, &slot, &deleted, e);
	if (rc && rc != CV_ENOTFOUND)
		return rc;
	if (rc)
		return cv_errf(e, CV_ECORRUPT, "%s/data_level0.bin: label %llu of "
			       "record \"%.*s\" (index_metadata.pickle) is in no "
			       "element", r->ix.dir, (unsigned long long)label,
			       (int)len, id);
	if (deleted)
		return cv_errf(e, CV_ECORRUPT, "%s/data_level0.bin: element %u "
			       "(label %llu, record \"%.*s\") is marked deleted but "
			       "the pickle lists it", r->ix.dir, slot,
			       (unsigned long long)label, (int)len, id);
	if ((rc = hnsw_read_vector(&r->ix, slot, r->cosine, r->vec, e)))
		return rc;
	*found = 1;
	return 0;
}

static int fetch_vector(struct cv_reader *r, const char *id, size_t len,
			const struct ov_entry *ov, const float **out,
			struct cv_err *e)
{
	int found = 0, rc;

	*out = NULL;
	if (!r->dim)
		return 0;
	if (ov && ov->vec_state == OV_VEC_DEL)
		return 0;
	if (ov && ov->vec_state == OV_VEC_SET) {
		if ((rc = vec_from_wal(r, ov->vec_seq, e)))
			return rc;
		*out = r->vec;
		return 0;
	}
	if ((rc = vec_from_index(r, id, len, &found, e)))
		return rc;
	if (found)
		*out = r->vec;
	return 0;
}

static int gather(struct cv_reader *r, struct cursor *cu, int64_t eid,
		  int is_array, struct cv_err *e)
{
	int bool_col = is_array || r->db->em_has_bool ? 5 : -1, rc;

	while (cu->live && cu->id < eid)
		if ((rc = cursor_step(r, cu, e)))
			return rc;
	while (cu->live && cu->id == eid) {
		meta_add_row(&r->m, (const char *)sqlite3_column_text(cu->st, 1),
			     (size_t)sqlite3_column_bytes(cu->st, 1), is_array,
			     cu->st, 2, bool_col);
		if ((rc = cursor_step(r, cu, e)))
			return rc;
	}
	return 0;
}

static void special_key(struct meta *m, const char *key, const char **p,
			size_t *n)
{
	struct mentry *en = meta_find(m, key, strlen(key));
	const struct mval *v;

	*p = NULL;
	*n = 0;
	if (!en || en->is_array || en->count != 1)
		return;
	v = &m->v[en->first];
	if (v->type != MV_STR)
		return;
	*p = meta_str(m, v);
	*n = v->slen;
}

static int fill_record(struct cv_reader *r, const char *id, size_t len,
		       const struct ov_entry *ov, struct cv_record *rec,
		       struct cv_err *e)
{
	char where[128];
	int rc;

	if (ov && ov->patch) {
		snprintf(where, sizeof(where), "%s: embeddings_queue", r->db->path);
		if ((rc = meta_patch(&r->m, ov->patch, where, e)))
			return rc;
	}
	memset(rec, 0, sizeof(*rec));
	rec->id = id;
	rec->id_len = len;
	special_key(&r->m, "chroma:document", &rec->doc, &rec->doc_len);
	special_key(&r->m, "chroma:uri", &rec->uri, &rec->uri_len);
	sb_reset(&r->meta_json);
	rec->bad_utf8 = meta_write_json(&r->m, &r->meta_json);
	rec->meta_json = r->meta_json.buf;
	rec->meta_len = r->meta_json.len;
	if ((rc = fetch_vector(r, id, len, ov, &rec->vec, e)))
		return rc;
	rec->dim = r->dim;
	if (!rec->vec)
		r->stats.missing_vectors++;
	r->stats.records++;
	return 0;
}

/* Next record of the metadata segment; 0 when it has no more. */
static int next_base(struct cv_reader *r, struct cv_record *rec,
		     struct cv_err *e)
{
	const struct ov_entry *ov;
	const char *id;
	size_t len;
	int64_t eid;
	int rc;

	if (r->emb_used) {
		r->emb_used = 0;
		if ((rc = cursor_step(r, &r->emb, e)))
			return rc;
	}
	while (r->emb.live) {
		eid = r->emb.id;
		id = (const char *)sqlite3_column_text(r->emb.st, 1);
		len = (size_t)sqlite3_column_bytes(r->emb.st, 1);
		ov = r->ov.n ? wal_overlay_get(&r->ov, id, len) : NULL;
		meta_reset(&r->m);
		if (!ov || ov->meta_state == OV_META_NONE ||
		    ov->meta_state == OV_META_MOD) {
			if ((rc = gather(r, &r->meta, eid, 0, e)) ||
			    (r->arr.st && (rc = gather(r, &r->arr, eid, 1, e))))
				return rc;
			/* rec->id points into the row: step on at the next call. */
			r->emb_used = 1;
			rc = fill_record(r, id, len, ov, rec, e);
			return rc ? rc : 1;
		}
		if ((rc = cursor_step(r, &r->emb, e)))
			return rc;
	}
	return 0;
}

int cv_reader_next(struct cv_reader *r, struct cv_record *rec,
		   struct cv_err *e)
{
	struct ov_entry *en;
	int rc;

	if (!r->base_done) {
		rc = next_base(r, rec, e);
		if (rc)
			return rc;
		r->base_done = 1;
	}
	if (r->next_new >= r->n_new)
		return 0;
	en = &r->ov.e[r->new_order[r->next_new++]];
	meta_reset(&r->m);
	rc = fill_record(r, en->id, en->id_len, en, rec, e);
	return rc ? rc : 1;
}
