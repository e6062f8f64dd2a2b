/*
 * Unit tests for util/lines.c: lines of plain and zstd files, a zstd file
 * cut inside its first or a later frame (an error, not a shorter file),
 * output the decoder holds back at the end, a UTF-8 BOM, the bytes hashed.
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
#include <zstd.h>

#include "util/lines.h"
#include "util/sha256.h"

static char dir[64], path[96], zpath[96];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/cv-test-lines-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/in.jsonl", dir);
	snprintf(zpath, sizeof(zpath), "%s/in.jsonl.zst", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	unlink(zpath);
	return rmdir(dir);
}

static void put(const char *p, const void *data, size_t n)
{
	FILE *f = fopen(p, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* text's n bytes as one zstd frame, appended to out at *len. */
static void add_frame(char *out, size_t *len, size_t cap, const char *text, size_t n)
{
	size_t z = ZSTD_compress(out + *len, cap - *len, text, n, 3);

	assert_false(ZSTD_isError(z));
	*len += z;
}

/* Every line of p: how many, the text of the last; the error's code. */
static int read_all(const char *p, uint64_t *count, char *last, size_t lastcap,
		    struct cv_err *e)
{
	struct lines l;
	const char *s;
	size_t n;
	int rc;

	*count = 0;
	if ((rc = lines_open(&l, p, e)))
		return rc;
	while ((rc = lines_next(&l, &s, &n, e)) == 1) {
		(*count)++;
		snprintf(last, lastcap, "%.*s", (int)n, s);
	}
	lines_close(&l);
	return rc;
}

/* "line 0\nline 1\n..." for count lines; caller frees. */
static char *numbered(unsigned count, size_t *len)
{
	char *t = malloc((size_t)count * 24 + 1);
	size_t n = 0;
	unsigned i;

	assert_non_null(t);
	for (i = 0; i < count; i++)
		n += (size_t)snprintf(t + n, 24, "line %u\n", i);
	*len = n;
	return t;
}

static void test_plain_and_bom(void **state)
{
	struct cv_err e = { 0 };
	uint64_t count;
	char last[64], first[64];
	struct lines l;
	const char *s;
	size_t n;

	(void)state;
	put(path, "\xef\xbb\xbf{\"id\":\"a\"}\nb\nc", 17);
	assert_int_equal(read_all(path, &count, last, sizeof(last), &e), 0);
	assert_int_equal(count, 3);
	assert_string_equal(last, "c");
	assert_int_equal(lines_open(&l, path, &e), 0);
	assert_int_equal(lines_next(&l, &s, &n, &e), 1);
	snprintf(first, sizeof(first), "%.*s", (int)n, s);
	assert_string_equal(first, "{\"id\":\"a\"}"); /* the BOM is gone */
	lines_close(&l);
	put(path, "\xef\xbb\xbf", 3); /* a BOM alone: no line */
	assert_int_equal(read_all(path, &count, last, sizeof(last), &e), 0);
	assert_int_equal(count, 0);
}

static void test_zstd_whole(void **state)
{
	struct cv_err e = { 0 };
	size_t n, cap, len = 0;
	char *text = numbered(400000, &n), *z, last[64];
	uint64_t count;

	(void)state;
	cap = ZSTD_compressBound(n) * 2;
	z = malloc(cap);
	assert_non_null(z);
	add_frame(z, &len, cap, text, n / 2);
	add_frame(z, &len, cap, text + n / 2, n - n / 2);
	put(zpath, z, len);
	/* ~5 MB of text from far less input: output held back is drained */
	assert_int_equal(read_all(zpath, &count, last, sizeof(last), &e), 0);
	assert_int_equal(count, 400000);
	assert_string_equal(last, "line 399999");
	free(z);
	free(text);
}

static void test_zstd_truncated(void **state)
{
	struct cv_err e = { 0 };
	size_t n, cap, len = 0, first, half;
	char *text = numbered(20000, &n), *z, last[64];
	uint64_t count;

	(void)state;
	cap = ZSTD_compressBound(n) * 2;
	z = malloc(cap);
	assert_non_null(z);
	half = (size_t)(strstr(text, "line 10000\n") - text); /* 10000 lines each */
	add_frame(z, &len, cap, text, half);
	first = len;
	add_frame(z, &len, cap, text + half, n - half);
	put(zpath, z, first / 2); /* inside the first frame */
	assert_int_equal(read_all(zpath, &count, last, sizeof(last), &e), CV_ECORRUPT);
	assert_non_null(strstr(e.msg, "zstd input is truncated"));
	assert_non_null(strstr(e.msg, zpath));
	memset(&e, 0, sizeof(e));
	put(zpath, z, first + (len - first) / 2); /* inside the second */
	assert_int_equal(read_all(zpath, &count, last, sizeof(last), &e), CV_ECORRUPT);
	assert_non_null(strstr(e.msg, "zstd input is truncated"));
	memset(&e, 0, sizeof(e));
	put(zpath, z, first); /* where a frame ends: a shorter, valid file */
	assert_int_equal(read_all(zpath, &count, last, sizeof(last), &e), 0);
	assert_int_equal(count, 10000);
	free(z);
	free(text);
}

static void test_hash(void **state)
{
	struct cv_err e = { 0 };
	struct sha256 c;
	struct lines l;
	const char *s;
	size_t n;
	uint8_t got[SHA256_LEN], want[SHA256_LEN];
	static const char data[] = "one\ntwo\nthree";

	(void)state;
	put(path, data, sizeof(data) - 1);
	sha256(data, sizeof(data) - 1, want);
	assert_int_equal(lines_open(&l, path, &e), 0);
	sha256_init(&c);
	l.hash = &c;
	while (lines_next(&l, &s, &n, &e) == 1)
		;
	lines_close(&l);
	sha256_final(&c, got);
	assert_memory_equal(got, want, SHA256_LEN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_plain_and_bom, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zstd_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zstd_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hash, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
