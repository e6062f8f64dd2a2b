/*
 * HTTP client (see http.h): one libcurl multi handle, a pool of easy handles
 * whose connections stay open, and a retry schedule per request.
 */
#include "net/http.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/xalloc.h"
#include "util/banned.h"

#define RESPONSE_MAX (1ull << 30)

struct slot {                 /* one request's progress through http_run */
	struct http_req *req;
	int attempts;
	double not_before;
	int active, done;
	char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_start(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	srand((unsigned)time(NULL) ^ (unsigned)getpid()); /* jitter apart */
}

static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Split scheme://user:pass@host:port into base and user-info: the last '@'
 * ends the user-info, so a password may hold '@' or '/' as typed; the user
 * ends at its first ':'; both are percent-decoded (%3A, %40, %2F, %3F...).
 */
static int split_url(struct http *h, const char *url, struct cv_err *e)
{
	const char *auth = strstr(url, "://"), *at, *end, *colon;

	if (!auth)
		return cv_errf(e, CV_EUSAGE, "not an http(s) URL");
	auth += 3;
	at = strrchr(auth, '@');
	end = (at ? at + 1 : auth) + strcspn(at ? at + 1 : auth, "/?#");
	if (!at) {
		h->base = xmemdupz(url, (size_t)(end - url));
		return 0;
	}
	colon = memchr(auth, ':', (size_t)(at - auth));
	h->user = pct_decode(auth, (size_t)((colon ? colon : at) - auth));
	h->password = colon ? pct_decode(colon + 1, (size_t)(at - colon - 1)) : xstrdup("");
	h->base = xmalloc((size_t)(end - url) + 1);
	memcpy(h->base, url, (size_t)(auth - url));
	memcpy(h->base + (auth - url), at + 1, (size_t)(end - at - 1));
	h->base[(auth - url) + (end - at - 1)] = '\0';
	return 0;
}

static void free_secret(char *s)
{
	if (s)
		memset(s, 0, strlen(s));
	free(s);
}

int http_open(struct http *h, const char *base_url, const struct http_opts *o,
	      struct cv_err *e)
{
	struct curl_slist *hd = NULL;
	struct strbuf line = STRBUF_INIT;
	int rc;

	pthread_once(&curl_once, curl_start);
	memset(h, 0, sizeof(*h));
	h->o = *o;
	if (h->o.concurrency <= 0)
		h->o.concurrency = 4;
	if (h->o.max_attempts <= 0)
		h->o.max_attempts = HTTP_ATTEMPTS;
	if ((rc = split_url(h, base_url, e)))
		return rc;
	hd = curl_slist_append(hd, "Content-Type: application/json");
	if (o->token) {
		if (o->auth_header && !strcasecmp(o->auth_header, "Authorization"))
			sb_addf(&line, "Authorization: Bearer %s", o->token);
		else
			sb_addf(&line, "%s: %s", o->auth_header ? o->auth_header :
				"x-chroma-token", o->token);
		hd = curl_slist_append(hd, line.buf);
		sb_release(&line);
	}
	h->headers = hd;
	h->easy = xcalloc((size_t)h->o.concurrency, sizeof(*h->easy));
	h->neasy = (size_t)h->o.concurrency;
	h->multi = curl_multi_init();
	if (!h->multi)
		return cv_errf(e, CV_ENOMEM, "libcurl could not start");
	return 0;
}

void http_close(struct http *h)
{
	size_t i;

	for (i = 0; i < h->neasy; i++)
		if (h->easy[i])
			curl_easy_cleanup(h->easy[i]);
	free(h->easy);
	if (h->multi)
		curl_multi_cleanup(h->multi);
	curl_slist_free_all(h->headers);
	free(h->base);
	free_secret(h->user);
	free_secret(h->password);
	memset(h, 0, sizeof(*h));
}

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
	struct strbuf *out = ctx;

	if (out->len + size * n > RESPONSE_MAX)
		return 0; /* makes curl fail the transfer */
	sb_add(out, p, size * n);
	return size * n;
}

static void setup(struct http *h, CURL *c, struct slot *s)
{
	struct strbuf url = STRBUF_INIT;
	struct http_req *r = s->req;

	sb_addf(&url, "%s%s", h->base, r->path);
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url.buf);
	sb_release(&url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, (struct curl_slist *)h->headers);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
	if (r->body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body);
	if (h->user) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, h->user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, h->password);
	}
	if (h->o.cacert)
		curl_easy_setopt(c, CURLOPT_CAINFO, h->o.cacert);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, h->o.insecure ? 0L : 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, h->o.insecure ? 0L : 2L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 600L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->out);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, s->errbuf);
	curl_easy_setopt(c, CURLOPT_PRIVATE, s);
	sb_reset(&r->out);
	s->errbuf[0] = '\0';
}

/* The server's own words for a failed request: its JSON "message". */
static void server_message(const struct strbuf *body, char *out, size_t n)
{
	json_t *j = json_loadb(body->buf, body->len, 0, NULL);
	const char *m = json_string_value(json_object_get(j, "message"));

	snprintf(out, n, "%s", m ? m : body->len ? "(no message)" : "(empty response)");
	json_decref(j);
}

