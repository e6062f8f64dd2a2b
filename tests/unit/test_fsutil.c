/*
 * Unit tests for util/fsutil.c's page_in: what of a file is out of the page
 * cache is read in, and only that; and mem_available. The file is put out of the cache with
 * POSIX_FADV_DONTNEED once written out; where the filesystem keeps it
 * anyway (tmpfs), the test says it is skipped.
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
#include <sys/mman.h>
#include <unistd.h>

#include "util/fsutil.h"

#define FILE_MB 8
#define MB (1u << 20)

static char dir[64], path[96];
static int fd = -1;

static int setup(void **state)
{
	char *buf = malloc(MB);
	int i, ok = 1;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/cv-test-fsutil-XXXXXX");
	if (!buf || !mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/f", dir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	for (i = 0; fd >= 0 && ok && i < FILE_MB; i++) {
		memset(buf, 'a' + i, MB);
		ok = write(fd, buf, MB) == (ssize_t)MB;
	}
	free(buf);
	return fd >= 0 && ok && !fsync(fd) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	if (fd >= 0)
		close(fd);
	fd = -1;
	rm_tree(dir);
	return 0;
}

/* How many bytes of [off, off + len) the page cache holds. */
static uint64_t resident(uint64_t off, size_t len)
{
	size_t psz = (size_t)sysconf(_SC_PAGESIZE), pages = len / psz, i;
	unsigned char *vec = malloc(pages);
	void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, (off_t)off);
	uint64_t n = 0;

	assert_non_null(vec);
	assert_true(m != MAP_FAILED);
	assert_int_equal(mincore(m, len, vec), 0);
	for (i = 0; i < pages; i++)
		n += (vec[i] & 1) ? psz : 0;
	munmap(m, len);
	free(vec);
	return n;
}

/* The file out of the cache, or skip when the filesystem keeps it there. */
static void evict(void)
{
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	if (resident(0, FILE_MB * MB) == FILE_MB * MB)
		skip(); /* tmpfs: the cache is where the file lives */
}

static void test_reads_what_is_out(void **state)
{
	uint64_t before;

	(void)state;
	evict();
	before = resident(0, FILE_MB * MB);
	assert_int_equal(page_in(fd, FILE_MB * MB), FILE_MB * MB - before);
	assert_int_equal(resident(0, FILE_MB * MB), FILE_MB * MB);
	assert_int_equal(page_in(fd, FILE_MB * MB), 0); /* all there now */
}

/* A part already in the cache is not read again. */
static void test_skips_what_is_in(void **state)
{
	char b[4096];
	uint64_t before;
	int i;

	(void)state;
	evict();
	for (i = 0; i < 256; i++) /* the third MiB */
		assert_int_equal(pread(fd, b, sizeof(b), 2 * MB + i * sizeof(b)),
				 (ssize_t)sizeof(b));
	assert_int_equal(resident(2 * MB, MB), MB);
	before = resident(0, FILE_MB * MB);
	assert_int_equal(page_in(fd, FILE_MB * MB), FILE_MB * MB - before);
	assert_int_equal(resident(0, FILE_MB * MB), FILE_MB * MB);
}

/*
 * Only the first size bytes are read (the kernel may read ahead past them,
 * which page_in does not count); a file shorter than size is read to its
 * end.
 */
static void test_bounds(void **state)
{
	uint64_t before;

	(void)state;
	evict();
	assert_int_equal(page_in(fd, 0), 0);
	before = resident(0, MB);
	assert_int_equal(page_in(fd, MB), MB - before);
	assert_int_equal(resident(0, MB), MB);
	evict();
	before = resident(0, FILE_MB * MB);
	assert_int_equal(page_in(fd, 2 * FILE_MB * MB), FILE_MB * MB - before);
	assert_int_equal(resident(0, FILE_MB * MB), FILE_MB * MB);
}

/* What is available is known, and no more than the machine has. */
static void test_mem_available(void **state)
{
	uint64_t total = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t n = mem_available();

	(void)state;
	assert_true(n > 0);
	assert_true(n <= total);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reads_what_is_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_skips_what_is_in, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounds, setup, teardown),
		cmocka_unit_test(test_mem_available),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
