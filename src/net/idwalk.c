/*
 * The closing pass's walk through a collection's ids (see idwalk.h).
 *
 * Deleting a record moves every later one a place forward, so a page asked
 * for by offset may start past ids never listed. New records only ever come
 * after all others, so a page that starts with an id already listed
 * continues the list with none passed over, and so does a page at offset 0.
 * Each page is therefore asked for overlapping the one before it, and a
 * page that does not start with a listed id is asked for again further
 * back.
 *
 * A round ends with a page taken that reaches as far as the collection
 * reached when the walk began, or when it was last counted: the records held
 * since then only move forward, so they all lie before that place. A page
 * shorter than the others that brings few new ids looks like the last one,
 * but a server or proxy may cut pages short: the collection is counted
 * again, and the next page must reach that count.
 *
 * One case escapes the check: a record deleted and added again comes last,
 * so when deletions moved a page past the ids not listed yet, it may start
 * with such a record and look continued. A round whose pages moved is
 * therefore followed by another from offset 0, up to ROUNDS (fresh is still
 * given each id once). A round's pages moved if one stepped back, or did not
 * start with every id of the overlap in order, or held a listed id past the
 * overlap, or if at the end the ids listed do not add up (adds_up). A record
 * held throughout is missed only if records deleted and added again hid all
 * of that in every round: a page then started with its whole overlap, in
 * order, and deletions balanced the records passed over. With pages of
 * 10,000 ids the overlap is 100 ids, all of which would have to be deleted
 * and added again in their order; with pages of two or three ids, as a
 * server capping them so might answer, one record can do it.
 */
#include "net/idwalk.h"

#include <string.h>

#include "util/banned.h"

#define OVERLAP 100          /* ids a page shares with the one before, at most */
#define MAX_STEPS_BACK 10000 /* in a round */
#define ROUNDS 3
#define MAX_PROBES 3         /* pages of one id: asking past the first again */

void idwalk_key(const char *id, size_t len, uint8_t key[SHA256_LEN])
{
	sha256(id, len, key);
	key[0] |= 1;
}

void idwalk_init(struct idwalk *k, long long count, const char *what,
		 idwalk_fresh_fn *fresh, void *ctx)
{
	memset(k, 0, sizeof(*k));
	hashset_init(&k->listed, IDWALK_KEY);
	k->count = count;
	k->taken = -1;
	k->what = what;
	k->fresh = fresh;
	k->ctx = ctx;
}

