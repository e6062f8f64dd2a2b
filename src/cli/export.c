/*
 * `chromavault export SOURCE [-o FILE]`: collections as JSONL (docs/FORMAT.md),
 * read straight from a persist directory under one SQLite read transaction.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chroma/collection.h"
#include "chroma/db.h"
#include "chroma/jsonl.h"
#include "chroma/reader.h"
#include "cli/cli.h"
#include "cli/source.h"
#include "net/remote_export.h"
#include "util/ostream.h"
#include "util/strbuf.h"
#include "util/fsutil.h"
#include "util/banned.h"

struct export_opts {
	const char *out;
	struct http_opts http;
	long long limit;      /* -1: no limit */
	long long offset;
	int with_header;
	int threads;          /* -1: one per CPU, 0: inline */
	int verbose;
};

struct export_stats {
	uint64_t records, collections, missing_vectors, bad_utf8;
	int remote;                /* from a server: its vectors came with it */
};

static int export_records(struct cv_reader *r, const struct export_opts *o,
			  struct jsonl_writer *w, struct export_stats *st,
			  struct cv_err *e)
{
	struct cv_record rec;
	long long seen = 0, written = 0;
	int rc;

	while ((rc = cv_reader_next(r, &rec, e)) == 1) {
		if (seen++ < o->offset)
			continue;
		if (o->limit >= 0 && written >= o->limit)
			break;
		jsonl_writer_record(w, &rec);
		written++;
		if (!rec.vec)
			st->missing_vectors++;
		st->bad_utf8 += rec.bad_utf8;
	}
	st->records += (uint64_t)written;
	return rc < 0 ? rc : 0;
}

static int export_collection(struct cv_db *db, const struct cv_collection *c,
			     const struct export_opts *o, struct jsonl_writer *w,
			     struct export_stats *st, struct cv_err *e)
{
	struct strbuf hdr = STRBUF_INIT;
	struct cv_reader *r;
	int rc;

	if ((rc = cv_reader_open(db, c, &r, e))) {
		cv_err_prefix(e, "collection \"%s\"", c->name);
		return rc;
	}
	if (o->with_header) {
		jsonl_header(&hdr, c);
		jsonl_writer_line(w, hdr.buf, hdr.len);
		sb_release(&hdr);
	}
	rc = export_records(r, o, w, st, e);
	if (rc)
		cv_err_prefix(e, "collection \"%s\"", c->name);
	st->collections++;
	cv_reader_close(r);
	return rc;
}

static int export_selected(struct cv_db *db, const struct cv_source *src,
			   const struct export_opts *o, struct jsonl_writer *w,
			   struct export_stats *st, struct cv_err *e)
{
	struct cv_collection *cs = NULL, *one;
	size_t n = 0, i;
	int rc;

	if ((rc = cv_scope_check(db, src->tenant, src->database, e)) ||
	    (rc = cv_collections_load(db, &cs, &n, e)))
		return rc;
	if (src->collection) {
		rc = cv_collection_find(cs, n, src->collection, src->tenant,
					src->database, &one, e);
		if (!rc)
			rc = export_collection(db, one, o, w, st, e);
	} else {
		for (i = 0; !rc && i < n; i++) {
			if ((src->tenant && strcmp(cs[i].tenant, src->tenant)) ||
			    (src->database && strcmp(cs[i].database, src->database)))
				continue;
			rc = export_collection(db, &cs[i], o, w, st, e);
		}
	}
	cv_collections_free(cs, n);
	return rc;
}

static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(const struct export_opts *o, const struct export_stats *st,
		   uint64_t bytes, double secs)
{
	if (st->bad_utf8)
		fprintf(stderr, "chromavault export: warning: %llu strings held "
			"invalid UTF-8; those bytes were written as U+FFFD\n",
			(unsigned long long)st->bad_utf8);
	if (st->missing_vectors)
		fprintf(stderr, "chromavault export: warning: %llu records have no "
			"vector %s; they were written with \"embedding\":null\n",
			(unsigned long long)st->missing_vectors, st->remote ?
			"in the server's answer" : "in the index or the WAL");
	if (!o->verbose)
		return;
	fprintf(stderr, "chromavault export: %llu records from %llu collection%s, "
		"%.1f MB in %.2f s (%.0f records/s, %.1f MB/s)\n",
		(unsigned long long)st->records, (unsigned long long)st->collections,
		st->collections == 1 ? "" : "s",
		(double)bytes / 1e6, secs, secs > 0 ? (double)st->records / secs : 0,
		secs > 0 ? (double)bytes / 1e6 / secs : 0);
}

