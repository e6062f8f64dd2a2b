/*
 * Unit tests for cli/source.c: cdp's location spellings.
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

#include "cli/source.h"

static char dir[64];

static int setup(void **state)
{
	char p[128];
	FILE *f;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/cv-test-src-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(p, sizeof(p), "%s/chroma.sqlite3", dir);
	f = fopen(p, "w");
	if (!f)
		return -1;
	fclose(f);
	return 0;
}

static int teardown(void **state)
{
	char p[128];

	(void)state;
	snprintf(p, sizeof(p), "%s/chroma.sqlite3", dir);
	unlink(p);
	rmdir(dir);
	return 0;
}

static void test_file_dir_and_collection(void **state)
{
	struct cv_source s;
	struct cv_err e = { 0 };
	char spec[256];

	(void)state;
	snprintf(spec, sizeof(spec), "file://%s/", dir);
	assert_int_equal(cv_source_parse(spec, &s, &e), 0);
	assert_int_equal(s.kind, SRC_FILE);
	assert_string_equal(s.path, dir);
	assert_null(s.collection);
	cv_source_release(&s);

	snprintf(spec, sizeof(spec), "file://%s/my%%20docs?tenant=t1&database=d1", dir);
	assert_int_equal(cv_source_parse(spec, &s, &e), 0);
	assert_string_equal(s.path, dir);
	assert_string_equal(s.collection, "my docs");
	assert_string_equal(s.tenant, "t1");
	assert_string_equal(s.database, "d1");
	cv_source_release(&s);
}

static void test_relative(void **state)
{
	struct cv_source s;
	struct cv_err e = { 0 };

	(void)state;
	assert_int_equal(chdir("/tmp"), 0);
	assert_int_equal(cv_source_parse("file://cv-test-src-nope/coll", &s, &e), 0);
	assert_string_equal(s.path, "cv-test-src-nope/coll");
	assert_null(s.collection);
	cv_source_release(&s);
}

static void test_http(void **state)
{
	struct cv_source s;
	struct cv_err e = { 0 };

	(void)state;
	assert_int_equal(cv_source_parse("http://u:p@host:8000/coll?tenant=t", &s, &e), 0);
	assert_int_equal(s.kind, SRC_HTTP);
	assert_string_equal(s.base_url, "http://u:p@host:8000");
	assert_string_equal(s.collection, "coll");
	assert_string_equal(s.tenant, "t");
	cv_source_release(&s);
	assert_int_equal(cv_source_parse("https://host", &s, &e), 0);
	assert_null(s.collection);
	cv_source_release(&s);
}

/* A plain path is a directory, taken as written (no %-decoding). */
static void test_plain_path(void **state)
{
	struct cv_source s;
	struct cv_err e = { 0 };

	(void)state;
	assert_int_equal(cv_source_parse("/plain/my%20dir/?tenant=t", &s, &e), 0);
	assert_int_equal(s.kind, SRC_FILE);
	assert_string_equal(s.path, "/plain/my%20dir");
	assert_string_equal(s.tenant, "t");
	assert_null(s.collection);
	cv_source_release(&s);
}

static void test_bad(void **state)
{
	struct cv_source s;
	struct cv_err e = { 0 };

	(void)state;
	assert_int_equal(cv_source_parse("ftp://h/x", &s, &e), CV_EUSAGE);
	cv_err_clear(&e);
	assert_int_equal(cv_source_parse("file://", &s, &e), CV_EUSAGE);
	cv_err_clear(&e);
	assert_int_equal(cv_source_parse("http://", &s, &e), CV_EUSAGE);
	cv_err_clear(&e);
	assert_int_equal(cv_source_parse("http://h/a/b", &s, &e), CV_EUSAGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_dir_and_collection),
		cmocka_unit_test(test_relative),
		cmocka_unit_test(test_http),
		cmocka_unit_test(test_plain_path),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
