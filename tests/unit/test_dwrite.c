/*
 * Unit tests for util/dwrite.c: files written straight to the disk, and
 * with plain writes, hold exactly the bytes appended, whatever the sizes of
 * the appends and of the tail; a full disk is an error, not a short file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/dwrite.h"

static char dir[64], path[128];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/cv-test-dw-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/out", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	rmdir(dir);
	return 0;
}

/* Byte i of the test stream: no period that a misplaced block could hide. */
static unsigned char byte_at(uint64_t i)
{
	return (unsigned char)((i * 2654435761u) >> 13 ^ i >> 20);
}

/* The file holds exactly bytes 0..n of the stream. */
static void expect_file(uint64_t n)
{
	unsigned char *buf = malloc(1 << 16);
	FILE *f = fopen(path, "rb");
	uint64_t at = 0;
	struct stat st;
	size_t got, i;

	assert_non_null(f);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal((uint64_t)st.st_size, n);
	while ((got = fread(buf, 1, 1 << 16, f)) > 0) {
		for (i = 0; i < got; i++)
			assert_int_equal(buf[i], byte_at(at + i));
		at += got;
	}
	assert_int_equal(at, n);
	fclose(f);
	free(buf);
}

/* Append total bytes in pieces of the given sizes, over and over. */
static void write_stream(struct dwriter *w, uint64_t total, const size_t *pieces,
			 size_t npieces)
{
	unsigned char *buf = malloc(DW_BUF + 4097);
	uint64_t at = 0;
	size_t k = 0, n, i;

	while (at < total) {
		n = pieces[k++ % npieces];
		if (n > total - at)
			n = (size_t)(total - at);
		for (i = 0; i < n; i++)
			buf[i] = byte_at(at + i);
		assert_int_equal(dw_write(w, buf, n), 0);
		at += n;
	}
	assert_int_equal(w->size, total);
	free(buf);
}

static void write_and_check(int plain, uint64_t total, const size_t *pieces,
			    size_t npieces)
{
	struct dwriter w;

	unlink(path);
	assert_int_equal(dw_open(&w, path, O_EXCL), 0);
	if (plain && w.direct) { /* as where the filesystem refuses O_DIRECT */
		fcntl(w.fd, F_SETFL, fcntl(w.fd, F_GETFL) & ~O_DIRECT);
		w.direct = 0;
	}
	write_stream(&w, total, pieces, npieces);
	assert_int_equal(dw_finish(&w), 0);
	dw_release(&w);
	assert_int_equal(fsync(w.fd), 0);
	assert_int_equal(close(w.fd), 0);
	expect_file(total);
}

static void test_sizes(void **state)
{
	static const size_t odd[] = { 1, 4095, 4097, 100000, DW_BUF - 3, 7 };
	static const size_t whole[] = { DW_BUF };
	static const size_t big[] = { DW_BUF + 4097, 3 };
	static const uint64_t totals[] = {
		0, 1, DW_BLOCK - 1, DW_BLOCK, DW_BLOCK + 1, DW_BUF - 1, DW_BUF,
		DW_BUF + 1, 3ull * DW_BUF + 12345,
	};

	(void)state;
	for (int plain = 0; plain <= 1; plain++) {
		for (size_t t = 0; t < sizeof(totals) / sizeof(totals[0]); t++) {
			write_and_check(plain, totals[t], odd, 6);
			write_and_check(plain, totals[t], whole, 1);
			write_and_check(plain, totals[t], big, 2);
		}
	}
}

/* An existing name is refused under O_EXCL and nothing is written to it. */
static void test_excl(void **state)
{
	struct dwriter w;
	static const size_t one[] = { 10 };

	(void)state;
	write_and_check(0, 10, one, 1);
	assert_int_equal(dw_open(&w, path, O_EXCL), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(w.fd, -1);
	expect_file(10);
}

/* A full disk: /dev/full refuses every write with ENOSPC. */
static void test_full_disk(void **state)
{
	struct dwriter w;
	char small[100] = { 0 };

	(void)state;
	if (access("/dev/full", W_OK)) {
		skip();
		return;
	}
	assert_int_equal(dw_open(&w, "/dev/full", O_TRUNC), 0);
	if (dw_write(&w, small, sizeof(small)) == 0)
		assert_int_equal(dw_finish(&w), -1);
	assert_int_equal(errno, ENOSPC);
	dw_release(&w);
	close(w.fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_excl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_disk, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
