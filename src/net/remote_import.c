/*
 * Import (see remote_import.h). Pass one reads every line and checks it
 * (JSON, fields, dimension, duplicate ids) so a bad file sends nothing.
 * Pass two sends batches, several at a time; adding is idempotent in Chroma
 * (an existing id is left alone), so resuming from the last checkpoint can
 * neither double nor drop a record.
 */
#include "net/remote_import.h"

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fsutil.h"
#include "util/hmap.h"
#include "util/jsonscan.h"
#include "util/jsonw.h"
#include "util/lines.h"
#include "util/progress.h"
#include "util/sha256.h"
#include "util/strbuf.h"
#include "util/xalloc.h"
#include "util/banned.h"

/* Requests stay below this (the server refuses large bodies with 413). */
#define IMPORT_MAX_BODY (4u << 20)
#define IMPORT_MAX_DIM 65536

/* The collection a line belongs to, as pass one learns it. */
struct target {
	char *name;
	json_t *header;          /* the _collection object, or NULL */
	int64_t dim;             /* -1 until known */
	struct hmap ids;         /* ids seen, for duplicates (keys owned) */
	char *cid;               /* server id, in pass two */
	char *tenant, *database; /* where it goes: DEST's, else its header's */
};

struct imp {
	const struct import_opts *o;
	struct import_stats *st;
	struct http h;
	struct strbuf prefix;     /* DEST's tenant and database, in the API's path */
	struct target cur;
	struct hmap dests;        /* "tenant/database/name" of each header: line */
	char *made_db;            /* the last database checked or created */
	json_t *batch_ids, *batch_meta, *batch_doc, *batch_uri;
	int batch_has_uri;
	size_t batch_bytes;      /* estimated request size so far */
	struct http_req *reqs;
	struct strbuf batch_lines; /* the line of each batched record (u64) */
	struct strbuf *req_lines;  /* the same, per request in flight */
	size_t nreq;
	int batch;
	uint64_t resume_after;   /* lines at or before this were sent */
	struct strbuf progress_path;
	struct strbuf dest;       /* where the records go, kept in the progress file */
	struct strbuf rejected;   /* the line of each record refused (u64) */
	int progress_failed;      /* the progress file could not be written: said */
	long long input_size;     /* of the input file, kept in the progress file */
	char input_sha[2 * SHA256_LEN + 1]; /* of its bytes, read by pass one: the same */
	struct strbuf rest;       /* a line with its embedding cut out */
	long emb_dim;             /* numbers in the cut embedding, or -1 */
	int emb_large;            /* one of them may be beyond float32 */
	int headers;              /* collection headers seen in this pass */
	uint64_t headerless;      /* the line of a record before any header, or 0 */
	int sending;              /* pass two */
	int base64;               /* the server takes embeddings as base64 */
	float *vec;               /* one embedding, for base64 */
	size_t emb_off, emb_len;
	const char *line;         /* the line being handled */
	struct strbuf batch_emb;  /* the batch's embeddings, as JSON text */
	struct progress progress; /* records on stderr, when a terminal */
};

static int bad_line(const struct lines *l, struct cv_err *e, const char *fmt,
		    const char *what)
{
	return cv_errf(e, CV_ECORRUPT, fmt, l->path, (unsigned long long)l->lineno,
		       what);
}

static void target_reset(struct target *t, const char *name, json_t *header)
{
	size_t i;

	free(t->name);
	free(t->cid);
	free(t->tenant);
	free(t->database);
	json_decref(t->header);
	for (i = 0; i < t->ids.cap; i++)
		free((char *)t->ids.slots[i].key);
	if (t->ids.cap)
		hmap_release(&t->ids);
	memset(t, 0, sizeof(*t));
	t->name = name ? xstrdup(name) : NULL;
	t->header = header ? json_incref(header) : NULL;
	t->dim = json_is_integer(json_object_get(header, "dimension")) ?
		 json_integer_value(json_object_get(header, "dimension")) : -1;
	hmap_init(&t->ids, 1024);
}

/* One metadata value Chroma accepts: a scalar, or an array of one scalar type. */
static int meta_value_ok(json_t *v, int upsert)
{
	json_t *x;
	size_t i;
	int t;

	if (json_is_null(v))
		return upsert; /* null deletes a key: only on update and upsert */
	if (json_is_string(v) || json_is_number(v) || json_is_boolean(v))
		return 1;
	if (!json_is_array(v))
		return 0;
	if (!json_array_size(v))
		return 1; /* the server takes an empty array too */
	t = json_is_boolean(json_array_get(v, 0)) ? JSON_TRUE : json_typeof(json_array_get(v, 0));
	json_array_foreach(v, i, x) {
		int tx = json_is_boolean(x) ? JSON_TRUE : json_typeof(x);

		if (tx != t && !(json_is_number(x) && (t == JSON_INTEGER || t == JSON_REAL)))
			return 0;
		if (!json_is_string(x) && !json_is_number(x) && !json_is_boolean(x))
			return 0;
	}
	return 1;
}

static int check_metadata(struct imp *x, const struct lines *l, json_t *m,
			  struct cv_err *e)
{
	const char *k;
	json_t *v;

	json_object_foreach(m, k, v) {
		if (!*k || *k == '#' || *k == '$')
			return cv_errf(e, CV_ECORRUPT, "%s:%llu: metadata key \"%s\": Chroma "
				       "refuses empty keys and keys starting with # or $",
				       l->path, (unsigned long long)l->lineno, k);
		if (meta_value_ok(v, x->o->upsert))
			continue;
		return cv_errf(e, CV_ECORRUPT, "%s:%llu: metadata \"%s\": Chroma takes a "
			       "string, number, bool or an array of one of those%s",
			       l->path, (unsigned long long)l->lineno, k,
			       json_is_null(v) ? " (null only with --upsert)" : "");
	}
	return 0;
}

/* Past float32's range: the server would keep it as infinity and refuse it. */
static int beyond_float32(double d)
{
	return fabs(d) >= 0x1.ffffffp+127; /* FLT_MAX and half its last place */
}

/*
 * Does the embedding's text (a JSON number array) hold a number beyond
 * float32? Only a number with a positive exponent or 39 digits in a row can
 * be, so only those are converted. Called only when the scanner found one
 * that may be (x->emb_large).
 */
