/*
 * Unit tests for chroma/stamps.c: a folder's stamps compared, files written
 * in the clock tick their stamps were taken in told apart, and files
 * settled long enough for their stamps to be trusted later.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chroma/stamps.h"

static struct timespec at(time_t sec, long nsec)
{
	struct timespec t = { sec, nsec };

	return t;
}

static void one(struct stamps *s, struct timespec ctime, struct timespec mtime)
{
	struct stat st;

	memset(&st, 0, sizeof(st));
	st.st_ctim = ctime;
	st.st_mtim = mtime;
	stamps_clear(s);
	stamps_add(s, "header.bin", &st);
}

static void test_racy_window(void **state)
{
	struct timespec t0 = at(100, 500), t1 = at(100, 4000500);
	struct stamps s = { 0 };

	(void)state;
	one(&s, at(100, 499), at(100, 499)); /* written the tick before */
	assert_false(stamps_racy(&s, &t0, &t1));
	one(&s, at(99, 999999999), at(99, 0));
	assert_false(stamps_racy(&s, &t0, &t1));
	one(&s, t0, t0); /* in the tick the stamps were taken in */
	assert_true(stamps_racy(&s, &t0, &t1));
	one(&s, at(100, 2000000), at(100, 2000000));
	assert_true(stamps_racy(&s, &t0, &t1));
	one(&s, t1, t1);
	assert_true(stamps_racy(&s, &t0, &t1));
	one(&s, at(90, 0), at(5000, 0)); /* touched into the future: ctime says */
	assert_false(stamps_racy(&s, &t0, &t1));
	one(&s, at(100, 900000000), at(100, 900000000)); /* a finer stamp */
	assert_true(stamps_racy(&s, &t0, &t1));
	one(&s, at(102, 0), at(102, 0)); /* ahead of the clock: a clock stepped back */
	assert_false(stamps_racy(&s, &t0, &t1));
	one(&s, at(100, 0), at(100, 0)); /* whole seconds: t0's second is racy */
	assert_true(stamps_racy(&s, &t0, &t1));
	one(&s, at(99, 0), at(99, 0));
	assert_false(stamps_racy(&s, &t0, &t1));
	stamps_release(&s);
}

/* Settled: last changed (ctime, not mtime) at least the margin before t0. */
static void test_settled(void **state)
{
	struct timespec t0 = at(100, 500);
	struct stat st;

	(void)state;
	memset(&st, 0, sizeof(st));
	st.st_ctim = at(96, 0);
	assert_true(stamp_settled(&st, &t0, 3000000000LL));
	st.st_ctim = at(97, 500); /* exactly the margin: not yet */
	assert_false(stamp_settled(&st, &t0, 3000000000LL));
	st.st_ctim = at(99, 990000000);
	st.st_mtim = at(90, 0); /* mtime set back: ctime says */
	assert_false(stamp_settled(&st, &t0, 3000000000LL));
	st.st_ctim = at(101, 0); /* ahead of t0 */
	assert_false(stamp_settled(&st, &t0, 3000000000LL));
}

static void stamp_file(const char *path, struct stamps *s)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	stamps_clear(s);
	stamps_add(s, "f", &st);
}

/* A real file: racy while just written, not a tick later; a write is seen. */
static void test_racy_file(void **state)
{
	struct timespec t0, t1, tick = { 0, 20 * 1000 * 1000 };
	struct stamps a = { 0 }, b = { 0 };
	char path[64];
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/cv-test-stamps-XXXXXX");
	clock_gettime(CLOCK_REALTIME_COARSE, &t0);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "abc", 3), 3);
	stamp_file(path, &a);
	clock_gettime(CLOCK_REALTIME_COARSE, &t1);
	assert_true(stamps_racy(&a, &t0, &t1));

	nanosleep(&tick, NULL);
	clock_gettime(CLOCK_REALTIME_COARSE, &t0);
	stamp_file(path, &a);
	clock_gettime(CLOCK_REALTIME_COARSE, &t1);
	assert_false(stamps_racy(&a, &t0, &t1));
	stamp_file(path, &b);
	assert_true(stamps_same(&a, &b));

	assert_int_equal(pwrite(fd, "xyz", 3, 0), 3); /* same size, in place */
	stamp_file(path, &b);
	clock_gettime(CLOCK_REALTIME_COARSE, &t1);
	assert_false(stamps_same(&a, &b));
	assert_true(stamps_racy(&b, &t0, &t1));
	close(fd);
	unlink(path);
	stamps_release(&a);
	stamps_release(&b);
}

static void test_same_and_lookup(void **state)
{
	struct stamps a = { 0 }, b = { 0 };
	struct stat st;

	(void)state;
	memset(&st, 0, sizeof(st));
	st.st_size = 10;
	stamps_add(&a, "z", &st);
	stamps_add(&a, "a", &st);
	stamps_sort(&a);
	stamps_add(&b, "a", &st);
	stamps_add(&b, "z", &st);
	assert_true(stamps_same(&a, &b));
	assert_string_equal(a.v[0].name, "a");
	assert_non_null(stamps_of(&a, "z"));
	assert_null(stamps_of(&a, "y"));
	b.v[1].st.st_size = 11;
	assert_false(stamps_same(&a, &b));
	b.v[1].st.st_size = 10;
	b.v[1].st.st_mtim.tv_nsec = 1;
	assert_false(stamps_same(&a, &b));
	stamps_clear(&b);
	stamps_add(&b, "a", &st);
	assert_false(stamps_same(&a, &b));
	stamps_release(&a);
	stamps_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_racy_window),
		cmocka_unit_test(test_racy_file),
		cmocka_unit_test(test_settled),
		cmocka_unit_test(test_same_and_lookup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
