/*
 * Unit tests for repo/readback.c: a file of several units read back in
 * order, whole-file hash and size; damaged chunks named by place and offset,
 * all of them or the first; a chunk no index holds; per-chunk checks.
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

#include "repo/readback.h"
#include "repo/repo.h"
#include "util/fsutil.h"
#include "util/xalloc.h"

#include "tmp_repo.h"

#define NCHUNKS 200
#define CHUNK (64u * 1024) /* 12.5 MiB in all: several units */

static uint8_t *content;               /* NCHUNKS * CHUNK bytes */
static uint8_t hashes[NCHUNKS * SHA256_LEN];

/* Bytes that do not compress, so each is found in the pack as it is. */
static void fill(uint8_t *p, size_t n, uint64_t seed)
{
	size_t i;

	for (i = 0; i < n; i++) {
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		p[i] = (uint8_t)(seed >> 24);
	}
}

/* The repository holding the chunks of content, one after another. */
static int fill_repo(void **state)
{
	struct cv_err e = { 0 };
	struct repo r;
	size_t i;

	if (setup(state) || repo_open(dir, 1, &r, &e))
		return -1;
	content = xmalloc((size_t)NCHUNKS * CHUNK);
	fill(content, (size_t)NCHUNKS * CHUNK, 88172645463325252ull);
	for (i = 0; i < NCHUNKS; i++) {
		sha256(content + i * CHUNK, CHUNK, hashes + i * SHA256_LEN);
		if (repo_put(&r, hashes + i * SHA256_LEN, content + i * CHUNK, CHUNK, &e))
			return -1;
	}
	if (repo_flush(&r, &e) || repo_close(&r, &e))
		return -1;
	return 0;
}

struct sink {
	uint8_t *out;
	uint64_t hashed;
	int calls;
};

static int put(void *ctx, const void *p, size_t n, uint64_t off, struct cv_err *e)
{
	struct sink *s = ctx;

	assert_true(off + n <= (uint64_t)NCHUNKS * CHUNK);
	memcpy(s->out + off, p, n);
	return 0;
}

static void hashed(void *ctx, uint64_t bytes)
{
	struct sink *s = ctx;

	s->hashed += bytes;
	s->calls++;
}

/* Flip one byte in the middle of chunk i where the pack holds it. */
static void damage(struct repo *r, size_t i)
{
	const uint8_t *want = content + i * CHUNK + CHUNK / 2;
	char path[512];
	uint8_t *p;
	size_t n, k;
	FILE *f;

	snprintf(path, sizeof(path), "%s/packs/%s.pack", dir, r->packs[0]);
	f = fopen(path, "r+b");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = (size_t)ftell(f);
	rewind(f);
	p = xmalloc(n);
	assert_int_equal(fread(p, 1, n, f), n);
	for (k = 0; k + 64 <= n && memcmp(p + k, want, 64); k++)
		;
	assert_true(k + 64 <= n);
	fseek(f, (long)k, SEEK_SET);
	fputc(p[k] ^ 0x40, f);
	fclose(f);
	free(p);
}

/* What each test reads with: the repository, a pass over every chunk. */
struct fx {
	struct repo r;
	struct readback rb;
	struct sink s;
	struct cv_err e;
};

static int open_fx(void **state)
{
	struct fx *f;

	if (fill_repo(state))
		return -1;
	f = xcalloc(1, sizeof(*f));
	if (repo_open(dir, 0, &f->r, &f->e))
		return -1;
	f->s.out = xcalloc((size_t)NCHUNKS * CHUNK, 1);
	f->rb.r = &f->r;
	f->rb.hashes = hashes;
	f->rb.n = NCHUNKS;
	f->rb.put = put;
	f->rb.hashed = hashed;
	f->rb.ctx = &f->s;
	*state = f;
	return 0;
}

static int close_fx(void **state)
{
	struct fx *f = *state;

	readback_release(&f->rb);
	free(f->s.out);
	repo_close(&f->r, NULL);
	free(f);
	free(content);
	return teardown(state);
}

/* Failure k names chunk idx, at its offset. */
static void assert_fail_at(const struct readback *rb, size_t k, size_t idx)
{
	assert_true(k < rb->nfails);
	assert_int_equal(rb->fails[k].idx, idx);
	assert_int_equal(rb->fails[k].off, (uint64_t)idx * CHUNK);
}