static int text_beyond_float32(const char *p, size_t n)
{
	size_t i, run = 0, start = 0;
	int maybe;
	char c;

	for (i = 0; i < n; i++) {
		c = p[i];
		run = c >= '0' && c <= '9' ? run + 1 : 0;
		if (c == '[' || c == ',')
			start = i + 1;
		maybe = run >= 39 ||
			((c == 'e' || c == 'E') && i + 1 < n && p[i + 1] != '-');
		if (!maybe)
			continue;
		if (beyond_float32(strtod(p + start, NULL)))
			return 1;
		while (i + 1 < n && p[i + 1] != ',') /* on to the next number */
			i++;
		run = 0;
	}
	return 0;
}

/* The embedding, as text or parsed: every number within float32's range. */
static int check_range(struct imp *x, const struct lines *l, json_t *emb,
		       struct cv_err *e)
{
	json_t *v;
	size_t i;
	int bad = 0;

	if (x->emb_dim > 0 && json_is_null(emb))
		bad = x->emb_large && text_beyond_float32(x->line + x->emb_off,
							  x->emb_len);
	else
		json_array_foreach(emb, i, v)
			bad |= beyond_float32(json_number_value(v));
	if (!bad)
		return 0;
	return bad_line(l, e, "%s:%llu: %s", "the embedding holds a number beyond "
			"float32's range (the server would refuse it as infinite)");
}

/*
 * The record's document: cdp writes text_chunk, Chroma's get document; a
 * null or absent text_chunk leaves the other to say it.
 */
static json_t *document_of(json_t *rec)
{
	json_t *doc = json_object_get(rec, "text_chunk");

	return doc && !json_is_null(doc) ? doc : json_object_get(rec, "document");
}

/* A record line: fields of the right types, dimension, no duplicate id. */
static int check_record(struct imp *x, const struct lines *l, json_t *rec,
			struct cv_err *e)
{
	json_t *id = json_object_get(rec, "id"), *emb = json_object_get(rec, "embedding");
	json_t *doc = document_of(rec), *v;
	const struct hmap_slot *first;
	size_t i;

	if (!json_is_string(id))
		return bad_line(l, e, "%s:%llu: %s", "\"id\" is missing or not a string");
	if (!json_string_length(id))
		return bad_line(l, e, "%s:%llu: %s", "\"id\" is empty");
	if (!x->cur.name)
		return bad_line(l, e, "%s:%llu: %s", "a record before any collection "
				"header, and DEST names no collection");
	if (!x->headers && !x->headerless)
		x->headerless = l->lineno;
	if (doc && !json_is_null(doc) && !json_is_string(doc))
		return bad_line(l, e, "%s:%llu: %s", "the document is not a string");
	v = json_object_get(rec, "uri");
	if (v && !json_is_null(v) && !json_is_string(v))
		return bad_line(l, e, "%s:%llu: %s", "\"uri\" is not a string");
	v = json_object_get(rec, "metadata");
	if (v && !json_is_null(v) && !json_is_object(v))
		return bad_line(l, e, "%s:%llu: %s", "\"metadata\" is not an object");
	if (json_is_object(v) && check_metadata(x, l, v, e))
		return CV_ECORRUPT;
	if (x->emb_dim <= 0) {
		if (!json_is_array(emb) || !json_array_size(emb))
			return bad_line(l, e, "%s:%llu: %s", "\"embedding\" is not an "
					"array of numbers");
		json_array_foreach(emb, i, v)
			if (!json_is_number(v))
				return bad_line(l, e, "%s:%llu: %s",
						"\"embedding\" holds a non-number");
		x->emb_dim = (long)json_array_size(emb);
	}
	if (x->emb_dim > IMPORT_MAX_DIM)
		return bad_line(l, e, "%s:%llu: %s", "embedding longer than 65536 numbers");
	if (check_range(x, l, emb, e))
		return CV_ECORRUPT;
	if (x->cur.dim < 0)
		x->cur.dim = x->emb_dim;
	if (x->emb_dim != x->cur.dim)
		return cv_errf(e, CV_ECORRUPT, "%s:%llu: embedding has dimension %ld, "
			       "collection \"%s\" has %lld", l->path,
			       (unsigned long long)l->lineno, x->emb_dim,
			       x->cur.name, (long long)x->cur.dim);
	if ((first = hmap_get(&x->cur.ids, json_string_value(id), json_string_length(id))))
		return cv_errf(e, CV_ECORRUPT, "%s:%llu: id \"%s\" appears twice in "
			       "collection \"%s\" (first on line %llu)", l->path,
			       (unsigned long long)l->lineno, json_string_value(id),
			       x->cur.name, (unsigned long long)first->val);
	hmap_put(&x->cur.ids, xmemdupz(json_string_value(id), json_string_length(id)),
		 json_string_length(id), l->lineno);
	x->st->records++;
	return 0;
}

/*
 * Parse a line into a JSON object, or say where it is malformed. A valid
 * embedding is cut out as text (x->emb_off/len into p, x->emb_dim numbers)
 * and left null in the object: the numbers are never parsed.
 */
static int parse_line(struct imp *x, const struct lines *l, const char *p,
		      size_t n, json_t **out, struct cv_err *e)
{
	json_error_t je;

	x->emb_dim = json_cut_numbers(p, n, "embedding", &x->rest, &x->emb_off,
				      &x->emb_len, &x->emb_large);
	if (x->emb_dim > 0) {
		*out = json_loadb(x->rest.buf, x->rest.len, JSON_ALLOW_NUL, &je);
		if (!*out && (size_t)je.position > x->emb_off) /* past the cut */
			je.column += (int)x->emb_len - 4;   /* "null" stood for it */
	} else {
		*out = json_loadb(p, n, JSON_ALLOW_NUL, &je);
	}
	if (!*out && (strstr(je.text, "'NaN'") || strstr(je.text, "'Infinity'") ||
		      strstr(je.text, "'-Infinity'")))
		return cv_errf(e, CV_ECORRUPT, "%s:%llu: column %d: %s: Chroma's API "
			       "takes finite numbers only (an export writes these from "
			       "metadata an old database holds); replace the value "
			       "before importing", l->path, (unsigned long long)l->lineno,
			       je.column, je.text);
	if (!*out)
		return cv_errf(e, CV_ECORRUPT, "%s:%llu: column %d: %s", l->path,
			       (unsigned long long)l->lineno, je.column, je.text);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return bad_line(l, e, "%s:%llu: %s", "not a JSON object");
	}
	return 0;
}

/* Empty, or only white space: no record, as an empty line. */
static int blank(const char *p, size_t n)
{
	while (n && (*p == ' ' || *p == '\t' || *p == '\r')) {
		p++;
		n--;
	}
	return !n;
}

/*
 * Where the current collection goes: DEST's tenant and database, else its
 * header's (an export of a whole directory holds several) unless DEST names
 * the collection, else the defaults.
 */
