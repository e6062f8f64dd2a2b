/*
 * Export from a server (see remote_export.h): collections by name or all,
 * pages fetched several at a time and written in order, the record count
 * compared before and after, and a closing pass over the collection's ids
 * for the records the paging passed over.
 */
#include "net/remote_export.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chroma/collection.h"
#include "chroma/meta.h"
#include "net/idwalk.h"
#include "util/hashset.h"
#include "util/jsonscan.h"
#include "util/sha256.h"
#include "util/strbuf.h"
#include "util/xalloc.h"
#include "util/banned.h"

#define MAX_DIM 65536
#define IDS_PAGE 10000 /* ids per request of the closing pass */
/* What a record is asked for with. */
#define INCLUDE_ALL "[\"embeddings\",\"documents\",\"metadatas\",\"uris\"]"

struct rx {
	struct http h;
	const struct remote_source *src;
	const struct remote_opts *o;
	struct jsonl_writer *w;
	struct remote_stats *st;
	struct strbuf prefix;     /* /api/v2/tenants/T/databases/D */
	struct meta m;
	struct strbuf meta_json;
	float *vec;
	/* a whole collection: the ids written, for the closing pass */
	int recheck;
	struct hashset seen;
	uint64_t rows;            /* records the server sent */
	uint64_t twice;           /* of them, ids already written */
};

