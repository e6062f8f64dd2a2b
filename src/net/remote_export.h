/*
 * Exporting from a Chroma server through its v2 API into the JSONL writer:
 * the same lines, byte for byte, as reading the server's directory gives.
 */
#ifndef CV_REMOTE_EXPORT_H
#define CV_REMOTE_EXPORT_H

#include <stdint.h>

#include "chroma/jsonl.h"
#include "net/http.h"
#include "util/err.h"

struct remote_source {
	const char *base_url;     /* scheme://[user:pass@]host:port */
	const char *collection;   /* NULL: every collection of the database */
	const char *tenant;       /* NULL: default_tenant */
	const char *database;     /* NULL: default_database */
};

struct remote_opts {
	long long limit, offset;  /* per collection; limit -1: all */
	int with_header;
	int page;                 /* records per request */
	struct http_opts http;
};

struct remote_stats {
	uint64_t records, collections;
	uint64_t missing_vectors;  /* records that came without one */
	uint64_t changed;          /* collections changed meanwhile, cut short, or
				      deleted since listed */
	char change[512];          /* the first of them, described */
};

int remote_export(const struct remote_source *src, const struct remote_opts *o,
		  struct jsonl_writer *w, struct remote_stats *st,
		  struct cv_err *e);

#endif