static void target_place(struct imp *x, json_t *hdr)
{
	/* DEST naming a collection names its place too, as export reads it */
	const char *t = x->o->collection ? NULL :
			json_string_value(json_object_get(hdr, "tenant"));
	const char *d = x->o->collection ? NULL :
			json_string_value(json_object_get(hdr, "database"));

	x->cur.tenant = xstrdup(x->o->tenant ? x->o->tenant : t ? t : "default_tenant");
	x->cur.database = xstrdup(x->o->database ? x->o->database :
				  d ? d : "default_database");
}

/* The API path of the current collection's database. */
static void add_prefix(struct strbuf *sb, const struct target *t)
{
	sb_adds(sb, "/api/v2/tenants/");
	sb_add_pct_encoded(sb, t->tenant);
	sb_adds(sb, "/databases/");
	sb_add_pct_encoded(sb, t->database);
}

/* Pass one: two headers bound for one collection would merge their records. */
static int check_dest(struct imp *x, const struct lines *l, struct cv_err *e)
{
	struct strbuf key = STRBUF_INIT;
	const struct hmap_slot *s;
	int rc = 0;

	sb_addf(&key, "%s/%s/%s", x->cur.tenant, x->cur.database, x->cur.name);
	s = hmap_get(&x->dests, key.buf, key.len);
	if (s) {
		rc = cv_errf(e, CV_ECORRUPT, "%s:%llu: collection \"%s\" again (first "
			     "at line %llu): both would go to one collection of database "
			     "%s (tenant %s)", l->path, (unsigned long long)l->lineno,
			     x->cur.name, (unsigned long long)s->val, x->cur.database,
			     x->cur.tenant);
	} else {
		size_t n = key.len;

		hmap_put(&x->dests, sb_detach(&key, NULL), n, l->lineno); /* key owned */
	}
	sb_release(&key);
	return rc;
}

/*
 * Chroma's rule for collection and database names (1.5, checked against the
 * server): 3 to 512 of [a-zA-Z0-9._-], a letter or digit at each end, no
 * "..", and not an IPv4 address.
 */
#define NAME_RULE "3 to 512 of a-z A-Z 0-9 . _ -, a letter or digit at each " \
		  "end, no \"..\", not an IPv4 address"