static int get_json(struct rx *x, const char *method, const char *path,
		    const char *body, json_t **out, struct cv_err *e)
{
	struct strbuf resp = STRBUF_INIT;
	json_error_t je;
	int rc = http_call(&x->h, method, path, body, &resp, e);

	*out = NULL;
	if (!rc) {
		*out = json_loadb(resp.buf, resp.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
		if (!*out)
			rc = cv_errf(e, CV_EIO, "%s%s: response is not JSON (%s)",
				     x->h.base, path, je.text);
	}
	sb_release(&resp);
	return rc;
}

static char *dump_or_null(json_t *v)
{
	return v && !json_is_null(v) ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}

/* The server's collection as the directory reader would describe it. */
static void to_collection(struct rx *x, json_t *cj, struct cv_collection *c)
{
	struct strbuf md = STRBUF_INIT;
	json_t *meta = json_object_get(cj, "metadata");
	json_t *dim = json_object_get(cj, "dimension");

	memset(c, 0, sizeof(*c));
	c->id = xstrdup(json_is_string(json_object_get(cj, "id")) ?
			json_string_value(json_object_get(cj, "id")) : "");
	c->name = xstrdup(json_is_string(json_object_get(cj, "name")) ?
			  json_string_value(json_object_get(cj, "name")) : "");
	c->tenant = xstrdup(x->src->tenant ? x->src->tenant : "default_tenant");
	c->database = xstrdup(x->src->database ? x->src->database : "default_database");
	c->has_dimension = json_is_integer(dim);
	c->dimension = json_integer_value(dim);
	c->config_json = dump_or_null(json_object_get(cj, "configuration_json"));
	c->schema_json = dump_or_null(json_object_get(cj, "schema"));
	meta_reset(&x->m);
	if (json_is_object(meta))
		meta_patch(&x->m, meta, "collection metadata", NULL);
	meta_write_json(&x->m, &md);
	c->metadata_json = sb_detach(&md, NULL);
	cv_space_from_json(c->schema_json, c->config_json, c->space);
}

static int page_vector(struct rx *x, json_t *emb, size_t *dim, struct cv_err *e)
{
	size_t i, n = json_array_size(emb);
	json_t *v;

	if (!json_is_array(emb) || n > MAX_DIM)
		return cv_errf(e, CV_EIO, "%s: an embedding is not an array of numbers",
			       x->h.base);
	json_array_foreach(emb, i, v) {
		if (!json_is_number(v))
			return cv_errf(e, CV_EIO, "%s: an embedding holds a non-number",
				       x->h.base);
		x->vec[i] = (float)json_number_value(v);
	}
	*dim = n;
	return 0;
}

/* 1 if the id was not written before (or no ids are kept), and is now. */
static int first_time(struct rx *x, const char *id, size_t len)
{
	uint8_t key[SHA256_LEN];

	if (!x->recheck)
		return 1;
	idwalk_key(id, len, key);
	return hashset_add(&x->seen, key);
}

static int written(struct rx *x, const char *id, size_t len)
{
	uint8_t key[SHA256_LEN];

	idwalk_key(id, len, key);
	return hashset_has(&x->seen, key);
}

static const char *str_at(json_t *arr, size_t i, size_t *len)
{
	json_t *v = json_array_get(arr, i);

	*len = json_string_length(v);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Write the records of one page; *n receives how many it held. */
static int emit_page(struct rx *x, json_t *page, const char *text,
		     const struct json_span *sp, size_t ns, long long *budget,
		     size_t *n, struct cv_err *e)
{
	json_t *ids = json_object_get(page, "ids");
	json_t *embs = json_object_get(page, "embeddings");
	json_t *metas = json_object_get(page, "metadatas");
	struct cv_record rec;
	size_t i, dim = 0;
	long rows;
	int rc;

	*n = json_array_size(ids);
	for (i = 0; i < *n && *budget != 0; i++, (*budget)--) {
		memset(&rec, 0, sizeof(rec));
		rec.id = str_at(ids, i, &rec.id_len);
		if (!rec.id)
			return cv_errf(e, CV_EIO, "%s: a record without an id", x->h.base);
		x->rows++;
		if (!first_time(x, rec.id, rec.id_len)) {
			x->twice++; /* deleted and added again meanwhile: kept once */
			continue;
		}
		rec.doc = str_at(json_object_get(page, "documents"), i, &rec.doc_len);
		rec.uri = str_at(json_object_get(page, "uris"), i, &rec.uri_len);
		meta_reset(&x->m);
		if (json_is_object(json_array_get(metas, i)))
			meta_patch(&x->m, json_array_get(metas, i), "metadata", NULL);
		sb_reset(&x->meta_json);
		meta_write_json(&x->m, &x->meta_json);
		rec.meta_json = x->meta_json.buf;
		rec.meta_len = x->meta_json.len;
		if (text && i < ns && strncmp(text + sp[i].off, "null", 4) &&
		    memchr(text + sp[i].off, '+', sp[i].len)) {
			/* spelt otherwise than cv_fmt_f32 would (3.4028235e+38): read
			 * back, to be written as the directory's export writes it */
			rows = json_floats(text + sp[i].off, sp[i].len, x->vec, MAX_DIM, 0);
			if (rows < 0)
				return cv_errf(e, CV_EIO, "%s: an embedding is not an array "
					       "of numbers", x->h.base);
			rec.vec = x->vec;
			rec.dim = (size_t)rows;
		} else if (text && i < ns && strncmp(text + sp[i].off, "null", 4)) {
			rec.vec_text = text + sp[i].off;
			rec.vec_text_len = sp[i].len;
		} else if (!json_is_null(json_array_get(embs, i)) && json_array_get(embs, i)) {
			if ((rc = page_vector(x, json_array_get(embs, i), &dim, e)))
				return rc;
			rec.vec = x->vec;
			rec.dim = dim;
		} else {
			x->st->missing_vectors++; /* written as null, and said */
		}
		jsonl_writer_record(x->w, &rec);
		x->st->records++;
	}
	return 0;
}

static int count_of(struct rx *x, const char *cid, long long *n, struct cv_err *e)
{
	struct strbuf path = STRBUF_INIT;
	json_t *j;
	int rc;

	sb_addf(&path, "%s/collections/%s/count", x->prefix.buf, cid);
	rc = get_json(x, "GET", path.buf, NULL, &j, e);
	sb_release(&path);
	if (!rc && !json_is_integer(j))
		rc = cv_errf(e, CV_EIO, "%s: count is not a number", x->h.base);
	*n = json_integer_value(j);
	json_decref(j);
	return rc;
}

static void page_request(struct rx *x, const char *cid, long long off,
			 struct http_req *r)
{
	struct strbuf p = STRBUF_INIT, b = STRBUF_INIT;

	sb_addf(&p, "%s/collections/%s/get", x->prefix.buf, cid);
	sb_addf(&b, "{\"limit\":%d,\"offset\":%lld,\"include\":%s}", x->o->page, off,
		INCLUDE_ALL);
	memset(r, 0, sizeof(*r));
	r->method = "POST";
	r->path = sb_detach(&p, NULL);
	r->body = sb_detach(&b, NULL);
}

/*
 * A page that starts with the record the page before it started with: a
 * server (or a proxy) that ignores offset would have the export page, and
 * write the same records, forever.
 */
static int check_start(struct rx *x, json_t *page, struct strbuf *first,
		       long long off, struct cv_err *e)
{
	json_t *id = json_array_get(json_object_get(page, "ids"), 0);

	if (!json_is_string(id))
		return 0;
	if (first->len == json_string_length(id) && first->len &&
	    !memcmp(first->buf, json_string_value(id), first->len))
		return cv_errf(e, CV_EIO, "%s: the page at offset %lld starts with the "
			       "record the page before it started with: the server does "
			       "not page by offset", x->h.base, off);
	sb_reset(first);
	sb_add(first, json_string_value(id), json_string_length(id));
	return 0;
}

/*
 * Fetch concurrency pages at once, write them in order, until a short page.
 * The server prints float32 as cv_fmt_f32 does (shortest digits, ryu's
 * layout), so each embedding's text is copied as it is (json_cut_rows)
 * rather than parsed and printed again; the rest of a page is parsed.
 */
static int export_records(struct rx *x, const char *cid, struct cv_err *e)
{
	int k = x->h.o.concurrency, i, rc = 0, more = 1;
	struct http_req *reqs = xcalloc((size_t)k, sizeof(*reqs));
	long long off = x->o->offset, budget = x->o->limit;
	struct strbuf rest = STRBUF_INIT, first = STRBUF_INIT;
	struct json_span *sp = NULL;
	const char *text;
	json_t *page;
	size_t n, ns, cap = 0;
	long rows;

	while (more && budget != 0 && !rc) {
		for (i = 0; i < k; i++)
			page_request(x, cid, off + (long long)i * x->o->page, &reqs[i]);
		rc = http_run(&x->h, reqs, (size_t)k, e);
		for (i = 0; i < k; i++) {
			page = NULL;
			ns = 0;
			text = NULL;
			rows = rc || !more ? -1 : json_cut_rows(reqs[i].out.buf,
				reqs[i].out.len, "embeddings", &rest, &sp, &cap);
			if (rows >= 0) {
				ns = (size_t)rows;
				text = reqs[i].out.buf;
				page = json_loadb(rest.buf, rest.len, JSON_ALLOW_NUL, NULL);
			} else if (!rc && more) {
				page = json_loadb(reqs[i].out.buf, reqs[i].out.len, JSON_ALLOW_NUL, NULL);
			}
			if (!rc && more && !page)
				rc = cv_errf(e, CV_EIO, "%s: a page is not JSON", x->h.base);
			if (!rc && page &&
			    !(rc = check_start(x, page, &first, off + (long long)i * x->o->page,
					       e)) &&
			    !(rc = emit_page(x, page, text, sp, ns, &budget, &n, e)))
				more = n == (size_t)x->o->page && budget != 0;
			json_decref(page);
			free(reqs[i].path);
			free(reqs[i].body);
			sb_release(&reqs[i].out);
		}
		off += (long long)k * x->o->page;
	}
	free(reqs);
	free(sp);
	sb_release(&rest);
	sb_release(&first);
	return rc;
}

/* The ids of todo not written yet, as a new array. */
static json_t *not_written(struct rx *x, json_t *todo)
{
	json_t *rest = json_array(), *id;
	size_t i;

	json_array_foreach(todo, i, id)
		if (!written(x, json_string_value(id), json_string_length(id)))
			json_array_append(rest, id);
	return rest;
}

/*
 * Fetch the records of ids (an array) by id, a page at a time, and write
 * them; ids a request did not bring are asked for again, until one brings
 * none (those were deleted meanwhile), so a server or proxy answering fewer
 * than asked for loses none.
 */
static int fetch_by_id(struct rx *x, const char *path, json_t *ids,
		       struct cv_err *e)
{
	json_t *todo = json_incref(ids), *some, *page, *rest;
	struct strbuf body = STRBUF_INIT;
	long long budget = -1;
	size_t i, n = 0;
	char *text;
	int rc = 0, shrunk;

	while (!rc && json_array_size(todo)) {
		some = json_array();
		for (i = 0; i < json_array_size(todo) && i < (size_t)x->o->page; i++)
			json_array_append(some, json_array_get(todo, i));
		text = json_dumps(some, JSON_COMPACT);
		sb_reset(&body);
		sb_addf(&body, "{\"ids\":%s,\"include\":%s}", text, INCLUDE_ALL);
		free(text);
		json_decref(some);
		rc = get_json(x, "POST", path, body.buf, &page, e);
		if (!rc)
			rc = emit_page(x, page, NULL, NULL, 0, &budget, &n, e);
		json_decref(page);
		if (rc || !n)
			break;
		rest = not_written(x, todo);
		shrunk = json_array_size(rest) < json_array_size(todo);
		json_decref(todo);
		todo = rest;
		if (!shrunk)
			break; /* it brought only ids not asked for */
	}
	json_decref(todo);
	sb_release(&body);
	return rc;
}

/* The closing pass's tally: the ids it lists that were written, or not. */
struct tally {
	struct rx *x;
	json_t *late;
	uint64_t present;
};

static void tally_id(void *ctx, json_t *id, const uint8_t *key)
{
	struct tally *t = ctx;

	if (hashset_has(&t->x->seen, key))
		t->present++;
	else
		json_array_append(t->late, id);
}

/* The page's ids, checked to be strings. */
static json_t *page_ids(struct rx *x, json_t *page, struct cv_err *e)
{
	json_t *ids = json_object_get(page, "ids"), *id;
	size_t i;

	if (!json_is_array(ids)) {
		cv_errf(e, CV_EIO, "%s: a page of ids without \"ids\"", x->h.base);
		return NULL;
	}
	json_array_foreach(ids, i, id)
		if (!json_is_string(id)) {
			cv_errf(e, CV_EIO, "%s: a record without an id", x->h.base);
			return NULL;
		}
	return ids;
}

/*
 * The closing pass: every id the collection holds now, by pages of ids
 * alone, in a walk that asks again further back where deletions moved its
 * pages (net/idwalk.h). Ids not written yet (added after the paging passed
 * their place, or passed over when records deleted meanwhile shifted the
 * pages) are fetched and written; *gone counts the ids written that the
 * pass did not find. count: the records just before it.
 */
static int recheck(struct rx *x, const char *cid, long long count,
		   uint64_t *gone, struct cv_err *e)
{
	struct strbuf path = STRBUF_INIT, body = STRBUF_INIT;
	struct tally t = { x, json_array(), 0 };
	struct idwalk k;
	json_t *page = NULL, *ids;
	int rc = 0;

	idwalk_init(&k, count, x->h.base, tally_id, &t);
	sb_addf(&path, "%s/collections/%s/get", x->prefix.buf, cid);
	while (!rc && !k.done) {
		if (k.need_count) {
			if (!(rc = count_of(x, cid, &count, e)))
				idwalk_count(&k, count);
			continue;
		}
		sb_reset(&body);
		sb_addf(&body, "{\"limit\":%d,\"offset\":%lld,\"include\":[]}",
			IDS_PAGE, k.off);
		rc = get_json(x, "POST", path.buf, body.buf, &page, e);
		if (!rc)
			rc = (ids = page_ids(x, page, e)) ? idwalk_page(&k, ids, e) : CV_EIO;
		json_decref(page);
	}
	*gone = x->seen.n > t.present ? x->seen.n - t.present : 0;
	if (!rc)
		rc = fetch_by_id(x, path.buf, t.late, e);
	json_decref(t.late);
	idwalk_release(&k);
	sb_release(&path);
	sb_release(&body);
	return rc;
}

/* The first collection that changed during the export, described. */
static void note_change(struct rx *x, const char *name, long long before,
			long long after, uint64_t late, uint64_t gone,
			uint64_t twice)
{
	char *p = x->st->change;
	size_t cap = sizeof(x->st->change), n;

	if (x->st->changed++)
		return;
	n = (size_t)snprintf(p, cap, "collection \"%s\" changed during the export: "
			     "%lld records before, %lld after", name, before, after);
	if (late && n < cap)
		n += (size_t)snprintf(p + n, cap - n, "; %llu not seen by the paging (added "
				      "late, or passed over as deletions shifted its "
				      "pages), fetched at the end", (unsigned long long)late);
	if (gone && n < cap)
		n += (size_t)snprintf(p + n, cap - n, "; %llu written, then deleted",
				      (unsigned long long)gone);
	if (twice && n < cap)
		snprintf(p + n, cap - n, "; %llu deleted and added again, written "
			 "as first read", (unsigned long long)twice);
}

/*
 * A collection whose count did not change but whose paging came short, with
 * nothing deleted: pages shorter than asked for ended the paging early, and
 * the closing pass fetched the rest.
 */
static void note_cut(struct rx *x, const char *name, uint64_t got,
		     long long want, uint64_t late)
{
	if (x->st->changed++)
		return;
	snprintf(x->st->change, sizeof(x->st->change), "collection \"%s\": pages "
		 "came shorter than the %d records asked for (a proxy limiting "
		 "them?): the paging brought %llu of its %lld records, the closing "
		 "pass %llu", name, x->o->page, (unsigned long long)got, want,
		 (unsigned long long)late);
}

static const char *coll_id(json_t *c)
{
	return json_string_value(json_object_get(c, "id"));
}

/* A collection as the server describes one: with an id and a name. */
static int is_collection(json_t *c)
{
	return coll_id(c) && json_is_string(json_object_get(c, "name"));
}

/* The collection named name, asked for by its name. */
static int get_named(struct rx *x, const char *name, json_t **cj, struct cv_err *e)
{
	struct strbuf path = STRBUF_INIT;
	int rc;

	sb_addf(&path, "%s/collections/", x->prefix.buf);
	sb_add_pct_encoded(&path, name);
	rc = get_json(x, "GET", path.buf, NULL, cj, e);
	if (!rc && !is_collection(*cj)) {
		json_decref(*cj);
		*cj = NULL;
		rc = cv_errf(e, CV_EIO, "%s%s: not a collection", x->h.base, path.buf);
	}
	sb_release(&path);
	return rc;
}

/*
 * Exporting every collection, one of the list answered 404 (e holds it)
 * before its export began. Asked for by name: when there is none, or
 * another (deleted and created again since), it is left out with a
 * warning; when it is still there, the 404 stands.
 */
static int deleted_since_listed(struct rx *x, const struct cv_collection *c,
				struct cv_err *e)
{
	struct cv_err first = *e;
	json_t *now = NULL;
	int rc;

	cv_err_clear(e);
	rc = get_named(x, c->name, &now, e);
	if (!rc && !strcmp(coll_id(now), c->id)) {
		*e = first;
		rc = first.code;
	} else if (!rc || x->h.status == 404) {
		cv_err_clear(e);
		rc = 0;
		if (!x->st->changed++)
			snprintf(x->st->change, sizeof(x->st->change), "collection \"%s\" "
				 "was deleted after the collections were listed, before "
				 "its export began: left out", c->name);
	} else {
		cv_err_prefix(e, "its count answered HTTP 404, and asked for by name");
	}
	json_decref(now);
	return rc;
}

static int export_one(struct rx *x, json_t *cj, struct cv_err *e)
{
	struct cv_collection c;
	struct strbuf hdr = STRBUF_INIT;
	long long before, after, want;
	uint64_t rows = x->rows, twice = x->twice, paged, late = 0, gone = 0, got;
	int rc, cut;

	to_collection(x, cj, &c);
	x->recheck = x->o->offset == 0 && x->o->limit < 0;
	if (x->recheck)
		hashset_init(&x->seen, IDWALK_KEY);
	if ((rc = count_of(x, c.id, &before, e))) {
		if (x->h.status == 404 && !x->src->collection)
			rc = deleted_since_listed(x, &c, e);
		goto out;
	}
	if (x->o->with_header) {
		jsonl_header(&hdr, &c);
		jsonl_writer_line(x->w, hdr.buf, hdr.len);
	}
	if ((rc = export_records(x, c.id, e)) || (rc = count_of(x, c.id, &after, e)))
		goto out;
	/* a page shorter than asked for ends the paging: was it the last? */
	got = x->rows - rows;
	want = before > x->o->offset ? before - x->o->offset : 0;
	if (x->o->limit >= 0 && want > x->o->limit)
		want = x->o->limit;
	cut = after == before && got < (uint64_t)want;
	if (after == before && got != (uint64_t)want && !x->recheck) {
		/* no closing pass to fetch the rest */
		rc = cv_errf(e, CV_EIO, "%s: the server gave %llu records where its "
			     "count says %lld (pages shorter than the %d asked for, or "
			     "records missing: a proxy limiting them?)", x->h.base,
			     (unsigned long long)got, want, x->o->page);
		goto out;
	}
	paged = x->st->records;
	if (x->recheck && (rc = recheck(x, c.id, after, &gone, e)))
		goto out;
	late = x->st->records - paged;
	x->st->collections++;
	twice = x->twice - twice;
	if (cut && !gone && !twice)
		note_cut(x, c.name, got, want, late);
	else if (after != before || late || gone || twice)
		note_change(x, c.name, before, after, late, gone, twice);
out:
	if (rc)
		cv_err_prefix(e, "collection \"%s\"", c.name);
	if (x->recheck)
		hashset_release(&x->seen);
	sb_release(&hdr);
	cv_collection_release(&c);
	return rc;
}

/*
 * Collections are listed by offset, in the server's order (by id), so one
 * deleted or created before a page shifts it. Each page after the first is
 * asked for from one entry back and must begin with the id the page before
 * ended with; else the listing starts again, up to LIST_ROUNDS times, a
 * little later each time. A server or proxy may answer fewer than
 * LIST_PAGE, or fewer when its collections are larger (a limit in bytes):
 * a page with nothing past the shared entry ends the list only when the
 * offset itself holds nothing either.
 */
#define LIST_PAGE 1000
#define LIST_ROUNDS 5

enum list_end {
	LIST_DONE,
	LIST_SHIFTED,     /* a page did not continue the one before */
	LIST_FROM_START,  /* ... it began where the list does */
	LIST_ONE_ONLY,    /* a page held the shared entry alone, the offset more */
};

/* The page of the list at offset, each entry a collection with an id and a name. */
static int list_page(struct rx *x, size_t offset, json_t **page, struct cv_err *e)
{
	struct strbuf path = STRBUF_INIT;
	json_t *c;
	size_t i;
	int rc;

	sb_addf(&path, "%s/collections?limit=%d&offset=%zu", x->prefix.buf, LIST_PAGE,
		offset);
	if ((rc = get_json(x, "GET", path.buf, NULL, page, e)))
		goto out;
	json_array_foreach(*page, i, c)
		if (!is_collection(c))
			break;
	if (!json_is_array(*page) || i < json_array_size(*page)) {
		json_decref(*page);
		*page = NULL;
		rc = cv_errf(e, CV_EIO, "%s%s: not a list of collections with ids and "
			     "names", x->h.base, path.buf);
	}
out:
	sb_release(&path);
	return rc;
}

/* Whether the list holds more at offset (*more): after a page of the shared entry alone. */
static int list_more(struct rx *x, size_t offset, int *more, struct cv_err *e)
{
	json_t *page;
	int rc = list_page(x, offset, &page, e);

	*more = !rc && json_array_size(page) > 0;
	json_decref(page);
	return rc;
}

/* How a page asked for from offset - back continues all. */
static enum list_end list_continues(json_t *all, json_t *page, size_t offset,
				    size_t back)
{
	const char *first = coll_id(json_array_get(page, 0));

	if (!back || (first && !strcmp(first, coll_id(json_array_get(all, offset - 1)))))
		return LIST_DONE;
	if (first && !strcmp(first, coll_id(json_array_get(all, 0))))
		return LIST_FROM_START;
	return LIST_SHIFTED;
}

/* One listing into all (emptied first); *how says how it ended. */
static int list_once(struct rx *x, json_t *all, enum list_end *how, struct cv_err *e)
{
	json_t *page;
	size_t n, back, i, offset = 0;
	int rc = 0, more;

	json_array_clear(all);
	for (;;) {
		back = offset > 0;
		if ((rc = list_page(x, offset - back, &page, e)))
			break;
		n = json_array_size(page);
		*how = list_continues(all, page, offset, back);
		for (i = back; *how == LIST_DONE && i < n; i++)
			json_array_append(all, json_array_get(page, i));
		json_decref(page);
		if (*how != LIST_DONE || !n)
			break;
		if (n == back) { /* the end, or pages smaller than the next entry */
			if (!(rc = list_more(x, offset, &more, e)) && more)
				*how = LIST_ONE_ONLY;
			break;
		}
		offset += n - back;
	}
	return rc;
}

static int list_collections(struct rx *x, json_t **all, struct cv_err *e)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	enum list_end how = LIST_SHIFTED;
	int rc = 0, round;

	*all = json_array();
	for (round = 0; !rc && how != LIST_DONE && round < LIST_ROUNDS; round++) {
		if (round) {
			nanosleep(&ts, NULL);
			ts.tv_nsec *= 2;
		}
		rc = list_once(x, *all, &how, e);
	}
	if (rc || how == LIST_DONE)
		return rc;
	if (how == LIST_FROM_START)
		return cv_errf(e, CV_EIO, "%s: the server answers the same collections "
			       "whatever the offset asked for (it does not page the "
			       "list by offset)", x->h.base);
	if (how == LIST_ONE_ONLY)
		return cv_errf(e, CV_EIO, "%s: pages of the list held only the "
			       "collection they share with the page before while more "
			       "came after it, %d times (pages of one collection, or "
			       "limited in size): the list cannot be checked for "
			       "collections deleted while it is read", x->h.base,
			       LIST_ROUNDS);
	return cv_errf(e, CV_EIO, "%s: the collections kept changing while they "
		       "were listed (%d times)", x->h.base, LIST_ROUNDS);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "name")),
		      json_string_value(json_object_get(*(json_t *const *)b, "name")));
}