static int export_file(const struct cv_source *src, struct export_opts *o,
		       struct export_stats *st, struct cv_err *e)
{
	struct jsonl_writer *w;
	struct ostream os;
	struct cv_db db;
	double t0 = now_sec();
	uint64_t bytes;
	int rc, rc2;

	if (!src->collection)
		o->with_header = 1;
	if ((rc = cv_db_open(src->path, &db, e)))
		return rc;
	if ((rc = os_open(&os, o->out, -1, e)))
		goto out_db;
	if ((rc = cv_db_begin(&db, e))) {
		os_close(&os, 1, NULL);
		goto out_db;
	}
	w = jsonl_writer_new(&os, o->threads);
	rc = export_selected(&db, src, o, w, st, e);
	jsonl_writer_free(w);
	cv_db_end(&db);
	bytes = os.bytes_in; /* os_close clears os */
	rc2 = os_close(&os, rc != 0, rc ? NULL : e);
	if (!rc)
		rc = rc2;
	if (!rc)
		report(o, st, bytes, now_sec() - t0);
out_db:
	cv_db_close(&db);
	return rc;
}

/*
 * Records per get: the server's cost is per request as well as per record
 * (100,000 × 384 in pages of 300 took 12.3 s, of 1,000 5.7 s, of 2,000 4.6 s,
 * four in flight); four pages of 2,000 in flight stay near 80 MiB.
 */
#define HTTP_PAGE 2000

static int export_http(const struct cv_source *src, struct export_opts *o,
		       struct export_stats *st, struct cv_err *e)
{
	struct remote_source rs = { src->base_url, src->collection, src->tenant,
				    src->database };
	struct remote_opts ro = { o->limit, o->offset, o->with_header || !src->collection,
				  HTTP_PAGE, o->http };
	struct remote_stats rst;
	struct jsonl_writer *w;
	struct ostream os;
	double t0 = now_sec();
	uint64_t bytes;
	int rc, rc2;

	if ((rc = os_open(&os, o->out, -1, e)))
		return rc;
	w = jsonl_writer_new(&os, o->threads);
	rc = remote_export(&rs, &ro, w, &rst, e);
	jsonl_writer_free(w);
	bytes = os.bytes_in; /* os_close clears os */
	rc2 = os_close(&os, rc != 0, rc ? NULL : e);
	if (!rc)
		rc = rc2;
	st->records = rst.records;
	st->collections = rst.collections;
	st->missing_vectors = rst.missing_vectors;
	st->remote = 1;
	if (rst.changed > 1)
		fprintf(stderr, "chromavault export: warning: %s; and %llu more "
			"collection%s changed, came short or deleted\n", rst.change,
			(unsigned long long)rst.changed - 1, rst.changed > 2 ? "s" : "");
	else if (rst.changed)
		fprintf(stderr, "chromavault export: warning: %s\n", rst.change);
	if (!rc)
		report(o, st, bytes, now_sec() - t0);
	return rc;
}