/* Whether the pass's whole-file hash is the content's. */
static int whole_matches(const struct readback *rb)
{
	uint8_t sum[SHA256_LEN];

	sha256(content, (size_t)NCHUNKS * CHUNK, sum);
	return !memcmp(rb->sha, sum, SHA256_LEN);
}

static void test_round_trip(void **state)
{
	struct fx *f = *state;

	f->rb.check_all = 1;
	assert_int_equal(readback_run(&f->rb, &f->e), 0);
	assert_int_equal(f->rb.nfails, 0);
	assert_int_equal(f->rb.size, (uint64_t)NCHUNKS * CHUNK);
	assert_memory_equal(f->s.out, content, (size_t)NCHUNKS * CHUNK);
	assert_true(whole_matches(&f->rb));
	assert_int_equal(f->s.hashed, (uint64_t)NCHUNKS * CHUNK);
	assert_true(f->s.calls >= 3); /* in units, not at once */
}

/* Going on: both damaged chunks named at their offsets; the hash is off. */
static void test_keep_going(void **state)
{
	struct fx *f = *state;

	damage(&f->r, 3);
	damage(&f->r, 150);
	f->rb.check_all = 1;
	f->rb.keep_going = 1;
	f->rb.put = NULL; /* a bad chunk would shift what it writes */
	assert_int_equal(readback_run(&f->rb, &f->e), 0);
	assert_int_equal(f->rb.nfails, 2);
	assert_fail_at(&f->rb, 0, 3);
	assert_fail_at(&f->rb, 1, 150);
	assert_non_null(strstr(f->rb.fails[1].err.msg, "wrong content"));
	assert_false(whole_matches(&f->rb));
}

/* Stopping: the first damaged chunk, in file order, is the error. */
static void test_stop_at_first(void **state)
{
	struct fx *f = *state;

	damage(&f->r, 120);
	damage(&f->r, 121);
	f->rb.check_all = 1;
	assert_int_equal(readback_run(&f->rb, &f->e), CV_ECORRUPT);
	assert_int_equal(f->rb.nfails, 1);
	assert_fail_at(&f->rb, 0, 120);
	assert_non_null(strstr(f->e.msg, "wrong content"));
}

/*
 * Only the chunks marked are hashed: a damaged one that is not is read as
 * it is (and written, in its unit), one that is ends the pass.
 */
static void test_checks_marked(void **state)
{
	struct fx *f = *state;
	uint8_t check[NCHUNKS] = { 0 };

	damage(&f->r, 10);
	damage(&f->r, 100); /* in the second unit */
	check[100] = 1;
	f->rb.check = check;
	assert_int_equal(readback_run(&f->rb, &f->e), CV_ECORRUPT);
	assert_int_equal(f->rb.nfails, 1);
	assert_fail_at(&f->rb, 0, 100);
	assert_int_not_equal(memcmp(f->s.out + 10 * CHUNK, content + 10 * CHUNK, CHUNK), 0);
	assert_memory_equal(f->s.out + 11 * CHUNK, content + 11 * CHUNK, CHUNK);
}

/* A chunk no index holds: nothing read, its place named. */
static void test_not_found(void **state)
{
	struct fx *f = *state;
	uint8_t list[3 * SHA256_LEN];

	memcpy(list, hashes, 2 * SHA256_LEN);
	memset(list + 2 * SHA256_LEN, 0x5a, SHA256_LEN);
	f->rb.hashes = list;
	f->rb.n = 3;
	assert_int_equal(readback_run(&f->rb, &f->e), CV_ECORRUPT);
	assert_non_null(strstr(f->e.msg, "not in the repository"));
	assert_int_equal(f->rb.nfails, 1);
	assert_fail_at(&f->rb, 0, 2);
	assert_int_equal(f->s.hashed, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, open_fx, close_fx),
		cmocka_unit_test_setup_teardown(test_keep_going, open_fx, close_fx),
		cmocka_unit_test_setup_teardown(test_stop_at_first, open_fx, close_fx),
		cmocka_unit_test_setup_teardown(test_checks_marked, open_fx, close_fx),
		cmocka_unit_test_setup_teardown(test_not_found, open_fx, close_fx),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