/*
 * The tenant and database the location names exist: listing the collections
 * of one that does not gives an empty list, which would export nothing
 * without a word. The defaults are not asked about.
 */
static int check_scope(struct rx *x, struct cv_err *e)
{
	struct strbuf path = STRBUF_INIT;
	json_t *j = NULL;
	int rc = 0;

	if (!x->src->tenant && !x->src->database)
		return 0;
	if (x->src->tenant) {
		sb_adds(&path, "/api/v2/tenants/");
		sb_add_pct_encoded(&path, x->src->tenant);
		rc = get_json(x, "GET", path.buf, NULL, &j, e);
		json_decref(j);
		j = NULL;
	}
	if (!rc)
		rc = get_json(x, "GET", x->prefix.buf, NULL, &j, e);
	json_decref(j);
	sb_release(&path);
	return rc;
}

/* The collection the location names, asked for by its name. */
static int export_named(struct rx *x, struct cv_err *e)
{
	json_t *cj = NULL;
	int rc = get_named(x, x->src->collection, &cj, e);

	if (rc && x->h.status == 404) {
		cv_err_clear(e);
		rc = cv_errf(e, CV_ENOTFOUND, "collection \"%s\" not found in tenant "
			     "\"%s\", database \"%s\" on %s", x->src->collection,
			     x->src->tenant ? x->src->tenant : "default_tenant",
			     x->src->database ? x->src->database : "default_database",
			     x->h.base);
	}
	if (!rc)
		rc = export_one(x, cj, e);
	json_decref(cj);
	return rc;
}

