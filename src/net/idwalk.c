/*
 * The closing pass's walk through a collection's ids (see idwalk.h).
 *
 * Deleting a record moves every later one a place forward, so a page asked
 * for by offset may start past ids never listed. New records only ever come
 * after all others, so a page that starts with an id already listed
 * continues the list with none passed over, and so does a page at offset 0.
 * Each page is therefore asked for overlapping the one before it, and a
 * page that does not start with a listed id is asked for again further
 * back. A round ends with a page taken that is shorter than the server's
 * pages (it reached the last id) and brings no new id; a page that is only
 * short does not end it, as a server or proxy may cap pages by other
 * measures than a count. SHORTS short pages in a row end it all the same:
 * records added faster than they are listed would keep a round going, and
 * records added after it began need not be listed.
 *
 * One case escapes that check: a record deleted and added again comes last,
 * so when deletions moved a page past the ids not listed yet, it may start
 * with such a record and look continued. A round whose pages moved (one
 * did not start with the id expected, or it stepped back) is therefore
 * followed by another from offset 0, up to ROUNDS; fresh is still given
 * each id once. Records are missed only if that happens in every round.
 */
#include "net/idwalk.h"

#include <string.h>

#include "util/banned.h"

#define OVERLAP 100        /* ids a page shares with the one before, at most */
#define MAX_STEPS_BACK 10000 /* in a round */
#define ROUNDS 3
#define SHORTS 3         /* short pages that end a round though they bring ids */

void idwalk_key(const char *id, size_t len, uint8_t key[SHA256_LEN])
{
	sha256(id, len, key);
	key[0] |= 1;
}

void idwalk_init(struct idwalk *k, const char *what, idwalk_fresh_fn *fresh,
		 void *ctx)
{
	memset(k, 0, sizeof(*k));
	hashset_init(&k->listed, IDWALK_KEY);
	sb_init(&k->expect, 0);
	k->taken = -1;
	k->what = what;
	k->fresh = fresh;
	k->ctx = ctx;
}

void idwalk_release(struct idwalk *k)
{
	hashset_release(&k->listed);
	hashset_release(&k->given);
	sb_release(&k->expect);
}

/* The ids a page is asked to share with the page before it. */
static size_t overlap(size_t w)
{
	return w / 2 < OVERLAP ? w / 2 : OVERLAP;
}

/* 1 if the page starts with an id listed before. */
static int starts_listed(struct idwalk *k, json_t *id0)
{
	uint8_t key[SHA256_LEN];

	if (!id0)
		return 0;
	idwalk_key(json_string_value(id0), json_string_length(id0), key);
	return hashset_has(&k->listed, key);
}

/* List the page's ids not listed before; *fresh counts them. */
static void list_ids(struct idwalk *k, json_t *ids, size_t *fresh)
{
	uint8_t key[SHA256_LEN];
	json_t *id;
	size_t i;

	*fresh = 0;
	json_array_foreach(ids, i, id) {
		idwalk_key(json_string_value(id), json_string_length(id), key);
		if (!hashset_add(&k->listed, key))
			continue;
		(*fresh)++;
		if (!k->round || hashset_add(&k->given, key))
			k->fresh(k->ctx, id, key);
	}
}

/*
 * A page of n ids that holds no listed id: ask again a page further back.
 * An empty one after pages of one id at most ends the walk (a collection of
 * one record, listed).
 */
static int step_back(struct idwalk *k, size_t n, struct cv_err *e)
{
	long long step = (long long)(k->w - overlap(k->w));

	if (!n && k->w <= 1) {
		k->done = 1;
		return 0;
	}
	if (++k->back > MAX_STEPS_BACK)
		return cv_errf(e, CV_EIO, "%s: records were deleted faster than their "
			       "ids could be listed (%u steps back)", k->what,
			       MAX_STEPS_BACK);
	k->stray |= n > 0;
	k->has_expect = 0;
	k->off -= k->off < step ? k->off : step;
	return 0;
}

/*
 * More pages taken than the ids listed can explain: each page taken brings
 * a page of new ids, less the overlap, except those that cross ids listed
 * again after a step back. A server that ignores offset answers its first
 * page to every request.
 */
static int too_many_pages(const struct idwalk *k)
{
	size_t step = k->w - overlap(k->w);

	return step && k->pages > 16 + 2 * (k->listed.n / step + k->back);
}

/* After a round that found its pages moved, another from offset 0. */
static void next_round(struct idwalk *k)
{
	struct hashset spent = k->listed;

	if ((!k->back && !k->shifted) || k->round + 1 >= ROUNDS)
		return;
	if (k->round++)
		hashset_release(&spent);
	else
		k->given = spent; /* the first round's ids are the ones given */
	hashset_init(&k->listed, IDWALK_KEY);
	k->off = 0;
	k->pages = 0;
	k->taken = -1;
	k->has_expect = 0;
	k->back = 0;
	k->shifted = 0;
	k->stray = 0;
	k->shorts = 0;
	k->done = 0;
}

static int is_id(json_t *id, const struct strbuf *sb)
{
	return id && sb->len == json_string_length(id) &&
	       !memcmp(sb->buf, json_string_value(id), sb->len);
}

/* The id the next page starts with if no record before it is deleted. */
static void expect_next(struct idwalk *k, json_t *ids)
{
	long long i = k->off - k->taken;

	k->has_expect = i < (long long)json_array_size(ids);
	sb_reset(&k->expect);
	if (k->has_expect)
		sb_add(&k->expect, json_string_value(json_array_get(ids, (size_t)i)),
		       json_string_length(json_array_get(ids, (size_t)i)));
}

int idwalk_page(struct idwalk *k, json_t *ids, struct cv_err *e)
{
	size_t n = json_array_size(ids), fresh;
	json_t *id0 = json_array_get(ids, 0);
	int short_page;

	if (n > k->w)
		k->w = n;
	if (k->off > 0 && !starts_listed(k, id0))
		return step_back(k, n, e);
	k->pages++;
	if (k->has_expect && !is_id(id0, &k->expect))
		k->shifted = 1;
	k->taken = k->off;
	list_ids(k, ids, &fresh);
	if (too_many_pages(k))
		return cv_errf(e, CV_EIO, "%s: %u pages of ids brought %zu ids: the "
			       "server does not page by offset", k->what, k->pages,
			       k->listed.n);
	if (fresh)
		k->stray = 0;
	short_page = n < k->w || n <= 1;
	k->shorts = short_page ? k->shorts + 1 : 0;
	k->done = short_page && (!fresh || k->shorts >= SHORTS);
	if (k->done && k->stray && k->w < 2)
		return cv_errf(e, CV_EIO, "%s: pages of one id: the walk through the "
			       "ids cannot tell that they follow each other", k->what);
	if (k->done) {
		next_round(k);
		return 0;
	}
	k->off += (long long)n - (long long)overlap(k->w);
	if (k->off <= k->taken)
		k->off = k->taken + 1;
	expect_next(k, ids);
	return 0;
}
