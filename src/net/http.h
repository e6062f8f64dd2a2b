/*
 * HTTP for Chroma's API over libcurl: keep-alive connections, several
 * requests in flight, TLS verification on by default, bounded retries with
 * exponential backoff and jitter on connection errors, 429 and 5xx.
 * Secrets (URL user-info, tokens) never appear in messages.
 */
#ifndef CV_HTTP_H
#define CV_HTTP_H

#include <stddef.h>

#include "util/err.h"
#include "util/strbuf.h"

/* Tries of a request that fails for a reason that may pass (see backoff). */
#define HTTP_ATTEMPTS 8
/* Requests in flight at most (each holds its body and its answer). */
#define HTTP_MAX_CONCURRENCY 64

struct http_opts {
	const char *token;        /* --token or CHROMA_API_KEY */
	const char *auth_header;  /* "x-chroma-token" (default) or "Authorization" */
	const char *cacert;
	int insecure;
	int concurrency;          /* requests in flight */
	int max_attempts;         /* per request (default HTTP_ATTEMPTS) */
};

struct http {
	char *base;               /* scheme://host[:port], without user-info */
	char *user, *password;    /* from the URL's user-info (decoded), or NULL */
	void *headers;            /* struct curl_slist * */
	long status;              /* of http_call's last request (0: none came) */
	void *multi;              /* CURLM * */
	void **easy;              /* a pool of CURL * handles, kept alive */
	size_t neasy;
	struct http_opts o;
};

struct http_req {
	const char *method;       /* "GET" or "POST" */
	char *path;               /* from the API root, e.g. /api/v2/heartbeat */
	char *body;               /* JSON or NULL */
	struct strbuf out;        /* the response body */
	long status;
};

/* base_url: scheme://[user:pass@]host[:port]. */
int http_open(struct http *h, const char *base_url, const struct http_opts *o,
	      struct cv_err *e);
void http_close(struct http *h);

/*
 * Run n requests, at most o.concurrency at once, each retried as above.
 * Fails on the first request that cannot succeed: a 4xx (with the server's
 * message) or retries exhausted.
 */
int http_run(struct http *h, struct http_req *reqs, size_t n, struct cv_err *e);

/* One request; out receives the body. */
int http_call(struct http *h, const char *method, const char *path,
	      const char *body, struct strbuf *out, struct cv_err *e);

#endif
