/*
 * Metadata maps (see meta.h): the typed value model of chroma-format.md §3.6,
 * §3.8 (scalars, arrays, chroma:document / chroma:uri) and §3.10 (patches).
 */
#include "chroma/meta.h"

#include <stdlib.h>
#include <string.h>

#include "util/jsonw.h"
#include "util/xalloc.h"
#include "util/banned.h"

void meta_init(struct meta *m)
{
	memset(m, 0, sizeof(*m));
	sb_init(&m->arena, 256);
}

void meta_release(struct meta *m)
{
	sb_release(&m->arena);
	free(m->e);
	free(m->v);
	memset(m, 0, sizeof(*m));
}

void meta_reset(struct meta *m)
{
	sb_reset(&m->arena);
	m->n = 0;
	m->nv = 0;
}

static struct mentry *meta_new_entry(struct meta *m, const char *key,
				     size_t klen, int is_array)
{
	struct mentry *en;

	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 16;
		m->e = xrealloc(m->e, m->cap * sizeof(*m->e));
	}
	en = &m->e[m->n++];
	en->koff = m->arena.len;
	en->klen = klen;
	sb_add(&m->arena, key, klen);
	sb_addch(&m->arena, '\0');
	en->is_array = is_array;
	en->deleted = 0;
	en->first = m->nv;
	en->count = 0;
	return en;
}

static struct mval *meta_new_val(struct meta *m, struct mentry *en)
{
	struct mval *v;

	if (m->nv == m->capv) {
		m->capv = m->capv ? m->capv * 2 : 32;
		m->v = xrealloc(m->v, m->capv * sizeof(*m->v));
	}
	/* Values of one entry are contiguous: entries are filled one at a time. */
	v = &m->v[m->nv++];
	memset(v, 0, sizeof(*v));
	en->count++;
	return v;
}

static void meta_set_str(struct meta *m, struct mval *v, const void *p, size_t n)
{
	v->type = MV_STR;
	v->soff = m->arena.len;
	v->slen = n;
	sb_add(&m->arena, p, n);
	sb_addch(&m->arena, '\0');
}

static int row_value(struct meta *m, struct mval *v, sqlite3_stmt *st, int col,
		     int bool_col)
{
	if (sqlite3_column_type(st, col) != SQLITE_NULL) {
		meta_set_str(m, v, sqlite3_column_blob(st, col),
			     (size_t)sqlite3_column_bytes(st, col));
	} else if (sqlite3_column_type(st, col + 1) != SQLITE_NULL) {
		v->type = MV_INT;
		v->i = sqlite3_column_int64(st, col + 1);
	} else if (sqlite3_column_type(st, col + 2) != SQLITE_NULL) {
		v->type = MV_FLOAT;
		v->f = sqlite3_column_double(st, col + 2);
	} else if (bool_col >= 0 && sqlite3_column_type(st, bool_col) != SQLITE_NULL) {
		v->type = MV_BOOL;
		v->i = sqlite3_column_int64(st, bool_col) != 0;
	} else {
		return 1;
	}
	return 0;
}

static int row_is_null(sqlite3_stmt *st, int col, int bool_col)
{
	int i;

	for (i = col; i < col + 3; i++)
		if (sqlite3_column_type(st, i) != SQLITE_NULL)
			return 0;
	return bool_col < 0 || sqlite3_column_type(st, bool_col) == SQLITE_NULL;
}

int meta_add_row(struct meta *m, const char *key, size_t klen, int is_array,
		 sqlite3_stmt *st, int col, int bool_col)
{
	struct mentry *en = NULL;

	if (row_is_null(st, col, bool_col))
		return 1;
	if (is_array && m->n) {
		en = &m->e[m->n - 1];
		if (!en->is_array || en->klen != klen ||
		    memcmp(meta_key(m, en), key, klen) ||
		    en->first + en->count != m->nv)
			en = NULL;
	}
	if (!en)
		en = meta_new_entry(m, key, klen, is_array);
	row_value(m, meta_new_val(m, en), st, col, bool_col);
	return 0;
}

struct mentry *meta_find(struct meta *m, const char *key, size_t klen)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (!m->e[i].deleted && m->e[i].klen == klen &&
		    !memcmp(meta_key(m, &m->e[i]), key, klen))
			return &m->e[i];
	return NULL;
}