/*
 * Seconds before attempt + 1: 0.2, 0.4, ... doubling to 5, each times 0.5
 * to 1.5 so that clients spread out (about 16 s over HTTP_ATTEMPTS: a
 * server restarting comes back within it); at least what a 429 or 503
 * asks for in Retry-After, up to 30 s.
 */
static double backoff(int attempt, long retry_after)
{
	double d = 0.1 * (double)(1 << (attempt < 6 ? attempt : 6));

	if (d > 5.0)
		d = 5.0;
	d *= 0.5 + (double)rand() / RAND_MAX;
	if ((double)retry_after > d)
		d = retry_after > 30 ? 30.0 : (double)retry_after;
	return d;
}

/* A finished transfer: done, scheduled again, or a final error. */
static int finish(struct http *h, CURL *c, struct slot *s, CURLcode cc,
		  struct cv_err *e)
{
	struct http_req *r = s->req;
	curl_off_t after = 0;
	char msg[400];
	int retry;

	r->status = 0;
	if (cc == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
		curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &after);
	}
	retry = cc != CURLE_OK ? cc != CURLE_PEER_FAILED_VERIFICATION &&
		cc != CURLE_SSL_CACERT_BADFILE && cc != CURLE_URL_MALFORMAT &&
		cc != CURLE_UNSUPPORTED_PROTOCOL && cc != CURLE_WRITE_ERROR :
		(r->status == 429 || r->status >= 500);
	if (cc == CURLE_OK && r->status >= 200 && r->status < 300) {
		s->done = 1;
		return 0;
	}
	if (retry && ++s->attempts < h->o.max_attempts) {
		s->not_before = now_sec() + backoff(s->attempts, (long)after);
		return 0;
	}
	if (cc != CURLE_OK)
		return cv_errf(e, CV_EIO, "%s%s: %s", h->base, r->path,
			       s->errbuf[0] ? s->errbuf : curl_easy_strerror(cc));
	server_message(&r->out, msg, sizeof(msg));
	return cv_errf(e, CV_EIO, "%s%s: HTTP %ld: %s%s", h->base, r->path, r->status,
		       msg, retry ? " (retries exhausted)" : "");
}

/* Start waiting requests on free handles; -1 when libcurl cannot. */
static int start_some(struct http *h, struct slot *slots, size_t n,
		      int *busy, struct cv_err *e)
{
	double t = now_sec();
	size_t i, k;

	for (i = 0; i < n; i++) {
		if (slots[i].done || slots[i].active || slots[i].not_before > t)
			continue;
		for (k = 0; k < h->neasy && busy[k]; k++)
			;
		if (k == h->neasy)
			return 0;
		if (!h->easy[k] && !(h->easy[k] = curl_easy_init()))
			return cv_errf(e, CV_ENOMEM, "libcurl could not make a handle");
		setup(h, h->easy[k], &slots[i]);
		if (curl_multi_add_handle(h->multi, h->easy[k]) != CURLM_OK)
			return cv_errf(e, CV_EIO, "libcurl could not start a request");
		busy[k] = 1;
		slots[i].active = 1;
	}
	return 0;
}

static size_t handle_index(const struct http *h, CURL *c)
{
	size_t k;

	for (k = 0; k < h->neasy && h->easy[k] != c; k++)
		;
	return k;
}

/* Collect finished transfers; returns an error code or 0. */
static int reap(struct http *h, int *busy, struct cv_err *e)
{
	struct slot *s;
	CURLMsg *m;
	int left, rc = 0;

	while ((m = curl_multi_info_read(h->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
		curl_multi_remove_handle(h->multi, m->easy_handle);
		busy[handle_index(h, m->easy_handle)] = 0;
		s->active = 0;
		if (!rc)
			rc = finish(h, m->easy_handle, s, m->data.result, e);
	}
	return rc;
}

int http_run(struct http *h, struct http_req *reqs, size_t n, struct cv_err *e)
{
	struct slot *slots = xcalloc(n + 1, sizeof(*slots));
	int *busy = xcalloc(h->neasy, sizeof(int));
	size_t i, done;
	int running, rc = 0;

	for (i = 0; i < n; i++)
		slots[i].req = &reqs[i];
	for (;;) {
		if ((rc = start_some(h, slots, n, busy, e)))
			break;
		curl_multi_perform(h->multi, &running);
		rc = reap(h, busy, e);
		for (i = 0, done = 0; i < n; i++)
			done += slots[i].done;
		/* not one poll more once all are in: it would wait its whole 50 ms */
		if (done == n || rc)
			break;
		curl_multi_poll(h->multi, NULL, 0, 50, NULL);
	}
	for (i = 0; i < h->neasy; i++)
		if (busy[i])
			curl_multi_remove_handle(h->multi, h->easy[i]);
	free(slots);
	free(busy);
	return rc;
}

int http_call(struct http *h, const char *method, const char *path,
	      const char *body, struct strbuf *out, struct cv_err *e)
{
	struct http_req r = { method, (char *)path, (char *)body, STRBUF_INIT, 0 };
	int rc = http_run(h, &r, 1, e);

	h->status = r.status;
	sb_reset(out);
	if (r.out.len)
		sb_add(out, r.out.buf, r.out.len);
	sb_release(&r.out);
	return rc;
}
