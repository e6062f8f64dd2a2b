/*
 * Unit tests for chroma/labels.c on a pickle of 1,000 ids ("id<i>" has
 * label i + 1) with windows of 10 labels: lookups in label order move the
 * window, a gap moves it ahead, lookups out of order end with the whole
 * map, the WAL tail's ids are settled, a rewritten pickle is refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chroma/labels.h"
#include "pickle_gen.h"
#include "util/strbuf.h"

#define N 1000
#define SPAN 10

static char path[] = "/tmp/cv-test-labels-XXXXXX";

static void write_pickle(int n)
{
	struct strbuf b = STRBUF_INIT;
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	rust_pickle(&b, n);
	assert_int_equal(fwrite(b.buf, 1, b.len, f), b.len);
	fclose(f);
	sb_release(&b);
}

static int setup(void **state)
{
	int fd = mkstemp(path);

	(void)state;
	if (fd < 0)
		return -1;
	close(fd);
	write_pickle(N);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

static void open_ok(struct labels *l)
{
	struct cv_err e = { 0 };

	if (labels_open(l, path, SPAN, &e))
		fail_msg("labels_open: %s", e.msg);
	assert_int_equal(l->pk.n_ids, N);
	assert_int_equal(l->max_label, N);
}

/* The label of "id<i>", which must be i + 1. */
static void expect_label(struct labels *l, int i)
{
	struct cv_err e = { 0 };
	uint64_t label = 0;
	char id[32];

	snprintf(id, sizeof(id), "id%d", i);
	if (labels_of(l, id, strlen(id), &label, &e) != 1)
		fail_msg("id%d: not found (%s)", i, e.msg);
	assert_int_equal(label, (uint64_t)i + 1);
}

static void test_in_order(void **state)
{
	struct labels l;
	int i;

	(void)state;
	open_ok(&l);
	assert_int_not_equal(l.hi, UINT64_MAX); /* windowed */
	for (i = 0; i < N; i++)
		expect_label(&l, i);
	assert_int_equal(l.scans, 0);
	assert_true(l.passes <= N / SPAN + 2);   /* one reading a window */
	assert_int_not_equal(l.hi, UINT64_MAX);
	labels_close(&l);
}

static void test_gaps(void **state)
{
	struct labels l;
	int i, k;

	(void)state;
	open_ok(&l);
	for (k = 0; k < N; k += 100)      /* 5 of every 100: gaps of 95 */
		for (i = k; i < k + 5; i++)
			expect_label(&l, i);
	assert_int_equal(l.scans, 0);   /* gaps ahead are not disorder */
	assert_true(l.passes <= 2 * (N / 100) + 2);
	assert_int_not_equal(l.hi, UINT64_MAX);
	labels_close(&l);
}

static void test_out_of_order(void **state)
{
	struct cv_err e = { 0 };
	struct labels l;
	uint64_t label;
	int i;

	(void)state;
	open_ok(&l);
	for (i = N - 1; i >= 0; i -= 7)   /* backwards */
		expect_label(&l, i);
	assert_int_equal(l.hi, UINT64_MAX); /* the whole map, after 16 */
	for (i = 0; i < N; i++)
		expect_label(&l, i);
	assert_int_equal(labels_of(&l, "nope", 4, &label, &e), 0);
	labels_close(&l);
}

static void test_missing_and_has(void **state)
{
	const char *ids[] = { "id3", "id500", "id999", "nope" };
	const size_t lens[] = { 3, 5, 5, 4 };
	struct cv_err e = { 0 };
	struct labels l;
	uint64_t label;

	(void)state;
	open_ok(&l);
	assert_int_equal(labels_has(&l, "id3", 3), 1);     /* in the window */
	assert_int_equal(labels_has(&l, "id500", 5), -1);  /* not known yet */
	assert_int_equal(labels_has(&l, "nope", 4), -1);
	assert_int_equal(labels_learn(&l, ids, lens, 4, &e), 0);
	assert_int_equal(labels_has(&l, "id500", 5), 1);
	assert_int_equal(labels_has(&l, "id999", 5), 1);
	assert_int_equal(labels_has(&l, "nope", 4), 0);
	assert_int_equal(labels_of(&l, "nope", 4, &label, &e), 0);
	assert_int_equal(l.scans, 1);
	expect_label(&l, 0);
	labels_close(&l);
}

/* A flush rewrote the pickle between two readings: refused, not mixed. */
static void test_rewritten(void **state)
{
	struct cv_err e = { 0 };
	struct labels l;
	uint64_t label;

	(void)state;
	open_ok(&l);
	expect_label(&l, 0);
	write_pickle(N + 1); /* one id more: another size */
	assert_int_equal(labels_of(&l, "id500", 5, &label, &e), CV_EIO);
	assert_non_null(strstr(e.msg, "changed while it was read"));
	labels_close(&l);
	write_pickle(N);
}

/* A small index fits one window: no more readings. */
static void test_one_window(void **state)
{
	struct cv_err e = { 0 };
	struct labels l;
	int i;

	(void)state;
	assert_int_equal(labels_open(&l, path, 0, &e), 0);
	assert_int_equal(l.hi, UINT64_MAX);
	for (i = N - 1; i >= 0; i--)
		expect_label(&l, i);
	assert_int_equal(l.passes, 1);
	assert_int_equal(labels_has(&l, "nope", 4), 0);
	labels_close(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order),
		cmocka_unit_test(test_gaps),
		cmocka_unit_test(test_out_of_order),
		cmocka_unit_test(test_missing_and_has),
		cmocka_unit_test(test_rewritten),
		cmocka_unit_test(test_one_window),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