static int name_ok(const char *s)
{
	size_t n = strlen(s);
	unsigned char addr[4];

	return n >= 3 && n <= 512 && strspn(s, "abcdefghijklmnopqrstuvwxyz"
					    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n &&
	       isalnum((unsigned char)s[0]) && isalnum((unsigned char)s[n - 1]) &&
	       !strstr(s, "..") && inet_pton(AF_INET, s, addr) != 1;
}

/* A tenant's name: Chroma asks only for 3 characters at least. */
static int tenant_ok(const char *s)
{
	return strlen(s) >= 3;
}

/* The tenant and database a header names, which Chroma would refuse. */
static int place_ok(const struct imp *x, const struct lines *l, struct cv_err *e)
{
	if (!tenant_ok(x->cur.tenant))
		return cv_errf(e, CV_ECORRUPT, "%s:%llu: tenant \"%s\": Chroma takes "
			       "names of 3 characters or more", l->path,
			       (unsigned long long)l->lineno, x->cur.tenant);
	if (!name_ok(x->cur.database))
		return cv_errf(e, CV_ECORRUPT, "%s:%llu: database \"%s\": Chroma takes "
			       NAME_RULE, l->path, (unsigned long long)l->lineno,
			       x->cur.database);
	return 0;
}

/* A header line switches the current collection. */
static int take_header(struct imp *x, const struct lines *l, json_t *hdr,
		       struct cv_err *e)
{
	const char *name = json_string_value(json_object_get(hdr, "name"));
	json_t *space = json_object_get(hdr, "space");

	if (!name)
		return bad_line(l, e, "%s:%llu: %s", "collection header without a name");
	if (json_integer_value(json_object_get(hdr, "format")) > 1)
		return bad_line(l, e, "%s:%llu: %s", "format newer than this chromavault");
	if (!x->o->collection && !name_ok(name))
		return bad_line(l, e, "%s:%llu: %s", "collection name that Chroma refuses "
				"(" NAME_RULE ")");
	if (json_is_string(space) && strcmp(json_string_value(space), "l2") &&
	    strcmp(json_string_value(space), "cosine") && strcmp(json_string_value(space), "ip"))
		return bad_line(l, e, "%s:%llu: %s", "space that Chroma's index does not "
				"have (l2, cosine or ip)");
	if (x->headers++ && x->o->collection)
		return bad_line(l, e, "%s:%llu: %s", "a second collection: DEST names one "
				"collection, so the file must hold one");
	/* its records would be counted apart from those before it (their ids
	 * and dimension unchecked against each other) though bound for the
	 * same collection: a header comes first or not at all */
	if (x->headerless)
		return cv_errf(e, CV_ECORRUPT, "%s:%llu: a collection header after records "
			       "(the first on line %llu): a header must come before every "
			       "record", l->path, (unsigned long long)l->lineno,
			       (unsigned long long)x->headerless);
	if (x->o->space) /* the option is wrong, not the file: a usage error */
		return cv_errf(e, CV_EUSAGE, "%s:%llu: --space is for a file without a "
			       "collection header; this header gives the space (its "
			       "\"space\", configuration or schema)", l->path,
			       (unsigned long long)l->lineno);
	target_reset(&x->cur, x->o->collection ? x->o->collection : name, hdr);
	target_place(x, hdr);
	return x->sending ? 0 : place_ok(x, l, e) ? e->code : check_dest(x, l, e);
}

static void batch_new(struct imp *x)
{
	x->batch_ids = json_array();
	sb_reset(&x->batch_emb);
	x->batch_meta = json_array();
	x->batch_doc = json_array();
	x->batch_uri = json_array();
	x->batch_has_uri = 0;
}

static void batch_free(struct imp *x)
{
	json_decref(x->batch_ids);
	json_decref(x->batch_meta);
	json_decref(x->batch_doc);
	json_decref(x->batch_uri);
	x->batch_ids = NULL;
}

/*
 * The embedding as base64 of little-endian float32, each number read as a
 * double and then rounded to float32, as the server does with decimal text.
 */
static void add_base64(struct imp *x, json_t *rec)
{
	json_t *emb = json_object_get(rec, "embedding"), *v;
	size_t n = 0, i;
	long got;

	if (x->emb_dim > 0) {
		/* the line was checked; were it not read whole, the server would
		 * refuse the short vector by its dimension, and the line be named */
		got = json_floats(x->line + x->emb_off, x->emb_len, x->vec,
				  (size_t)x->emb_dim, 1);
		n = got > 0 ? (size_t)got : 0;
	} else {
		json_array_foreach(emb, i, v)
			x->vec[n++] = (float)json_number_value(v);
	}
	sb_addch(&x->batch_emb, '"');
	EVP_EncodeBlock((unsigned char *)sb_tail(&x->batch_emb, 4 * (4 * n + 2) / 3 + 4),
			(const unsigned char *)x->vec, (int)(4 * n));
	sb_setlen(&x->batch_emb, x->batch_emb.len + strlen(x->batch_emb.buf + x->batch_emb.len));
	sb_addch(&x->batch_emb, '"');
}

static void add_record(struct imp *x, json_t *rec, uint64_t line)
{
	json_t *doc = document_of(rec), *m, *u;

	m = json_object_get(rec, "metadata");
	u = json_object_get(rec, "uri");
	sb_add(&x->batch_lines, &line, sizeof(line));
	json_array_append(x->batch_ids, json_object_get(rec, "id"));
	if (x->batch_emb.len)
		sb_addch(&x->batch_emb, ',');
	if (x->base64) {
		add_base64(x, rec);
	} else if (x->emb_dim > 0) {
		sb_add(&x->batch_emb, x->line + x->emb_off, x->emb_len);
	} else {
		char *t = json_dumps(json_object_get(rec, "embedding"), JSON_COMPACT |
				     JSON_ENCODE_ANY | JSON_REAL_PRECISION(9));

		sb_adds(&x->batch_emb, t ? t : "null");
		free(t);
	}
	json_array_append_new(x->batch_meta, json_is_object(m) && json_object_size(m) ?
			      json_incref(m) : json_null());
	json_array_append_new(x->batch_doc, json_is_string(doc) ? json_incref(doc) :
			      json_null());
	json_array_append_new(x->batch_uri, json_is_string(u) ? json_incref(u) : json_null());
	x->batch_has_uri |= json_is_string(u);
	/* about what the record adds to the request body */
	x->batch_bytes += x->emb_len + 16 * json_array_size(json_object_get(rec, "embedding")) +
			  json_string_length(doc) + 64 * (json_object_size(m) + 1);
}

/*
 * The checkpoint: every record up to line arrived or was refused (those
 * lines listed, so a --resume still reports them), for an import into
 * x->dest. A failure to write it is said once; the import goes on.
 */
static void write_progress(struct imp *x, uint64_t line)
{
	struct strbuf tmp = STRBUF_INIT;
	json_t *j, *rej = json_array();
	size_t i;
	uint64_t v;
	int ok;

	for (i = 0; i + sizeof(v) <= x->rejected.len; i += sizeof(v)) {
		memcpy(&v, x->rejected.buf + i, sizeof(v));
		json_array_append_new(rej, json_integer((json_int_t)v));
	}
	j = json_pack("{s:I, s:I, s:s, s:s, s:o}", "line", (json_int_t)line, "input_size",
		      (json_int_t)x->input_size, "input_sha256", x->input_sha, "dest",
		      x->dest.buf, "rejected", rej);
	sb_addf(&tmp, "%s.tmp.%ld", x->progress_path.buf, (long)getpid());
	ok = j && !json_dump_file(j, tmp.buf, JSON_COMPACT) && !sync_path(tmp.buf) &&
	     !rename(tmp.buf, x->progress_path.buf);
	if (!ok) {
		int err = errno;

		unlink(tmp.buf);
		if (!x->progress_failed++)
			fprintf(stderr, "chromavault import: warning: %s cannot be "
				"written (%s): --resume could not go on from here\n",
				x->progress_path.buf, strerror(err));
	}
	json_decref(j);
	sb_release(&tmp);
}

/* The first (or last) line of request i's records. */
static uint64_t req_line(const struct imp *x, size_t i, int last)
{
	const struct strbuf *l = &x->req_lines[i];
	uint64_t v;

	memcpy(&v, l->buf + (last ? l->len - sizeof(v) : 0), sizeof(v));
	return v;
}

/*
 * A refusal of the records themselves (a bad value, a wrong dimension, too
 * large): found by halves. 401, 403, 404 and the like refuse every record
 * alike and stop the import.
 */
static int rejected(long status)
{
	return status == 400 || status == 413 || status == 422;
}

/* Records [from, to) of a request body, as a body of their own. */
static char *body_slice(json_t *body, size_t from, size_t to)
{
	json_t *o = json_object(), *v, *a;
	struct strbuf text = STRBUF_INIT;
	const char *k;
	size_t i;

	json_object_foreach(body, k, v) {
		if (!json_is_array(v)) {
			json_object_set(o, k, v);
			continue;
		}
		a = json_array();
		for (i = from; i < to; i++)
			json_array_append(a, json_array_get(v, i));
		json_object_set_new(o, k, a);
	}
	jw_json(&text, o);
	json_decref(o);
	return sb_detach(&text, NULL);
}

static int send_split(struct imp *x, char *path, char *body, const uint64_t *lines,
		      size_t n, struct cv_err *e);

/* A rejected batch: its halves are sent again, down to the records to blame. */
static int split_rejected(struct imp *x, char *path, const char *body,
			  const uint64_t *lines, size_t n, struct cv_err *e)
{
	json_t *b = json_loads(body, JSON_ALLOW_NUL, NULL);
	char *left = b ? body_slice(b, 0, n / 2) : NULL;
	char *right = b ? body_slice(b, n / 2, n) : NULL;
	int rc;

	if (!left || !right)
		rc = cv_errf(e, CV_EIO, "a request could not be split");
	else if (!(rc = send_split(x, path, left, lines, n / 2, e)))
		rc = send_split(x, path, right, lines + n / 2, n - n / 2, e);
	free(left);
	free(right);
	json_decref(b);
	return rc;
}

/* One record the server refused: reported with its line, the import goes on. */
static int report_rejected(struct imp *x, const char *body, uint64_t line,
			   const char *why, struct cv_err *e)
{
	json_t *b = json_loads(body, JSON_ALLOW_NUL, NULL);
	const char *id = json_string_value(json_array_get(json_object_get(b, "ids"), 0));

	fprintf(stderr, "chromavault import: %s:%llu: record \"%s\" rejected: %s\n",
		x->o->input, (unsigned long long)line, id ? id : "?", why);
	json_decref(b);
	sb_add(&x->rejected, &line, sizeof(line));
	if (++x->st->rejected > IMPORT_MAX_REJECTED) {
		cv_err_clear(e); /* the last record's refusal is named above */
		return cv_errf(e, CV_EIO, "more than %d records rejected; stopping",
			       IMPORT_MAX_REJECTED);
	}
	return 0;
}

/*
 * Send one request; when the server refuses it (4xx), find the records it
 * refuses by sending halves, report each with its line and send the rest.
 */
static int send_split(struct imp *x, char *path, char *body, const uint64_t *lines,
		      size_t n, struct cv_err *e)
{
	struct http_req r = { "POST", path, body, STRBUF_INIT, 0 };
	int rc = http_run(&x->h, &r, 1, e);

	if (!rc)
		x->st->sent += n;
	if (rc && rejected(r.status)) {
		if (n == 1) {
			rc = report_rejected(x, body, lines[0], e->msg, e);
			if (!rc)
				cv_err_clear(e);
		} else {
			cv_err_clear(e);
			rc = split_rejected(x, path, body, lines, n, e);
		}
	}
	sb_release(&r.out);
	return rc;
}

/* After a refused request in a group: each request of it again, one by one. */
static int resend_group(struct imp *x, struct cv_err *e)
{
	size_t i;
	int rc = 0;

	cv_err_clear(e);
	for (i = 0; !rc && i < x->nreq; i++)
		rc = send_split(x, x->reqs[i].path, x->reqs[i].body,
				(const uint64_t *)x->req_lines[i].buf,
				x->req_lines[i].len / sizeof(uint64_t), e);
	return rc;
}

/*
 * The records of the group's requests the server acknowledged (2xx): sent
 * counts what arrived, not what was queued, so a failure does not
 * overstate it. One answered as the group failed may go uncounted.
 */
static void count_acknowledged(struct imp *x)
{
	size_t i;

	for (i = 0; i < x->nreq; i++)
		if (x->reqs[i].status >= 200 && x->reqs[i].status < 300)
			x->st->sent += x->req_lines[i].len / sizeof(uint64_t);
}

/* Send the queued batches together; checkpoint the last line they covered. */
static int send_group(struct imp *x, struct cv_err *e)
{
	size_t i;
	int rc, refused = 0;

	if (!x->nreq)
		return 0;
	rc = http_run(&x->h, x->reqs, x->nreq, e);
	for (i = 0; rc && i < x->nreq; i++)
		refused |= rejected(x->reqs[i].status);
	if (refused) /* adds already made are ignored the second time */
		rc = resend_group(x, e); /* which counts what it sends */
	else
		count_acknowledged(x);
	if (rc)
		cv_err_prefix(e, "%s: lines %llu to %llu", x->o->input,
			      (unsigned long long)req_line(x, 0, 0),
			      (unsigned long long)req_line(x, x->nreq - 1, 1));
	else
		write_progress(x, req_line(x, x->nreq - 1, 1));
	if (!rc)
		progress_update(&x->progress, x->st->sent + x->st->skipped);
	for (i = 0; i < x->nreq; i++) {
		free(x->reqs[i].path);
		free(x->reqs[i].body);
		sb_release(&x->reqs[i].out);
	}
	x->nreq = 0;
	return rc;
}

/* key, then v as JSON: floats in their shortest round-trip form, as the
 * server's parser reads them back best (17 digits it may round wrongly). */
static void add_json(struct strbuf *sb, const char *key, json_t *v)
{
	sb_adds(sb, key);
	jw_json(sb, v);
}

static int flush_batch(struct imp *x, struct cv_err *e)
{
	struct strbuf path = STRBUF_INIT, body = STRBUF_INIT, lines;
	size_t n = json_array_size(x->batch_ids);

	if (!n)
		return 0;
	add_json(&body, "{\"ids\":", x->batch_ids);
	sb_adds(&body, ",\"embeddings\":[");
	sb_add(&body, x->batch_emb.buf, x->batch_emb.len);
	sb_addch(&body, ']');
	add_json(&body, ",\"metadatas\":", x->batch_meta);
	add_json(&body, ",\"documents\":", x->batch_doc);
	if (x->batch_has_uri)
		add_json(&body, ",\"uris\":", x->batch_uri);
	sb_addch(&body, '}');
	add_prefix(&path, &x->cur);
	sb_addf(&path, "/collections/%s/%s", x->cur.cid, x->o->upsert ? "upsert" : "add");
	memset(&x->reqs[x->nreq], 0, sizeof(x->reqs[0]));
	x->reqs[x->nreq].method = "POST";
	x->reqs[x->nreq].path = sb_detach(&path, NULL);
	x->reqs[x->nreq].body = sb_detach(&body, NULL);
	lines = x->req_lines[x->nreq]; /* the batch's lines go with its request */
	x->req_lines[x->nreq] = x->batch_lines;
	x->batch_lines = lines;
	sb_reset(&x->batch_lines);
	x->nreq++;
	x->batch_bytes = 0;
	batch_free(x);
	batch_new(x);
	return x->nreq == (size_t)x->h.o.concurrency ? send_group(x, e) : 0;
}

static json_t *obj_at(json_t *o, const char *const *path)
{
	for (; *path && json_is_object(o); path++)
		o = json_object_get(o, *path);
	return json_is_object(o) ? o : NULL;
}

/* The schema's settings of the embedding's index (Chroma 1.3 on). */
static const char *const schema_embedding[] = { "schema", "keys", "#embedding",
						 "float_list", "vector_index",
						 "config", NULL };

/*
 * Legacy hnsw:* metadata keys, as configuration.hnsw names them, for the
 * settings out does not hold yet. The server reads these keys only when
 * the configuration it is sent is all defaults, so a header without a
 * configuration (a directory older than 0.5.4) would lose them once its
 * space, say, is sent: they go in the configuration instead.
 */
static void legacy_settings(json_t *hdr, json_t *out)
{
	static const char *const keys[][2] = {
		{ "hnsw:space", "space" }, { "hnsw:construction_ef", "ef_construction" },
		{ "hnsw:M", "max_neighbors" }, { "hnsw:search_ef", "ef_search" },
		{ "hnsw:num_threads", "num_threads" }, { "hnsw:resize_factor", "resize_factor" },
		{ "hnsw:batch_size", "batch_size" }, { "hnsw:sync_threshold", "sync_threshold" },
	};
	json_t *m = json_object_get(hdr, "metadata"), *v;
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		v = json_object_get(m, keys[i][0]);
		if (!v || json_object_get(out, keys[i][1]))
			continue;
		/* of the type the server wants, else left to it as metadata */
		if (i == 0 ? json_is_string(v) : i == 5 ? json_is_number(v) : json_is_integer(v))
			json_object_set(out, keys[i][1], v);
	}
}

