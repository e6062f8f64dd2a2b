/*
 * `chromavault import DEST [-i FILE]`: JSONL (chromavault's or cdp's) into a
 * Chroma server, checked whole first, resumable, every record accounted for.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/source.h"
#include "net/remote_import.h"
#include "util/jsonw.h"
#include "util/banned.h"

static const struct option import_longopts[] = {
	{ "input", required_argument, NULL, 'i' },
	{ "create", no_argument, NULL, 'c' },
	{ "space", required_argument, NULL, 's' },
	{ "upsert", no_argument, NULL, 'u' },
	{ "batch-size", required_argument, NULL, 'b' },
	{ "concurrency", required_argument, NULL, 'N' },
	{ "resume", no_argument, NULL, 'r' },
	{ "check", no_argument, NULL, 'k' },
	{ "json", no_argument, NULL, 'j' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "token", required_argument, NULL, 'T' },
	{ "auth-header", required_argument, NULL, 'A' },
	{ "cacert", required_argument, NULL, 'C' },
	{ "insecure", no_argument, NULL, 'I' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int count_opt(const char *name, const char *v, long long max, int *out)
{
	long long n = cli_parse_count(v);

	if (n <= 0 || n > max)
		return cli_usage_error(&cmd_import, "--%s wants a count from 1 to %lld",
				       name, max);
	*out = (int)n;
	return 0;
}

static int parse(int argc, char **argv, struct import_opts *o, int *as_json)
{
	int ch, rc = 0;

	optind = 1;
	while (!rc && (ch = getopt_long(argc, argv, "i:", import_longopts, NULL)) != -1) {
		switch (ch) {
		case 'i': o->input = optarg; break;
		case 'c': o->create = 1; break;
		case 's': o->space = optarg; break;
		case 'u': o->upsert = 1; break;
		case 'r': o->resume = 1; break;
		case 'k': o->check_only = 1; break;
		case 'j': *as_json = 1; break;
		case 'q': o->quiet = 1; break;
		case 'T': o->http.token = optarg; break;
		case 'A': o->http.auth_header = optarg; break;
		case 'C': o->http.cacert = optarg; break;
		case 'I': o->http.insecure = 1; break;
		case 'b': rc = count_opt("batch-size", optarg, 1000000, &o->batch); break;
		case 'N':
			rc = count_opt("concurrency", optarg, HTTP_MAX_CONCURRENCY,
				       &o->http.concurrency);
			break;
		case 'h': cli_print_help(&cmd_import, stdout); return -1;
		default: return cli_bad_option(&cmd_import, argv);
		}
	}
	if (rc)
		return rc;
	if (o->space && strcmp(o->space, "l2") && strcmp(o->space, "cosine") &&
	    strcmp(o->space, "ip"))
		return cli_usage_error(&cmd_import, "--space is l2, cosine or ip");
	/* ignored otherwise: an existing collection keeps its space */
	if (o->space && !o->create)
		return cli_usage_error(&cmd_import, "--space goes with --create");
	if (optind + 1 != argc || !o->input)
		return cli_usage_error(&cmd_import, "expected DEST and -i FILE");
	return 0;
}

/* The summary for scripts; after a failure too, with its message and exit code. */
static void report_json(const struct import_opts *o, const struct import_stats *st,
			const struct cv_err *e, int code)
{
	json_t *j = json_pack("{sIsIsIsIsIsIsb}", "lines", (json_int_t)st->lines,
			      "records", (json_int_t)st->records,
			      "sent", (json_int_t)st->sent,
			      "skipped", (json_int_t)st->skipped,
			      "rejected", (json_int_t)st->rejected,
			      "collections", (json_int_t)st->collections,
			      "checked_only", o->check_only);

	if (j && code) {
		json_object_set_new(j, "error", json_text(e->msg[0] ? e->msg : "failed"));
		json_object_set_new(j, "exit", json_integer(cv_err_exit_code(code)));
	}
	if (j && !json_dumpf(j, stdout, JSON_COMPACT))
		putchar('\n');
	json_decref(j);
}

