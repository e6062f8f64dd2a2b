/*
 * A walk through a collection's ids by offset that passes over none of
 * them while records are deleted: the closing pass of an export over HTTP
 * (remote_export.c). The caller asks for up to a page of ids at k->off
 * ({"limit":L,"offset":k->off,"include":[]}) and gives the answer to
 * idwalk_page, or, when k->need_count, counts the collection's records and
 * gives that to idwalk_count; until k->done.
 *
 * It relies on what offset paging itself relies on: the server answers a
 * collection's records in one order, in which a new record (or one deleted
 * and added again) comes after all others. Every id the collection holds
 * from the count given to idwalk_init to the walk's end is then given to
 * fresh, and no id twice, unless records are deleted and added again in a
 * way idwalk.c describes.
 */
#ifndef CV_IDWALK_H
#define CV_IDWALK_H

#include <jansson.h>
#include <stdint.h>

#include "util/err.h"
#include "util/hashset.h"
#include "util/sha256.h"

#define IDWALK_KEY 16 /* bytes of an id's SHA-256 that stand for it */

/* An id not listed before, with its key. */
typedef void idwalk_fresh_fn(void *ctx, json_t *id, const uint8_t *key);

struct idwalk {
	struct hashset listed;   /* the ids listed in this round */
	struct hashset given;    /* from the second round: the ids given to fresh */
	unsigned round;
	long long count;         /* records when counted: held ones lie before */
	long long off;           /* of the next request */
	long long taken;         /* offset of the last page taken */
	json_t *expect;          /* the ids the next page starts with, unmoved */
	int moved;               /* a page of this round did not */
	size_t w;                /* the most ids a page brought: the server's page */
	unsigned back;           /* steps back taken in this round */
	unsigned pages;          /* pages taken in this round */
	unsigned idle;           /* of them, full ones that brought no new id */
	int stray;               /* stepped back from an id not listed */
	unsigned probes;         /* of those, with pages of one id */
	int need_count;          /* count the records before the next page */
	int done;
	const char *what;        /* the server, for messages */
	idwalk_fresh_fn *fresh;
	void *ctx;
};

/* count: the collection's records just before the walk. */
void idwalk_init(struct idwalk *k, long long count, const char *what,
		 idwalk_fresh_fn *fresh, void *ctx);
void idwalk_release(struct idwalk *k);
/* The page of ids asked for at k->off (an array of strings). */
int idwalk_page(struct idwalk *k, json_t *ids, struct cv_err *e);
/* The collection's records, counted when k->need_count. */
void idwalk_count(struct idwalk *k, long long count);
/* An id's key: the first bytes of its SHA-256, never all zero. */
void idwalk_key(const char *id, size_t len, uint8_t key[SHA256_LEN]);

#endif
