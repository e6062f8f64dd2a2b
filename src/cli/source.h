/*
 * SOURCE / DEST locations as cdp spells them: file:///abs/dir[/COLLECTION],
 * file://rel/dir[/COLLECTION], http(s)://host:port[/COLLECTION], with
 * ?tenant=T&database=D.
 */
#ifndef CV_SOURCE_H
#define CV_SOURCE_H

#include "util/err.h"

enum src_kind { SRC_FILE, SRC_HTTP };

struct cv_source {
	enum src_kind kind;
	char *path;        /* SRC_FILE: the persist directory */
	char *base_url;    /* SRC_HTTP: scheme://[user:pass@]host[:port] */
	char *collection;  /* NULL: every collection */
	char *tenant;      /* NULL: unspecified */
	char *database;
};

/*
 * Parse a location. For file:// it also decides whether the last path
 * component is a collection (its parent holds chroma.sqlite3) or the
 * persist directory itself.
 */
int cv_source_parse(const char *spec, struct cv_source *s, struct cv_err *e);
void cv_source_release(struct cv_source *s);
/* spec with its user-info (a password) as "***", for messages; caller frees. */
char *cv_source_redact(const char *spec);

#endif
