/*
 * Unit tests for net/idwalk.c against a simulated collection that changes
 * between requests: records deleted anywhere, added at the end, deleted and
 * added again. Every id held from the walk's first request to its last must
 * be listed, and no id listed twice; a run of records added again where
 * deletions moved a page is caught by a second round; a server that caps
 * its pages, one that ignores offset, and pages of one id are told apart.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/idwalk.h"

#define LIMIT 10000 /* ids a request asks for, as the export's */
#define MAX_IDS 60000

/* A collection in the server's order: record i is "r<num[i]>", at offset i
 * (deleted records are dropped after each change). */
struct sim {
	unsigned num[MAX_IDS];
	unsigned char alive[MAX_IDS];
	size_t n;            /* records ever placed, dead ones too */
	size_t live;         /* of them, alive */
	unsigned next;       /* the next new record's number */
	size_t cap;          /* most ids the server answers (0: no cap) */
	int ignore_offset;
	/* what a walk saw */
	unsigned listed[MAX_IDS]; /* times each number was given to fresh */
	unsigned char held[MAX_IDS]; /* held since the first request */
	uint64_t seed;
};

static unsigned rnd(struct sim *s, unsigned below)
{
	s->seed = s->seed * 6364136223846793005ULL + 1442695040888963407ULL;
	return below ? (unsigned)(s->seed >> 33) % below : 0;
}

static void place(struct sim *s, unsigned num)
{
	assert_true(s->n < MAX_IDS);
	s->num[s->n] = num;
	s->alive[s->n++] = 1;
	s->live++;
}

static void sim_init(struct sim *s, unsigned records, size_t cap, uint64_t seed)
{
	memset(s, 0, sizeof(*s));
	s->cap = cap;
	s->seed = seed;
	for (s->next = 0; s->next < records; s->next++)
		place(s, s->next);
}

/* Drop the deleted records, in order: record i is then at offset i. */
static void compact(struct sim *s)
{
	size_t i, j = 0;

	for (i = 0; i < s->n; i++)
		if (s->alive[i]) {
			s->num[j] = s->num[i];
			s->alive[j++] = 1;
		}
	s->n = j;
}

/* Between two requests: dels deletions anywhere, adds records at the end,
 * and now and then a deleted record added again (at the end). */
static void change(struct sim *s, unsigned dels, unsigned adds)
{
	size_t i;
	unsigned d;

	for (d = 0; d < dels && s->live; d++) {
		do
			i = rnd(s, (unsigned)s->n);
		while (!s->alive[i]);
		s->alive[i] = 0;
		s->live--;
		s->held[s->num[i]] = 0;
		if (!rnd(s, 4) && s->n < MAX_IDS)
			place(s, s->num[i]);
	}
	for (d = 0; d < adds && s->n < MAX_IDS && s->next < MAX_IDS; d++)
		place(s, s->next++);
	compact(s);
}

static json_t *sim_get(const struct sim *s, long long off, size_t limit)
{
	json_t *ids = json_array();
	char text[32];
	size_t i;

	if (s->cap && limit > s->cap)
		limit = s->cap;
	for (i = s->ignore_offset ? 0 : (size_t)off; i < s->n && limit; i++, limit--) {
		snprintf(text, sizeof(text), "r%u", s->num[i]);
		json_array_append_new(ids, json_string(text));
	}
	return ids;
}

static void on_fresh(void *ctx, json_t *id, const uint8_t *key)
{
	struct sim *s = ctx;
	unsigned num = (unsigned)strtoul(json_string_value(id) + 1, NULL, 10);

	(void)key;
	s->listed[num]++;
}

/* Walk with changes before every request; the walk's result code. */
static int walk(struct sim *s, unsigned dels, unsigned adds, struct cv_err *e)
{
	struct idwalk k;
	json_t *ids;
	size_t i, requests = 0;
	int rc = 0;

	for (i = 0; i < s->n; i++)
		s->held[s->num[i]] = s->alive[i];
	idwalk_init(&k, "sim", on_fresh, s);
	while (!rc && !k.done) {
		assert_true(++requests < 200000);
		ids = sim_get(s, k.off, LIMIT);
		rc = idwalk_page(&k, ids, e);
		json_decref(ids);
		if (!k.done)
			change(s, dels, adds);
	}
	idwalk_release(&k);
	return rc;
}

