/*
 * Unit tests for util/ostream.c: atomic output files, zstd framing, and that
 * an abandoned or failed stream leaves nothing behind.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "util/ostream.h"

static char dir[64], path[128];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/cv-test-os-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	struct dirent *de;
	char p[512];
	DIR *d = opendir(dir);

	(void)state;
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.') {
			snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
			unlink(p);
		}
	if (d)
		closedir(d);
	rmdir(dir);
	return 0;
}

static size_t count_files(void)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	size_t n = 0;

	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static char *slurp(const char *p, size_t *n)
{
	FILE *f = fopen(p, "rb");
	char *buf;
	long len;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)len + 1);
	*n = fread(buf, 1, (size_t)len, f);
	fclose(f);
	return buf;
}

static void test_plain_atomic(void **state)
{
	struct ostream os;
	struct cv_err e = { 0 };
	size_t n;
	char *got;

	(void)state;
	snprintf(path, sizeof(path), "%s/out.jsonl", dir);
	assert_int_equal(os_open(&os, path, -1, &e), 0);
	os_write(&os, "hello ", 6);
	/* not visible under its name until closed */
	assert_int_equal(access(path, F_OK), -1);
	os_write(&os, "world\n", 6);
	assert_int_equal(os_close(&os, 0, &e), 0);
	got = slurp(path, &n);
	assert_int_equal(n, 12);
	assert_memory_equal(got, "hello world\n", 12);
	free(got);
	assert_int_equal(count_files(), 1);
}

static void test_abandon(void **state)
{
	struct ostream os;
	struct cv_err e = { 0 };

	(void)state;
	snprintf(path, sizeof(path), "%s/gone.jsonl", dir);
	assert_int_equal(os_open(&os, path, -1, &e), 0);
	os_write(&os, "partial", 7);
	assert_int_equal(os_close(&os, 1, &e), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(count_files(), 1); /* only out.jsonl of the last test */
}

static void test_zstd(void **state)
{
	struct ostream os;
	struct cv_err e = { 0 };
	char *z, *back, *plain = malloc(3u << 20);
	size_t n, i, r;
	unsigned long long size;

	(void)state;
	for (i = 0; i < (3u << 20); i++)
		plain[i] = (char)('a' + i % 23);
	snprintf(path, sizeof(path), "%s/out.jsonl.zst", dir);
	assert_int_equal(os_open(&os, path, -1, &e), 0);
	os_write(&os, plain, 1000);
	os_write(&os, plain + 1000, (3u << 20) - 1000);
	assert_int_equal(os_close(&os, 0, &e), 0);
	z = slurp(path, &n);
	size = ZSTD_getFrameContentSize(z, n);
	assert_true(size == ZSTD_CONTENTSIZE_UNKNOWN || size == (3u << 20));
	back = malloc(3u << 20);
	r = ZSTD_decompress(back, 3u << 20, z, n);
	assert_false(ZSTD_isError(r));
	assert_int_equal(r, 3u << 20);
	assert_memory_equal(back, plain, 3u << 20);
	free(back);
	free(z);
	free(plain);
}

static void test_open_fails(void **state)
{
	struct ostream os;
	struct cv_err e = { 0 };

	(void)state;
	assert_int_equal(os_open(&os, "/nonexistent-dir/x.jsonl", -1, &e), CV_EIO);
	assert_non_null(strstr(e.msg, "/nonexistent-dir/x.jsonl.tmp."));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_atomic),
		cmocka_unit_test(test_abandon),
		cmocka_unit_test(test_zstd),
		cmocka_unit_test(test_open_fails),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
