/*
 * Unit tests for the live copy (chroma/capture.c) on a copy of the bundled
 * sample: what the sink knows is not copied (the database, and an index
 * folder only when it knows every file of it), and every file not copied
 * has its stamps noted, which the stream needs to take it; without a known
 * set everything is copied.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chroma/livecopy.h"
#include "util/fsutil.h"

#define SAMPLE "sample/chroma-data"
#define FOLDER_A "041deb45-1409-4d3d-a4f1-690dcf053edf"
#define FOLDER_B "96d9a712-b653-4e8b-aa79-6b125d1be7dc"

static char tmp[64], src[96], dst[96];

/*
 * stat and lstat are wrapped (-Wl,--wrap, Makefile): the stats of
 * src/gone_rel from the gone_at-th to the gone_to-th answer ENOENT, and so
 * does the lstat after each, as for a file deleted between its folder's
 * listing and its stat; it is back after.
 */
static const char *gone_rel;
static int gone_at, gone_to, gone_seen, gone_now;

/* The capture's first stat of a file is for reading it into the page cache. */
#define FIRST_LOOK 2

int __real_stat(const char *path, struct stat *st);
int __real_lstat(const char *path, struct stat *st);
int __wrap_stat(const char *path, struct stat *st);
int __wrap_lstat(const char *path, struct stat *st);

static int is_gone_path(const char *path)
{
	size_t n = strlen(src);

	return gone_rel && !strncmp(path, src, n) && path[n] == '/' &&
	       !strcmp(path + n + 1, gone_rel);
}

int __wrap_stat(const char *path, struct stat *st)
{
	if (is_gone_path(path) && ++gone_seen >= gone_at && gone_seen <= gone_to) {
		gone_now = 1;
		errno = ENOENT;
		return -1;
	}
	return __real_stat(path, st);
}

int __wrap_lstat(const char *path, struct stat *st)
{
	if (gone_now && is_gone_path(path)) {
		gone_now = 0;
		errno = ENOENT;
		return -1;
	}
	return __real_lstat(path, st);
}

/*
 * From the next stat on. The copy made by setup is first let age past the
 * coarse clock's tick, else a capture takes it for racing a write and
 * copies it again, which would hide what is counted here.
 */
static void gone_for(const char *rel, int at, int to)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };

	if (rel)
		nanosleep(&ts, NULL);
	gone_rel = rel;
	gone_at = at;
	gone_to = to;
	gone_seen = 0;
	gone_now = 0;
}

/* A fresh copy of the sample: its files changed just now, so not settled. */
static int setup(void **state)
{
	char cmd[256];

	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/cv-test-capture-XXXXXX");
	if (!mkdtemp(tmp))
		return -1;
	snprintf(src, sizeof(src), "%s/src", tmp);
	snprintf(dst, sizeof(dst), "%s/dst", tmp);
	/* one mtime for all: cp's order would put a pickle before its .bin */
	snprintf(cmd, sizeof(cmd), "cp -r %s %s && touch -m -d @1700000000 %s/*/*",
		 SAMPLE, src, src);
	return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	gone_for(NULL, 0, 0);
	rm_tree(tmp);
	return 0;
}

/* Knows every file but the one named by ctx (NULL: every file). */
static int knows(void *ctx, const char *rel, const json_t *stamp)
{
	return !ctx || strcmp(rel, ctx);
}

static int exists(const char *rel)
{
	char p[512];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dst, rel);
	return !stat(p, &st);
}

static void release(struct lc_stats *st)
{
	json_decref(st->collections);
	json_decref(st->warnings);
	json_decref(st->stamps);
	json_decref(st->kept);
}

/*
 * Every file kept has its stamps noted, those of its source, and only kept
 * files go uncopied.
 */
static void check_kept(const struct lc_stats *st)
{
	const char *folder;
	json_t *names, *x, *stamp;
	char rel[256], path[512];
	struct stat sb;
	size_t i;

	json_object_foreach(st->kept, folder, names) {
		json_array_foreach(names, i, x) {
			stamp = json_object_get(json_object_get(st->stamps, folder),
						json_string_value(x));
			snprintf(rel, sizeof(rel), "%s%s%s", folder, *folder ? "/" : "",
				 json_string_value(x));
			snprintf(path, sizeof(path), "%s/%s", src, rel);
			assert_int_equal(stat(path, &sb), 0);
			assert_int_equal(json_array_size(stamp), 5);
			assert_int_equal(json_integer_value(json_array_get(stamp, 1)), sb.st_ino);
			assert_int_equal(json_integer_value(json_array_get(stamp, 2)), sb.st_size);
			assert_false(exists(rel));
		}
	}
}