static void check_listed(const struct sim *s, const char *what)
{
	unsigned i;

	for (i = 0; i < s->next; i++) {
		if (s->listed[i] > 1)
			fail_msg("%s: r%u listed %u times", what, i, s->listed[i]);
		if (s->held[i] && !s->listed[i])
			fail_msg("%s: r%u held throughout, not listed", what, i);
	}
}

static void run(unsigned records, size_t cap, unsigned dels, unsigned adds,
		uint64_t seed)
{
	static struct sim s;
	struct cv_err e = { 0 };
	char what[128];

	snprintf(what, sizeof(what), "%u records, cap %zu, %u deleted and %u added "
		 "a request, seed %llu", records, cap, dels, adds,
		 (unsigned long long)seed);
	sim_init(&s, records, cap, seed);
	if (walk(&s, dels, adds, &e))
		fail_msg("%s: %s", what, e.msg);
	check_listed(&s, what);
}

static void test_unchanged(void **state)
{
	static const unsigned sizes[] = { 0, 1, 2, 3, 99, 10000, 10001, 25000 };
	static const size_t caps[] = { 0, 2, 3, 150, 3000 };
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (j = 0; j < sizeof(caps) / sizeof(caps[0]); j++)
			if (!caps[j] || caps[j] >= 100 || sizes[i] < 1000)
				run(sizes[i], caps[j], 0, 0, 1);
}

static void test_deletions_and_additions(void **state)
{
	static const unsigned dels[] = { 1, 3, 150, 1500 };
	static const size_t caps[] = { 0, 7, 300, 3000 };
	uint64_t seed;
	size_t i, j;
	int small;

	(void)state;
	for (seed = 1; seed <= 4; seed++)
		for (i = 0; i < sizeof(dels) / sizeof(dels[0]); i++)
			for (j = 0; j < sizeof(caps) / sizeof(caps[0]); j++) {
				if (caps[j] && caps[j] < 100 && dels[i] > 10)
					continue;
				/* a walk outruns the records added */
				small = caps[j] && caps[j] < 100;
				run(small ? 400 : 12000, caps[j], dels[i],
				    (unsigned)(seed % 3) * (small ? 1 : 40), seed);
			}
}

/*
 * Pages of 10 over r0..r29; after the first, r0..r26 are deleted and r5..r9
 * added again, last. The next page, at offset 5, is r7 r8 r9: it starts
 * with a listed id and reaches the end, though r27..r29, held throughout,
 * come before it. Only the second round lists them.
 */
static void test_moved_run(void **state)
{
	static struct sim s;
	struct cv_err e = { 0 };
	struct idwalk k;
	json_t *ids;
	size_t i;
	int pages = 0;

	(void)state;
	sim_init(&s, 30, 10, 1);
	for (i = 0; i < s.n; i++)
		s.held[s.num[i]] = 1;
	idwalk_init(&k, "sim", on_fresh, &s);
	while (!k.done) {
		assert_true(++pages < 100);
		ids = sim_get(&s, k.off, LIMIT);
		assert_int_equal(idwalk_page(&k, ids, &e), 0);
		json_decref(ids);
		if (pages == 1) {
			for (i = 0; i <= 26; i++) {
				s.alive[i] = 0;
				s.held[i] = 0;
			}
			for (i = 5; i <= 9; i++)
				place(&s, (unsigned)i);
			compact(&s);
		}
	}
	idwalk_release(&k);
	check_listed(&s, "moved run");
	assert_int_equal(s.listed[27], 1);
}

/* A server that answers every request with the collection's start. */
static void test_offset_ignored(void **state)
{
	static struct sim s;
	struct cv_err e = { 0 };

	(void)state;
	sim_init(&s, 25000, 0, 1);
	s.ignore_offset = 1;
	assert_int_not_equal(walk(&s, 0, 0, &e), 0);
	assert_non_null(strstr(e.msg, "does not page by offset"));
}

/* Pages of one id cannot overlap: an error, except for one record. */
static void test_pages_of_one(void **state)
{
	static struct sim s;
	struct cv_err e = { 0 };

	(void)state;
	sim_init(&s, 5, 1, 1);
	assert_int_not_equal(walk(&s, 0, 0, &e), 0);
	assert_non_null(strstr(e.msg, "pages of one id"));
	run(1, 1, 0, 0, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unchanged),
		cmocka_unit_test(test_deletions_and_additions),
		cmocka_unit_test(test_moved_run),
		cmocka_unit_test(test_offset_ignored),
		cmocka_unit_test(test_pages_of_one),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