/*
 * The index settings a header carries, as the API's configuration.hnsw:
 * from a server's export its configuration; from a directory's, the stored
 * configuration's vector_index.hnsw (1.0 to 1.2), the schema (1.3 on) or
 * the stored configuration of 0.5 and 0.6, whose M is max_neighbors.
 * Legacy hnsw:* metadata fills in what those do not give (legacy_settings).
 * The space is the header's resolved one.
 */
static json_t *hnsw_settings(json_t *hdr)
{
	static const char *const keys[] = { "space", "ef_construction", "ef_search",
					    "max_neighbors", "num_threads",
					    "resize_factor", "sync_threshold",
					    "batch_size", NULL };
	static const char *const api[] = { "configuration", "hnsw", NULL };
	static const char *const def[] = { "schema", "defaults", "float_list",
					   "vector_index", "config", NULL };
	static const char *const old[] = { "configuration", "hnsw_configuration", NULL };
	static const char *const v1[] = { "configuration", "vector_index", "hnsw", NULL };
	json_t *from, *vi = obj_at(hdr, schema_embedding), *out = json_object(), *v;
	size_t i;

	if (!vi)
		vi = obj_at(hdr, def);
	from = obj_at(hdr, api);
	if (!from || !json_object_size(from))
		from = obj_at(hdr, v1);
	if (!from || !json_object_size(from))
		from = json_object_get(vi, "hnsw");
	if (!json_is_object(from) || !json_object_size(from))
		from = obj_at(hdr, old);
	for (i = 0; keys[i]; i++)
		if ((v = json_object_get(from, keys[i])) && !json_is_null(v))
			json_object_set(out, keys[i], v);
	if ((v = json_object_get(from, "M")) && json_is_integer(v))
		json_object_set(out, "max_neighbors", v);
	legacy_settings(hdr, out);
	if ((v = json_object_get(hdr, "space")) && json_is_string(v))
		json_object_set(out, "space", v);
	return out;
}