static void report(const struct import_opts *o, const struct import_stats *st)
{
	if (o->check_only)
		printf("%s: %llu lines, %llu records: no problem found\n", o->input,
		       (unsigned long long)st->lines, (unsigned long long)st->records);
	else if (o->resume)
		printf("imported %llu records into %llu collection%s (%llu already "
		       "sent before --resume); %llu rejected\n",
		       (unsigned long long)st->sent, (unsigned long long)st->collections,
		       st->collections == 1 ? "" : "s", (unsigned long long)st->skipped,
		       (unsigned long long)st->rejected);
	else
		printf("imported %llu records into %llu collection%s; %llu rejected\n",
		       (unsigned long long)st->sent, (unsigned long long)st->collections,
		       st->collections == 1 ? "" : "s", (unsigned long long)st->rejected);
}

static int import_run(int argc, char **argv)
{
	struct import_opts o;
	struct import_stats st;
	struct cv_source dst;
	struct cv_err e = { 0 };
	int rc, as_json = 0;

	memset(&o, 0, sizeof(o));
	o.http.token = getenv("CHROMA_API_KEY");
	if ((rc = parse(argc, argv, &o, &as_json)))
		return rc < 0 ? 0 : rc;
	if (cv_source_parse(argv[optind], &dst, &e))
		return cli_fail(&cmd_import, &e);
	if (dst.kind != SRC_HTTP) {
		cv_source_release(&dst);
		return cli_usage_error(&cmd_import, "DEST is http(s)://HOST:PORT[/COLLECTION]");
	}
	o.base_url = dst.base_url;
	o.collection = dst.collection;
	o.tenant = dst.tenant;
	o.database = dst.database;
	rc = remote_import(&o, &st, &e);
	if (as_json)
		report_json(&o, &st, &e, rc ? (e.code ? e.code : CV_EIO) : 0);
	else if (!rc && !o.quiet)
		report(&o, &st);
	cv_source_release(&dst);
	if (rc)
		return cli_fail(&cmd_import, &e);
	if (st.rejected) {
		fprintf(stderr, "chromavault import: %llu records rejected by the server "
			"(each named above)%s\n", (unsigned long long)st.rejected,
			st.sent ? "; the rest arrived" : "");
		return CV_EXIT_PARTIAL;
	}
	return 0;
}

const struct cli_cmd cmd_import = {
	.name = "import",
	.usage = "import http(s)://HOST:PORT[/COLLECTION] -i FILE [--create [--space S]]\n"
		 "                          [--upsert] [--resume] [--check] [--batch-size N]",
	.summary = "Load a JSONL file (export's format, or cdp's with text_chunk or\n"
		   "document; .zst too) into a server. Collections come from the\n"
		   "file's header lines, created with their metadata, index settings\n"
		   "(legacy hnsw:* metadata too) and embedding function in the tenant\n"
		   "and database each header names (made when missing; DEST's\n"
		   "?tenant= and ?database= instead when given), or from DEST. Every\n"
		   "record belongs to the header before it: a header after records\n"
		   "is refused; a file without one needs DEST's COLLECTION. An\n"
		   "existing collection with another space is refused. The whole\n"
		   "file is checked first (JSON, fields, dimension, duplicate ids, a\n"
		   ".zst cut short): a bad line is reported with its number and\n"
		   "nothing is sent. A record the server refuses is reported with\n"
		   "its line and the rest are sent (exit 4). Progress is\n"
		   "checkpointed in FILE.import-progress with the file's SHA-256;\n"
		   "--resume after a failure finishes the job with no record doubled\n"
		   "or missing, and refuses another file.",
	.options =
		"  -i, --input FILE     the JSONL file\n"
		"  --create             create DEST's collection if it does not exist\n"
		"  --space S            with --create, for a file without header\n"
		"                       lines (a header gives the space): l2,\n"
		"                       cosine or ip\n"
		"  --upsert             upsert instead of add\n"
		"  --resume             continue from FILE.import-progress\n"
		"  --check              only check the file; send nothing\n"
		"  --batch-size N       records per request (default: the server's maximum)\n"
		"  --concurrency N      requests in flight (default 4)\n"
		"  --token T, --auth-header H, --cacert F, --insecure   as for export\n"
		"  --json               summary as JSON: lines, records, sent (what\n"
		"                       the server acknowledged), skipped (before\n"
		"                       --resume), rejected, collections,\n"
		"                       checked_only; after a failure also error and\n"
		"                       exit\n"
		"  --quiet              no progress line, no summary\n",
	.run = import_run,
};