void idwalk_release(struct idwalk *k)
{
	hashset_release(&k->listed);
	hashset_release(&k->given);
	json_decref(k->expect);
	k->expect = NULL;
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

/* 1 if the page starts with the ids of want, in order. */
static int starts_with(json_t *ids, json_t *want)
{
	size_t i, n = json_array_size(want);

	if (json_array_size(ids) < n)
		return 0;
	for (i = 0; i < n; i++)
		if (!json_equal(json_array_get(ids, i), json_array_get(want, i)))
			return 0;
	return 1;
}

/* The ids from k->off on of the page just taken: the next one's start. */
static void expect_next(struct idwalk *k, json_t *ids)
{
	size_t i, n = json_array_size(ids);

	json_decref(k->expect);
	k->expect = NULL;
	if (k->off - k->taken >= (long long)n)
		return;
	k->expect = json_array();
	for (i = (size_t)(k->off - k->taken); i < n; i++)
		json_array_append(k->expect, json_array_get(ids, i));
}

/*
 * List the page's ids not listed before; *fresh counts them. Past the
 * overlap a page of records unmoved holds new ids only: one listed before
 * was deleted and added again.
 */
static void list_ids(struct idwalk *k, json_t *ids, size_t *fresh)
{
	size_t i, lapped = json_array_size(k->expect);
	uint8_t key[SHA256_LEN];
	json_t *id;

	*fresh = 0;
	json_array_foreach(ids, i, id) {
		idwalk_key(json_string_value(id), json_string_length(id), key);
		if (!hashset_add(&k->listed, key)) {
			if (k->expect && i >= lapped)
				k->moved = 1;
			continue;
		}
		(*fresh)++;
		if (!k->round || hashset_add(&k->given, key))
			k->fresh(k->ctx, id, key);
	}
}

/* A page of n ids that does not start with a listed id: ask further back. */
static int step_back(struct idwalk *k, size_t n, struct cv_err *e)
{
	long long step = (long long)(k->w - overlap(k->w));

	if (++k->back > MAX_STEPS_BACK)
		return cv_errf(e, CV_EIO, "%s: records were deleted faster than their "
			       "ids could be listed (%u steps back)", k->what,
			       MAX_STEPS_BACK);
	k->stray |= n > 0;
	k->moved = 1;
	json_decref(k->expect);
	k->expect = NULL;
	if (step < 1)
		step = 1;
	k->off -= k->off < step ? k->off : step;
	return 0;
}

/*
 * Pages a round takes before a short page ends it however many new ids it
 * brings: records added faster than they are listed would keep it going.
 */
static unsigned page_budget(const struct idwalk *k)
{
	size_t step = k->w - overlap(k->w);

	return 64 + 4 * (unsigned)(((size_t)k->count + k->listed.n) / (step ? step : 1));
}

/* After a round whose pages moved, another from offset 0. */
static void next_round(struct idwalk *k)
{
	struct hashset spent = k->listed;

	if (!k->moved || k->round + 1 >= ROUNDS)
		return;
	if (k->round++)
		hashset_release(&spent);
	else
		k->given = spent; /* the first round's ids are the ones given */
	hashset_init(&k->listed, IDWALK_KEY);
	json_decref(k->expect);
	k->expect = NULL;
	k->off = 0;
	k->taken = -1;
	k->moved = 0;
	k->back = 0;
	k->idle = 0;
	k->pages = 0;
	k->stray = 0;
	k->probes = 0;
	k->need_count = 0;
	k->done = 0;
}

/*
 * Pages of one id cannot overlap: the id met past the first, not listed,
 * may be a record added and deleted again since, or the server answers one
 * id a request. Ask for it again, a few times.
 */
static int probe_again(struct idwalk *k, struct cv_err *e)
{
	if (++k->probes > MAX_PROBES)
		return cv_errf(e, CV_EIO, "%s: pages of one id: the walk through the "
			       "ids cannot tell that they follow each other", k->what);
	k->stray = 0;
	return 0;
}

/*
 * Whether the ids listed add up with the round's last page, which ended at
 * end: when it reached the last id, the collection then held end records,
 * all listed, and the listed ids not deleted since; a page that ends the
 * round short of the last id has all before its end listed. A round whose
 * count does not add up had records deleted, or passed over.
 */
static int adds_up(const struct idwalk *k, long long end, int short_page)
{
	long long listed = (long long)k->listed.n;

	return short_page ? listed == end : listed >= end;
}

/* The round ends with a page that ended at end. */
static void finish(struct idwalk *k, long long end, int short_page)
{
	if (!adds_up(k, end, short_page))
		k->moved = 1;
	k->done = 1;
	next_round(k);
}

/*
 * Where a page taken ends the round, or the next request goes. The round
 * ends when the page reaches k->count, a count taken before it: every
 * record held since then lies before that place. A short page that brings
 * no more new ids than the overlap looks like the last, but may be cut
 * short by a server or proxy: the next page is asked for after a new count
 * (k->need_count), which it must then reach. A page that brings no new id
 * and is not short (a server that ignores offset answers its first page to
 * every request) ends nothing.
 */
static int advance(struct idwalk *k, json_t *ids, size_t fresh, struct cv_err *e)
{
	size_t n = json_array_size(ids);
	int short_page = n < k->w || n <= 1, idle = !fresh && !short_page;
	long long end = k->off + (long long)n;

	k->pages++;
	if (idle && ++k->idle > 16 + 2 * k->back)
		return cv_errf(e, CV_EIO, "%s: %u pages of ids brought no new id: the "
			       "server does not page by offset", k->what, k->idle);
	k->taken = k->off;
	k->off += (long long)n - (long long)overlap(k->w);
	if (k->off <= k->taken)
		k->off = k->taken + 1;
	expect_next(k, ids);
	if ((!idle && end >= k->count) || (short_page && k->pages > page_budget(k))) {
		finish(k, end, short_page);
		return 0;
	}
	if (short_page && fresh <= overlap(k->w)) {
		if (k->stray && k->w < 2 && probe_again(k, e))
			return CV_EIO;
		k->need_count = 1;
	}
	return 0;
}

void idwalk_count(struct idwalk *k, long long count)
{
	if (count < k->count)
		k->count = count;
	k->need_count = 0;
}

int idwalk_page(struct idwalk *k, json_t *ids, struct cv_err *e)
{
	size_t n = json_array_size(ids), fresh;

	if (n > k->w)
		k->w = n;
	if (k->off > 0 && !starts_listed(k, json_array_get(ids, 0)))
		return step_back(k, n, e);
	if (k->expect && !starts_with(ids, k->expect))
		k->moved = 1;
	list_ids(k, ids, &fresh);
	if (fresh)
		k->stray = 0;
	return advance(k, ids, fresh, e);
}
