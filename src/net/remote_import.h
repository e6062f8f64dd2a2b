/*
 * Importing JSONL (chromavault's format or cdp's) into a Chroma server:
 * validated whole before anything is sent, sent in batches several at a
 * time, resumable from a progress file. A record the server refuses is
 * found by sending halves of its batch again, reported with its line, and
 * counted in rejected; the rest arrive.
 */
#ifndef CV_REMOTE_IMPORT_H
#define CV_REMOTE_IMPORT_H

#include <stdint.h>

#include "net/http.h"
#include "util/err.h"

struct import_opts {
	const char *base_url;      /* scheme://[user:pass@]host:port */
	const char *collection;    /* DEST's collection, or NULL: from headers */
	const char *tenant, *database;
	const char *input;         /* a file (.zst allowed) */
	const char *space;         /* with create: l2, cosine or ip */
	int create, upsert, resume, check_only, quiet;
	int batch;                 /* 0: the server's maximum */
	struct http_opts http;
};

/* Stop when more records than this are refused (a problem with them all). */
#define IMPORT_MAX_REJECTED 100

struct import_stats {
	uint64_t lines, records, sent, skipped, rejected, collections;
};

int remote_import(const struct import_opts *o, struct import_stats *st,
		  struct cv_err *e);

#endif