static const struct option export_longopts[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "limit", required_argument, NULL, 'l' },
	{ "offset", required_argument, NULL, 'f' },
	{ "with-collection", no_argument, NULL, 'c' },
	{ "threads", required_argument, NULL, 't' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "token", required_argument, NULL, 'T' },
	{ "auth-header", required_argument, NULL, 'A' },
	{ "cacert", required_argument, NULL, 'C' },
	{ "insecure", no_argument, NULL, 'I' },
	{ "concurrency", required_argument, NULL, 'N' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int parse_opts(int argc, char **argv, struct export_opts *o)
{
	long long n;
	int ch;

	memset(o, 0, sizeof(*o));
	o->limit = -1;
	o->threads = -1;
	o->http.token = getenv("CHROMA_API_KEY");
	o->verbose = isatty(STDERR_FILENO);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "o:v", export_longopts, NULL)) != -1) {
		switch (ch) {
		case 'o': o->out = optarg; break;
		case 'c': o->with_header = 1; break;
		case 'T': o->http.token = optarg; break;
		case 'A': o->http.auth_header = optarg; break;
		case 'C': o->http.cacert = optarg; break;
		case 'I': o->http.insecure = 1; break;
		case 'N':
			n = cli_parse_count(optarg);
			if (n <= 0 || n > HTTP_MAX_CONCURRENCY)
				return cli_usage_error(&cmd_export, "--concurrency wants a "
						       "count from 1 to %d", HTTP_MAX_CONCURRENCY);
			o->http.concurrency = (int)n;
			break;
		case 'v': o->verbose = 1; break;
		case 'h': return 2;
		case 'l':
			if ((o->limit = cli_parse_count(optarg)) < 0)
				return cli_usage_error(&cmd_export, "--limit wants a count");
			break;
		case 'f':
			if ((o->offset = cli_parse_count(optarg)) < 0)
				return cli_usage_error(&cmd_export, "--offset wants a count");
			break;
		case 't':
			if ((o->threads = (int)cli_parse_count(optarg)) < 0)
				return cli_usage_error(&cmd_export, "--threads wants a count");
			break;
		default:
			return cli_bad_option(&cmd_export, argv);
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error(&cmd_export, "expected one SOURCE");
	return 0;
}

static int export_run(int argc, char **argv)
{
	struct export_stats st = { 0 };
	struct export_opts o;
	struct cv_source src;
	struct cv_err e = { 0 };
	int rc;

	if ((rc = parse_opts(argc, argv, &o)) == 2) {
		cli_print_help(&cmd_export, stdout);
		return 0;
	}
	if (rc)
		return rc;
	if (cv_source_parse(argv[optind], &src, &e))
		return cli_fail(&cmd_export, &e);
	if (src.kind != SRC_HTTP && o.out && strcmp(o.out, "-") &&
	    path_within(src.path, o.out)) {
		cv_source_release(&src);
		return cli_usage_error(&cmd_export, "%s is inside the persist directory: "
				       "an export never writes into what it reads",
				       o.out);
	}
	if (src.kind == SRC_HTTP)
		rc = export_http(&src, &o, &st, &e);
	else
		rc = export_file(&src, &o, &st, &e);
	cv_source_release(&src);
	if (rc)
		return cli_fail(&cmd_export, &e);
	return st.missing_vectors ? CV_EXIT_PARTIAL : CV_EXIT_OK;
}

const struct cli_cmd cmd_export = {
	.name = "export",
	.usage = "export SOURCE [-o FILE] [--limit N] [--offset N] [--with-collection]\n"
		 "                          [--token T] [--auth-header H] [--cacert F] [--insecure]",
	.summary = "Export collections as JSONL (cdp's record format, plus a header\n"
		   "line per collection; docs/FORMAT.md). SOURCE is a directory,\n"
		   "DIR[/COLLECTION] or file://DIR[/COLLECTION] (file:///ABS/DIR for an\n"
		   "absolute path), with optional ?tenant=T&database=D, or a server:\n"
		   "http(s)://[USER:PASS@]HOST:PORT[/COLLECTION] (PASS may hold '@' and\n"
		   "'/' as typed, '?' and '#' as %3F and %23; messages show it as ***).\n"
		   "A directory is opened read-only and read in one consistent state\n"
		   "while Chroma keeps running, in memory that does not grow with the\n"
		   "collection (an index above 1,048,576 elements keeps its label\n"
		   "lookup in an unlinked file in $TMPDIR, 4 bytes a label); a server\n"
		   "is paged through several requests at a time, then each whole\n"
		   "collection's ids are listed again and the records the pages missed\n"
		   "(added or shifted meanwhile) fetched, with a warning naming what\n"
		   "changed during the export.",
	.options =
		"  -o, --output FILE    write FILE atomically (temp name, fsync, rename);\n"
		"                       FILE.zst is zstd-compressed; default stdout\n"
		"  --limit N            at most N records per collection\n"
		"  --offset N           skip the first N records of each collection\n"
		"  --with-collection    header line for a single collection too\n"
		"  --threads N          formatting threads (default: one per CPU;\n"
		"                       0 formats in the reading thread)\n"
		"  -v, --verbose        summary on stderr (default when it is a terminal)\n"
		"  --token T            API token (default: $CHROMA_API_KEY), sent as\n"
		"                       x-chroma-token, or as Authorization: Bearer\n"
		"                       with --auth-header Authorization\n"
		"  --cacert FILE        trust this CA for https (verification is on)\n"
		"  --insecure           do not verify the server's certificate\n"
		"  --concurrency N      requests in flight (default 4)\n",
	.run = export_run,
};