/*
 * The configuration to create a collection with: its header's, or for a
 * file without one (--create), the space --space names.
 */
static json_t *configuration_of(json_t *hdr, const char *space)
{
	json_t *hnsw = hnsw_settings(hdr), *cfg = json_object(), *ef;

	assert(!(hdr && space)); /* refused by take_header */
	if (space)
		json_object_set_new(hnsw, "space", json_string(space));
	json_object_set_new(cfg, "hnsw", hnsw);
	ef = json_object_get(json_object_get(hdr, "configuration"), "embedding_function");
	if (!json_is_object(ef))
		ef = json_object_get(obj_at(hdr, schema_embedding), "embedding_function");
	if (json_is_object(ef))
		json_object_set(cfg, "embedding_function", ef);
	return cfg;
}

/*
 * POST {"name": name} to path, to create a tenant or database. 409 (it
 * exists) is what was wanted: a create retried after its answer was lost
 * (a dropped connection, a 5xx) gets it, as does one made meanwhile.
 */
static int post_name(struct imp *x, const char *path, const char *name,
		     struct strbuf *resp, struct cv_err *e)
{
	json_t *j = json_pack("{s:s}", "name", name);
	char *body = json_dumps(j, JSON_COMPACT);
	int rc = http_call(&x->h, "POST", path, body, resp, e);

	if (rc && x->h.status == 409) {
		cv_err_clear(e);
		rc = 0;
	}
	free(body);
	json_decref(j);
	return rc;
}

/*
 * A database a header names (DEST naming none) is made when missing, and
 * its tenant first: an export of a whole directory restores whole. One named
 * in DEST must exist, as a misspelt name would otherwise make one.
 */
static int ensure_database(struct imp *x, struct cv_err *e)
{
	struct strbuf path = STRBUF_INIT, resp = STRBUF_INIT, key = STRBUF_INIT;
	int rc;

	add_prefix(&key, &x->cur);
	if (x->o->database || (x->made_db && !strcmp(x->made_db, key.buf))) {
		sb_release(&key);
		return 0;
	}
	rc = http_call(&x->h, "GET", key.buf, NULL, &resp, e);
	if (rc && x->h.status == 404) {
		cv_err_clear(e);
		sb_adds(&path, "/api/v2/tenants/");
		sb_add_pct_encoded(&path, x->cur.tenant);
		rc = http_call(&x->h, "GET", path.buf, NULL, &resp, e);
		if (rc && x->h.status == 404 && !x->o->tenant) {
			cv_err_clear(e);
			rc = post_name(x, "/api/v2/tenants", x->cur.tenant, &resp, e);
		}
		sb_adds(&path, "/databases");
		if (!rc)
			rc = post_name(x, path.buf, x->cur.database, &resp, e);
	}
	if (rc)
		cv_err_prefix(e, "database %s of tenant %s", x->cur.database, x->cur.tenant);
	else {
		free(x->made_db);
		x->made_db = sb_detach(&key, NULL);
	}
	sb_release(&key);
	sb_release(&path);
	sb_release(&resp);
	return rc;
}

/* An existing collection get_or_create returned must index as the file says. */
static int same_space(struct imp *x, json_t *coll, json_t *cfg, struct cv_err *e)
{
	const char *want = json_string_value(json_object_get(json_object_get(cfg, "hnsw"),
							     "space"));
	const char *have = json_string_value(json_object_get(json_object_get(
		json_object_get(coll, "configuration_json"), "hnsw"), "space"));

	if (!want || !have || !strcmp(want, have))
		return 0;
	return cv_errf(e, CV_EUSAGE, "collection \"%s\" exists with space %s, the "
		       "file's is %s: its vectors would be searched wrongly (import "
		       "into another name, or delete it first)", x->cur.name, have, want);
}

/*
 * add leaves a record whose id is there already as it is: a collection that
 * holds records before the import (not one --resume goes on with) is said.
 */
static void warn_not_empty(struct imp *x)
{
	struct strbuf path = STRBUF_INIT, resp = STRBUF_INIT;
	struct cv_err ce = { 0 };
	long long n;

	if (x->o->upsert || x->o->resume)
		return;
	add_prefix(&path, &x->cur);
	sb_addf(&path, "/collections/%s/count", x->cur.cid);
	if (!http_call(&x->h, "GET", path.buf, NULL, &resp, &ce) &&
	    (n = strtoll(resp.buf ? resp.buf : "0", NULL, 10)) > 0)
		fprintf(stderr, "chromavault import: warning: collection \"%s\" already "
			"holds %lld records: a record of the file whose id is among them "
			"is left as it is there (--upsert replaces it)\n", x->cur.name, n);
	sb_release(&path);
	sb_release(&resp);
}