static int export_all(struct rx *x, struct cv_err *e)
{
	json_t *all = NULL, **v;
	size_t n, i;
	int rc;

	if ((rc = check_scope(x, e)))
		return rc;
	if (x->src->collection)
		return export_named(x, e);
	if ((rc = list_collections(x, &all, e)))
		goto out;
	n = json_array_size(all);
	v = xcalloc(n + 1, sizeof(json_t *));
	for (i = 0; i < n; i++)
		v[i] = json_array_get(all, i);
	qsort(v, n, sizeof(json_t *), by_name); /* the directory reader's order */
	for (i = 0; !rc && i < n; i++)
		rc = export_one(x, v[i], e);
	free(v);
out:
	json_decref(all);
	return rc;
}

int remote_export(const struct remote_source *src, const struct remote_opts *o,
		  struct jsonl_writer *w, struct remote_stats *st,
		  struct cv_err *e)
{
	struct rx x = { .src = src, .o = o, .w = w, .st = st };
	int rc;

	memset(st, 0, sizeof(*st));
	if ((rc = http_open(&x.h, src->base_url, &o->http, e)))
		return rc;
	sb_init(&x.prefix, 0);
	sb_adds(&x.prefix, "/api/v2/tenants/");
	sb_add_pct_encoded(&x.prefix, src->tenant ? src->tenant : "default_tenant");
	sb_adds(&x.prefix, "/databases/");
	sb_add_pct_encoded(&x.prefix, src->database ? src->database : "default_database");
	meta_init(&x.m);
	sb_init(&x.meta_json, 256);
	x.vec = xmalloc(MAX_DIM * sizeof(float));
	rc = export_all(&x, e);
	free(x.vec);
	meta_release(&x.m);
	sb_release(&x.meta_json);
	sb_release(&x.prefix);
	http_close(&x.h);
	return rc;
}