static void test_all_known(void **state)
{
	struct lc_known known = { NULL, knows };
	struct lc_stats st;
	struct cv_err e = { 0 };

	(void)state;
	assert_int_equal(chroma_capture(src, dst, 2, &known, &st, &e), 0);
	assert_int_equal(json_array_size(json_object_get(st.kept, "")), 1);
	assert_int_equal(json_array_size(json_object_get(st.kept, FOLDER_A)), 5);
	assert_int_equal(json_array_size(json_object_get(st.kept, FOLDER_B)), 4);
	check_kept(&st);
	assert_int_equal(st.bytes_read, 0);
	assert_true(st.bytes_kept > 0);
	assert_true(exists(FOLDER_A)); /* the folder, empty */
	release(&st);
}

static void test_one_file_unknown(void **state)
{
	struct lc_known known = { FOLDER_A "/length.bin", knows };
	struct lc_stats st;
	struct cv_err e = { 0 };

	(void)state;
	assert_int_equal(chroma_capture(src, dst, 2, &known, &st, &e), 0);
	assert_null(json_object_get(st.kept, FOLDER_A));
	assert_true(exists(FOLDER_A "/length.bin"));
	assert_true(exists(FOLDER_A "/data_level0.bin"));
	assert_non_null(json_object_get(st.kept, FOLDER_B));
	assert_non_null(json_object_get(st.kept, ""));
	check_kept(&st);
	assert_true(st.bytes_read > 0);
	release(&st);
}

static void test_db_unknown(void **state)
{
	struct lc_known known = { "chroma.sqlite3", knows };
	struct lc_stats st;
	struct cv_err e = { 0 };

	(void)state;
	assert_int_equal(chroma_capture(src, dst, 2, &known, &st, &e), 0);
	assert_null(json_object_get(st.kept, ""));
	assert_true(exists("chroma.sqlite3"));
	/* changed just now: not settled, so not noted for the next copy */
	assert_null(json_object_get(json_object_get(st.stamps, ""), "chroma.sqlite3"));
	check_kept(&st);
	release(&st);
}

static void test_nothing_known(void **state)
{
	struct lc_stats st;
	struct cv_err e = { 0 };

	(void)state;
	assert_int_equal(chroma_capture(src, dst, 2, NULL, &st, &e), 0);
	assert_int_equal(json_object_size(st.kept), 0);
	assert_true(exists("chroma.sqlite3"));
	assert_true(exists(FOLDER_A "/index_metadata.pickle"));
	assert_true(exists(FOLDER_B "/data_level0.bin"));
	assert_int_equal(st.bytes_kept, 0);
	release(&st);
}

static int same_size(const char *rel)
{
	char a[512], b[512];
	struct stat sa, sb;

	snprintf(a, sizeof(a), "%s/%s", src, rel);
	snprintf(b, sizeof(b), "%s/%s", dst, rel);
	return !stat(a, &sa) && !stat(b, &sb) && sa.st_size == sb.st_size;
}

/*
 * A file listed but gone at its stat, and still at the look after the copy
 * (the stamps before and after then agree): the folder is copied again, not
 * accepted without it.
 */
static void test_gone_while_copied(void **state)
{
	struct lc_stats st;
	struct cv_err e = { 0 };

	(void)state;
	gone_for(FOLDER_A "/data_level0.bin", FIRST_LOOK, FIRST_LOOK + 1);
	assert_int_equal(chroma_capture(src, dst, 2, NULL, &st, &e), 0);
	assert_true(st.retries >= 1);
	assert_true(same_size(FOLDER_A "/data_level0.bin"));
	release(&st);
}

/*
 * The same for a folder all of whose files are known, gone at both of its
 * looks: taken from the last snapshot only once listed whole, never without
 * the file.
 */
static void test_gone_while_kept(void **state)
{
	struct lc_known known = { NULL, knows };
	struct lc_stats st;
	struct cv_err e = { 0 };

	(void)state;
	gone_for(FOLDER_A "/data_level0.bin", FIRST_LOOK, FIRST_LOOK + 1);
	assert_int_equal(chroma_capture(src, dst, 2, &known, &st, &e), 0);
	assert_true(st.retries >= 1);
	assert_int_equal(json_array_size(json_object_get(st.kept, FOLDER_A)), 5);
	check_kept(&st);
	release(&st);
}

/* Gone at the second look, which a kept folder gets: copied instead. */
static void test_gone_at_second_look(void **state)
{
	struct lc_known known = { NULL, knows };
	struct lc_stats st;
	struct cv_err e = { 0 };

	(void)state;
	gone_for(FOLDER_A "/data_level0.bin", FIRST_LOOK + 1, FIRST_LOOK + 1);
	assert_int_equal(chroma_capture(src, dst, 2, &known, &st, &e), 0);
	assert_int_equal(st.retries, 0);
	assert_null(json_object_get(st.kept, FOLDER_A));
	assert_true(same_size(FOLDER_A "/data_level0.bin"));
	assert_true(same_size(FOLDER_A "/index_metadata.pickle"));
	assert_non_null(json_object_get(st.kept, FOLDER_B));
	check_kept(&st);
	release(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_all_known, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_file_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_db_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nothing_known, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gone_while_copied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gone_while_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gone_at_second_look, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