static int json_scalar(struct meta *m, struct mval *v, json_t *j)
{
	if (!j)
		return -1;
	switch (json_typeof(j)) {
	case JSON_STRING:
		meta_set_str(m, v, json_string_value(j), json_string_length(j));
		return 0;
	case JSON_INTEGER:
		v->type = MV_INT;
		v->i = json_integer_value(j);
		return 0;
	case JSON_REAL:
		v->type = MV_FLOAT;
		v->f = json_real_value(j);
		return 0;
	case JSON_TRUE:
	case JSON_FALSE:
		v->type = MV_BOOL;
		v->i = json_is_true(j);
		return 0;
	default:
		return -1;
	}
}

static int meta_set_json(struct meta *m, const char *key, json_t *val)
{
	struct mentry *en;
	size_t i;

	en = meta_new_entry(m, key, strlen(key), json_is_array(val));
	if (!json_is_array(val))
		return json_scalar(m, meta_new_val(m, en), val);
	for (i = 0; i < json_array_size(val); i++)
		if (json_scalar(m, meta_new_val(m, en), json_array_get(val, i)))
			return -1;
	return 0;
}

int meta_patch(struct meta *m, json_t *patch, const char *where,
	       struct cv_err *e)
{
	const char *key;
	json_t *val;
	struct mentry *en;

	json_object_foreach(patch, key, val) {
		en = meta_find(m, key, strlen(key));
		if (en)
			en->deleted = 1;
		if (json_is_null(val))
			continue;
		if (meta_set_json(m, key, val))
			return cv_errf(e, CV_ECORRUPT,
				       "%s: metadata key \"%s\" has an unsupported "
				       "value type", where, key);
	}
	return 0;
}

void meta_patch_merge(json_t *acc, json_t *upd)
{
	const char *key;
	json_t *val;

	json_object_foreach(upd, key, val)
		json_object_set(acc, key, val);
}

static int cmp_entry(const void *a, const void *b, void *ctx)
{
	const struct meta *m = ctx;
	const struct mentry *x = *(const struct mentry *const *)a;
	const struct mentry *y = *(const struct mentry *const *)b;
	size_t n = x->klen < y->klen ? x->klen : y->klen;
	int c = memcmp(meta_key(m, x), meta_key(m, y), n);

	if (c)
		return c;
	return x->klen < y->klen ? -1 : x->klen > y->klen;
}

static size_t write_val(const struct meta *m, const struct mval *v,
			struct strbuf *out)
{
	switch (v->type) {
	case MV_STR:
		return jw_str(out, meta_str(m, v), v->slen);
	case MV_INT:
		jw_int(out, v->i);
		return 0;
	case MV_FLOAT:
		jw_f64(out, v->f);
		return 0;
	default:
		sb_adds(out, v->i ? "true" : "false");
		return 0;
	}
}

static size_t write_entry(const struct meta *m, const struct mentry *en,
			  struct strbuf *out)
{
	size_t bad = jw_str(out, meta_key(m, en), en->klen), i;

	sb_addch(out, ':');
	if (!en->is_array)
		return bad + write_val(m, &m->v[en->first], out);
	sb_addch(out, '[');
	for (i = 0; i < en->count; i++) {
		if (i)
			sb_addch(out, ',');
		bad += write_val(m, &m->v[en->first + i], out);
	}
	sb_addch(out, ']');
	return bad;
}

size_t meta_write_json(struct meta *m, struct strbuf *out)
{
	struct mentry *stack[32], **list = stack;
	size_t i, n = 0, bad = 0;

	if (m->n > 32)
		list = xmalloc(m->n * sizeof(struct mentry *));
	for (i = 0; i < m->n; i++)
		if (!m->e[i].deleted &&
		    !(m->e[i].klen >= 7 && !memcmp(meta_key(m, &m->e[i]), "chroma:", 7)))
			list[n++] = &m->e[i];
	if (!n) {
		sb_add(out, "null", 4);
		goto out;
	}
	if (n > 1)
		qsort_r(list, n, sizeof(struct mentry *), cmp_entry, m);
	sb_addch(out, '{');
	for (i = 0; i < n; i++) {
		if (i)
			sb_addch(out, ',');
		bad += write_entry(m, list[i], out);
	}
	sb_addch(out, '}');
out:
	if (list != stack)
		free(list);
	return bad;
}
