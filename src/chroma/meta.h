/*
 * A Chroma metadata map (typed scalars and arrays) built from SQLite rows or
 * WAL JSON, patched with update semantics, written as JSON with sorted keys.
 */
#ifndef CV_META_H
#define CV_META_H

#include <jansson.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "util/strbuf.h"

enum mv_type { MV_STR, MV_INT, MV_FLOAT, MV_BOOL };

struct mval {
	uint8_t type;
	int64_t i;       /* MV_INT, MV_BOOL */
	double f;        /* MV_FLOAT */
	size_t soff;     /* MV_STR: offset into the arena */
	size_t slen;
};

struct mentry {
	size_t koff, klen;   /* key in the arena */
	int is_array;
	int deleted;
	size_t first, count; /* values vals[first .. first+count) */
};

struct meta {
	struct strbuf arena;
	struct mentry *e;
	size_t n, cap;
	struct mval *v;
	size_t nv, capv;
};

void meta_init(struct meta *m);
void meta_release(struct meta *m);
void meta_reset(struct meta *m);

/*
 * Add a value read from a row (str, int, float, bool columns starting at
 * `col`, precedence str -> int -> float -> bool, §3.6); bool_col < 0 when the
 * table has no bool_value column. Array elements with the same key as the
 * previous entry are appended to it. Returns 0, or 1 when every column is
 * NULL (the row holds no value and is skipped).
 */
int meta_add_row(struct meta *m, const char *key, size_t klen, int is_array,
		 sqlite3_stmt *st, int col, int bool_col);

/*
 * Apply a patch object (WAL update metadata): null deletes the key, anything
 * else replaces it. Errors (an unsupported value type) name `where`.
 */
int meta_patch(struct meta *m, json_t *patch, const char *where,
	       struct cv_err *e);

/* Find a live entry. */
struct mentry *meta_find(struct meta *m, const char *key, size_t klen);

static inline const char *meta_key(const struct meta *m, const struct mentry *en)
{
	return m->arena.buf + en->koff;
}

static inline const char *meta_str(const struct meta *m, const struct mval *v)
{
	return m->arena.buf + v->soff;
}

/*
 * Write the user-visible part (keys not starting with "chroma:") as a JSON
 * object with keys in byte order, or "null" when empty. Returns the number of
 * strings with invalid UTF-8 replaced.
 */
size_t meta_write_json(struct meta *m, struct strbuf *out);

/*
 * Merge a patch into an accumulated patch (later keys win, null kept as a
 * deletion). Both are JSON objects.
 */
void meta_patch_merge(json_t *acc, json_t *upd);

#endif
