/*
 * Location parsing (see source.h).
 */
#include "cli/source.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "util/strbuf.h"
#include "util/xalloc.h"
#include "util/banned.h"

/* ?tenant=T&database=D; any other parameter is refused. */
static int parse_query(const char *q, struct cv_source *s, struct cv_err *e)
{
	const char *p = q, *amp, *eq;
	size_t n;

	while (p && *p) {
		amp = strchr(p, '&');
		n = amp ? (size_t)(amp - p) : strlen(p);
		eq = memchr(p, '=', n);
		if (eq && eq - p == 6 && !strncmp(p, "tenant", 6)) {
			free(s->tenant);
			s->tenant = pct_decode(eq + 1, n - 7);
		} else if (eq && eq - p == 8 && !strncmp(p, "database", 8)) {
			free(s->database);
			s->database = pct_decode(eq + 1, n - 9);
		} else if (n) {
			n = eq ? (size_t)(eq - p) : n; /* its name only */
			return cv_errf(e, CV_EUSAGE, "unknown query parameter \"%.*s\" "
				       "(only tenant= and database=; a '?' or '#' in a "
				       "password is written %%3F or %%23)", (int)n, p);
		}
		p = amp ? amp + 1 : NULL;
	}
	return 0;
}

static int has_db(const char *dir)
{
	struct strbuf sb = STRBUF_INIT;
	struct stat st;
	int r;

	sb_addf(&sb, "%s/chroma.sqlite3", dir);
	r = stat(sb.buf, &st) == 0;
	sb_release(&sb);
	return r;
}

static void strip_slashes(char *p)
{
	size_t n = strlen(p);

	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
}

/* s->path: the persist directory itself, or DIR/COLLECTION. */
static int split_collection(struct cv_source *s, struct cv_err *e)
{
	char *slash;

	s->kind = SRC_FILE;
	strip_slashes(s->path);
	if (!*s->path)
		return cv_errf(e, CV_EUSAGE, "the location has no path");
	if (has_db(s->path))
		return 0;
	slash = strrchr(s->path, '/');
	if (slash && slash != s->path) {
		*slash = '\0';
		if (has_db(s->path)) {
			s->collection = xstrdup(slash + 1);
			return 0;
		}
		*slash = '/';
	}
	return 0; /* cv_db_open explains what is wrong with the path */
}

static int parse_file(const char *rest, struct cv_source *s, struct cv_err *e)
{
	s->path = pct_decode(rest, strlen(rest));
	return split_collection(s, e);
}

/*
 * loc (no query) is scheme://[USER[:PASSWORD]@]HOST[:PORT][/COLLECTION],
 * rest what follows "://". The last '@' ends the user-info (a collection
 * name never holds one), so a password may hold '@' or '/' as typed.
 */
static int parse_http(const char *loc, const char *rest, struct cv_source *s,
		      struct cv_err *e)
{
	const char *at = strrchr(rest, '@'), *host = at ? at + 1 : rest;
	const char *slash = strchr(host, '/');
	size_t base = slash ? (size_t)(slash - loc) : strlen(loc);
	char *shown;

	s->kind = SRC_HTTP;
	s->base_url = xmemdupz(loc, base);
	if (slash && slash[1]) {
		s->collection = pct_decode(slash + 1, strlen(slash + 1));
		strip_slashes(s->collection);
	}
	if (host == slash || !*host || (s->collection && strchr(s->collection, '/'))) {
		shown = cv_source_redact(loc);
		cv_errf(e, CV_EUSAGE, "%s: %s", shown, host == slash || !*host ? "no host" :
			"expected http(s)://HOST:PORT[/COLLECTION]");
		free(shown);
		return CV_EUSAGE;
	}
	return 0;
}

char *cv_source_redact(const char *spec)
{
	const char *auth = strstr(spec, "://"), *at = NULL, *p;
	struct strbuf sb = STRBUF_INIT;

	if (auth)
		for (p = auth + 3; *p && *p != '?'; p++)
			if (*p == '@')
				at = p;
	if (!at)
		return xstrdup(spec);
	sb_add(&sb, spec, (size_t)(auth + 3 - spec));
	sb_addf(&sb, "***%s", at);
	return sb_detach(&sb, NULL);
}

/* The location without its query: loc is spec up to the '?'. */
static int parse_location(const char *loc, const char *spec, struct cv_source *s,
			  struct cv_err *e)
{
	if (!strncmp(loc, "file://", 7))
		return parse_file(loc + 7, s, e);
	if (!strncasecmp(loc, "http://", 7)) /* schemes are case-insensitive */
		return parse_http(loc, loc + 7, s, e);
	if (!strncasecmp(loc, "https://", 8))
		return parse_http(loc, loc + 8, s, e);
	if (strstr(loc, "://")) {
		char *shown = cv_source_redact(spec);

		cv_errf(e, CV_EUSAGE, "%s: a location is a directory, or starts "
			"with file://, http:// or https://", shown);
		free(shown);
		return CV_EUSAGE;
	}
	s->path = xstrdup(loc); /* a plain path, taken as it is written */
	return split_collection(s, e);
}

int cv_source_parse(const char *spec, struct cv_source *s, struct cv_err *e)
{
	char *copy = xstrdup(spec), *q;
	int rc;

	memset(s, 0, sizeof(*s));
	q = strchr(copy, '?');
	if (q)
		*q = '\0';
	if (q && strchr(q + 1, '@') && strstr(copy, "://")) {
		/* a '?' typed in a password: the rest of it would be shown */
		rc = cv_errf(e, CV_EUSAGE, "a URL whose query holds '@': a '?' in a "
			     "password is written %%3F, an '@' in a tenant or database "
			     "%%40 (the URL is not shown: it may hold a password)");
		free(copy);
		return rc;
	}
	rc = q ? parse_query(q + 1, s, e) : 0;
	if (!rc)
		rc = parse_location(copy, spec, s, e);
	free(copy);
	if (rc)
		cv_source_release(s);
	return rc;
}

void cv_source_release(struct cv_source *s)
{
	free(s->path);
	free(s->base_url);
	free(s->collection);
	free(s->tenant);
	free(s->database);
	memset(s, 0, sizeof(*s));
}