/* The server's id of the current collection, created when allowed. */
static int ensure_collection(struct imp *x, struct cv_err *e)
{
	struct strbuf path = STRBUF_INIT, resp = STRBUF_INIT;
	json_t *hdr = x->cur.header, *body = NULL, *j, *cfg = NULL;
	char *text;
	int rc;

	add_prefix(&path, &x->cur);
	sb_adds(&path, "/collections");
	if (hdr || x->o->create) {
		cfg = configuration_of(hdr, x->o->space);
		body = json_pack("{s:s, s:b, s:O}", "name", x->cur.name, "get_or_create", 1,
				 "configuration", cfg);
		if (json_is_object(json_object_get(hdr, "metadata")))
			json_object_set(body, "metadata", json_object_get(hdr, "metadata"));
		text = json_dumps(body, JSON_COMPACT);
		if (!(rc = hdr ? ensure_database(x, e) : 0))
			rc = http_call(&x->h, "POST", path.buf, text, &resp, e);
		free(text);
	} else {
		sb_addch(&path, '/');
		sb_add_pct_encoded(&path, x->cur.name);
		rc = http_call(&x->h, "GET", path.buf, NULL, &resp, e);
		if (rc)
			cv_err_prefix(e, "collection \"%s\" (import --create makes it)",
				      x->cur.name);
	}
	j = rc ? NULL : json_loadb(resp.buf, resp.len, 0, NULL);
	if (!rc && !json_is_string(json_object_get(j, "id")))
		rc = cv_errf(e, CV_EIO, "%s: no collection id in the answer", x->h.base);
	if (!rc && cfg)
		rc = same_space(x, j, cfg, e);
	if (!rc) {
		x->cur.cid = xstrdup(json_string_value(json_object_get(j, "id")));
		x->st->collections++;
		warn_not_empty(x);
	}
	json_decref(j);
	json_decref(body);
	json_decref(cfg);
	sb_release(&path);
	sb_release(&resp);
	return rc;
}

/* Pass one (send = 0) checks; pass two (send = 1) sends. */
static int pass(struct imp *x, int send, struct cv_err *e)
{
	struct lines l;
	struct sha256 hash;
	uint8_t digest[SHA256_LEN];
	const char *p;
	size_t n;
	json_t *rec;
	int rc;

	target_reset(&x->cur, x->o->collection, NULL);
	target_place(x, NULL);
	x->headers = 0;
	x->headerless = 0;
	x->sending = send;
	if ((rc = lines_open(&l, x->o->input, e)))
		return rc;
	/* which input a progress file is for: its bytes say (no progress
	 * file comes of --check, which need not pay for the hash) */
	if (!send && !x->o->check_only) {
		sha256_init(&hash);
		l.hash = &hash;
	}
	while ((rc = lines_next(&l, &p, &n, e)) == 1) {
		if (!send)
			x->st->lines++;
		if (blank(p, n))
			continue;
		x->line = p;
		if ((rc = parse_line(x, &l, p, n, &rec, e)))
			break;
		if (json_object_get(rec, "_collection")) {
			/* what was batched belongs to the collection before */
			if (!(send && (rc = flush_batch(x, e))))
				rc = take_header(x, &l, json_object_get(rec, "_collection"), e);
			if (!rc && send) /* empty collections are recreated too */
				rc = ensure_collection(x, e);
		} else if (!send) {
			rc = check_record(x, &l, rec, e);
		} else if (l.lineno <= x->resume_after) {
			x->st->skipped++;
		} else {
			if (!x->cur.cid && (rc = ensure_collection(x, e)))
				goto next;
			add_record(x, rec, l.lineno);
			if (json_array_size(x->batch_ids) >= (size_t)x->batch ||
			    x->batch_bytes >= IMPORT_MAX_BODY)
				rc = flush_batch(x, e);
		}
next:
		json_decref(rec);
		if (rc)
			break;
	}
	if (send && !rc && !(rc = flush_batch(x, e)))
		rc = send_group(x, e);
	if (l.hash) {
		sha256_final(&hash, digest);
		hex_encode(digest, SHA256_LEN, x->input_sha);
	}
	lines_close(&l);
	return rc;
}

static int pick_batch(struct imp *x, struct cv_err *e)
{
	struct strbuf resp = STRBUF_INIT;
	json_t *j;
	int rc;

	rc = http_call(&x->h, "GET", "/api/v2/pre-flight-checks", NULL, &resp, e);
	j = rc ? NULL : json_loadb(resp.buf, resp.len, 0, NULL);
	x->batch = x->o->batch > 0 ? x->o->batch :
		   (int)json_integer_value(json_object_get(j, "max_batch_size"));
	if (x->batch <= 0)
		x->batch = 1000;
	/* float32 bytes in base64 spare the server parsing decimal text */
	x->base64 = json_is_true(json_object_get(j, "supports_base64_encoding"));
	json_decref(j);
	sb_release(&resp);
	return rc;
}

/* The records refused before the checkpoint: counted, and named again. */
static void take_rejected(struct imp *x, json_t *list)
{
	json_t *v;
	uint64_t line;
	size_t i;

	json_array_foreach(list, i, v) {
		line = (uint64_t)json_integer_value(v);
		if (!json_is_integer(v) || line > x->resume_after)
			continue; /* past the checkpoint: sent again, judged again */
		sb_add(&x->rejected, &line, sizeof(line));
		x->st->rejected++;
		fprintf(stderr, "chromavault import: %s:%llu: record rejected by the "
			"server before --resume (reported then)\n", x->o->input,
			(unsigned long long)line);
	}
}

/*
 * Where --resume goes on from. No progress file: from the start, with a
 * warning. One that is not ours, or that does not fit the input (another
 * size or SHA-256, a line past its end), stops the import: resuming there
 * could skip records or send them twice. The size alone let another file
 * of the same size skip its first records; one without the hash (written
 * by an older chromavault) cannot tell, and is refused too: starting over
 * doubles nothing, as add leaves an id that is there alone.
 */
static int same_input(struct imp *x, json_t *j, struct cv_err *e)
{
	json_t *size = json_object_get(j, "input_size");
	json_t *sha = json_object_get(j, "input_sha256");
	const char *path = x->progress_path.buf;

	if (json_is_integer(size) && json_integer_value(size) != x->input_size)
		return cv_errf(e, CV_ECORRUPT, "%s: written for an input of %lld bytes; "
			       "%s has %lld now: not the same file", path,
			       (long long)json_integer_value(size), x->o->input,
			       (long long)x->input_size);
	if (!json_is_string(sha))
		return cv_errf(e, CV_ECORRUPT, "%s: does not say which input it was "
			       "written for (no input_sha256): remove it to start over",
			       path);
	if (strcmp(json_string_value(sha), x->input_sha))
		return cv_errf(e, CV_ECORRUPT, "%s: written for an input whose "
			       "SHA-256 is %.12s..., %s's is %.12s...: not the same file "
			       "(remove it to start over)", path, json_string_value(sha),
			       x->o->input, x->input_sha);
	return 0;
}

