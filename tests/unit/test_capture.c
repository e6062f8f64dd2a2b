/*
 * Unit tests for the live copy (chroma/capture.c) on a copy of the bundled
 * sample: what the sink knows is not copied (the database, and an index
 * folder only when it knows every file of it), and every file not copied
 * has its stamps noted, which the stream needs to take it; without a known
 * set everything is copied.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chroma/livecopy.h"
#include "util/fsutil.h"

#define SAMPLE "sample/chroma-data"
#define FOLDER_A "041deb45-1409-4d3d-a4f1-690dcf053edf"
#define FOLDER_B "96d9a712-b653-4e8b-aa79-6b125d1be7dc"

static char tmp[64], src[96], dst[96];

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
	snprintf(cmd, sizeof(cmd), "cp -r %s %s", SAMPLE, src);
	return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_all_known, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_file_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_db_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nothing_known, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