static int read_progress(struct imp *x, struct cv_err *e)
{
	const char *path = x->progress_path.buf;
	json_error_t je;
	json_t *j, *line, *dest;
	int rc = 0;

	if (access(path, F_OK)) {
		fprintf(stderr, "chromavault import: warning: %s not found: nothing to "
			"resume, every record is sent\n", path);
		return 0;
	}
	j = json_load_file(path, 0, &je);
	line = json_object_get(j, "line");
	dest = json_object_get(j, "dest");
	if (!json_is_integer(line) || json_integer_value(line) < 0)
		rc = cv_errf(e, CV_ECORRUPT, "%s: not an import progress file (%s)",
			     path, j ? "no line" : je.text);
	else if (json_is_string(dest) && strcmp(json_string_value(dest), x->dest.buf))
		rc = cv_errf(e, CV_EUSAGE, "%s: written for an import into %s; this one "
			     "goes to %s (remove it to start over)", path,
			     json_string_value(dest), x->dest.buf);
	else
		rc = same_input(x, j, e);
	if (!rc && (uint64_t)json_integer_value(line) > x->st->lines)
		rc = cv_errf(e, CV_ECORRUPT, "%s: line %lld is past the end of %s "
			     "(%llu lines): not the same file", path,
			     (long long)json_integer_value(line), x->o->input,
			     (unsigned long long)x->st->lines);
	if (!rc) {
		x->resume_after = (uint64_t)json_integer_value(line);
		take_rejected(x, json_object_get(j, "rejected"));
	}
	json_decref(j);
	return rc;
}

/* The names DEST gives, which Chroma would refuse: a usage error. */
static int dest_ok(const struct import_opts *o, struct cv_err *e)
{
	if (o->collection && !name_ok(o->collection))
		return cv_errf(e, CV_EUSAGE, "collection name \"%s\": Chroma takes "
			       NAME_RULE, o->collection);
	if (o->database && !name_ok(o->database))
		return cv_errf(e, CV_EUSAGE, "database \"%s\": Chroma takes " NAME_RULE,
			       o->database);
	if (o->tenant && !tenant_ok(o->tenant))
		return cv_errf(e, CV_EUSAGE, "tenant \"%s\": Chroma takes names of 3 "
			       "characters or more", o->tenant);
	return 0;
}

int remote_import(const struct import_opts *o, struct import_stats *st,
		  struct cv_err *e)
{
	struct imp x = { .o = o, .st = st };
	struct strbuf note = STRBUF_INIT;
	struct stat sb;
	size_t n;
	int rc;

	memset(st, 0, sizeof(*st));
	sb_init(&x.prefix, 0);
	sb_adds(&x.prefix, "/api/v2/tenants/");
	sb_add_pct_encoded(&x.prefix, o->tenant ? o->tenant : "default_tenant");
	sb_adds(&x.prefix, "/databases/");
	sb_add_pct_encoded(&x.prefix, o->database ? o->database : "default_database");
	hmap_init(&x.dests, 16);
	sb_init(&x.progress_path, 0);
	sb_init(&x.dest, 0);
	sb_init(&x.rejected, 0);
	sb_init(&x.rest, 0);
	sb_init(&x.batch_emb, 0);
	sb_init(&x.batch_lines, 0);
	sb_addf(&x.progress_path, "%s.import-progress", o->input);
	x.input_size = stat(o->input, &sb) ? -1 : (long long)sb.st_size;
	if ((rc = dest_ok(o, e)))
		goto out;
	rc = pass(&x, 0, e); /* everything is checked before anything is sent */
	if (!rc && o->check_only) /* the collections the file would go to */
		st->collections = x.dests.n ? x.dests.n : o->collection != NULL;
	if (rc || o->check_only)
		goto out;
	if ((rc = http_open(&x.h, o->base_url, &o->http, e)))
		goto out;
	sb_addf(&x.dest, "%s%s/collections/%s", x.h.base, x.prefix.buf,
		o->collection ? o->collection : "(the file's)");
	if (o->resume)
		rc = read_progress(&x, e);
	else if (!access(x.progress_path.buf, F_OK) && unlink(x.progress_path.buf))
		/* a stale one would send a later --resume astray */
		rc = cv_errno(e, CV_EIO, "%s: cannot remove", x.progress_path.buf);
	if (rc || (rc = pick_batch(&x, e)))
		goto out;
	x.reqs = xcalloc((size_t)x.h.o.concurrency, sizeof(*x.reqs));
	x.req_lines = xcalloc((size_t)x.h.o.concurrency, sizeof(struct strbuf));
	x.vec = xmalloc(IMPORT_MAX_DIM * sizeof(float));
	batch_new(&x);
	sb_addf(&note, "\nchromavault import: interrupted: the same command with "
		"--resume goes on from %s\n", x.progress_path.buf);
	signal_note(note.buf);
	progress_init(&x.progress, "import", st->records);
	x.progress.on = x.progress.on && !o->quiet;
	x.progress.unit_records = 1;
	rc = pass(&x, 1, e);
	progress_end(&x.progress);
	signal_note(NULL);
	sb_release(&note);
	if (!rc)
		unlink(x.progress_path.buf);
	batch_free(&x);
out:
	target_reset(&x.cur, NULL, NULL);
	hmap_release(&x.cur.ids);
	for (n = 0; n < x.dests.cap; n++)
		free((char *)x.dests.slots[n].key);
	hmap_release(&x.dests);
	free(x.made_db);
	for (n = 0; n < x.nreq; n++) { /* queued when a later step failed */
		free(x.reqs[n].path);
		free(x.reqs[n].body);
		sb_release(&x.reqs[n].out);
	}
	free(x.reqs);
	for (n = 0; x.req_lines && n < (size_t)x.h.o.concurrency; n++)
		sb_release(&x.req_lines[n]);
	free(x.req_lines);
	sb_release(&x.batch_lines);
	free(x.vec);
	if (x.h.base)
		http_close(&x.h);
	sb_release(&x.prefix);
	sb_release(&x.progress_path);
	sb_release(&x.dest);
	sb_release(&x.rejected);
	sb_release(&x.rest);
	sb_release(&x.batch_emb);
	return rc;
}
