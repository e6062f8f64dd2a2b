/*
 * Unit tests for repo/fpcache.c: fingerprints written and read back, given
 * only for the very chunk list they were taken with and the same key; an
 * entry carried over; the last snapshot's cache replaced, and those of gone
 * snapshots swept; a damaged, truncated or inconsistent cache ignored; the
 * fingerprint depends on every byte, the length and the key; the key made
 * once, 0600, and read back.
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

#include "repo/fpcache.h"
#include "repo/repo.h"
#include "util/bytes.h"
#include "util/fsutil.h"
#include "util/sha256.h"

#include "tmp_repo.h"

/* A key of n repeated (the id as fp_key_load would set it) */
static struct fp_key key_of(int n)
{
	struct fp_key k;
	uint8_t sum[SHA256_LEN];

	memset(k.secret, n, sizeof(k.secret));
	sha256(k.secret, sizeof(k.secret), sum);
	memcpy(k.id, sum, FP_KEY_ID);
	return k;
}

/* n hashes and fingerprints, each made of its index and salt */
static void make(uint8_t *list, uint8_t *fps, size_t n, int salt)
{
	size_t i;

	for (i = 0; i < n; i++) {
		memset(list + i * SHA256_LEN, (int)(i * 7 + (size_t)salt), SHA256_LEN);
		memset(fps + i * FP_LEN, (int)(i * 13 + (size_t)salt), FP_LEN);
	}
}

static void write_cache(struct repo *r, const char *snap, const char *prev,
			const struct fp_key *k, const uint8_t *list, const uint8_t *fps,
			size_t n)
{
	struct fp_writer w;
	struct cv_err e = { 0 };

	fpw_init(&w, k);
	fpw_add(&w, "chroma.sqlite3", list, n, fps);
	fpw_add(&w, "c/data_level0.bin", list, 1, fps);
	assert_int_equal(fpw_commit(r, &w, snap, prev, &e), 0);
	fpw_release(&w);
}

static int swept;

static void count_swept(const char *path)
{
	assert_non_null(strstr(path, "/cache/S1.fp"));
	swept++;
}

static char *cache_path(const char *snap)
{
	static char p[256];

	snprintf(p, sizeof(p), "%s/cache/%s.fp", dir, snap);
	return p;
}

static void test_round_trip(void **state)
{
	uint8_t list[4 * SHA256_LEN], other[4 * SHA256_LEN], fps[4 * FP_LEN],
		ofps[4 * FP_LEN];
	struct fp_key k = key_of(1), k2 = key_of(2);
	struct fp_cache c;
	struct repo r;
	struct cv_err e = { 0 };
	const uint8_t *got;

	(void)state;
	make(list, fps, 4, 1);
	make(other, ofps, 4, 2);
	assert_int_equal(repo_open(dir, STORE_APPEND, &r, &e), 0);
	write_cache(&r, "S1", NULL, &k, list, fps, 4);
	/* taken with another key: not used */
	assert_int_not_equal(fpc_load(&r, "S1", &k2, &c), 0);
	assert_int_equal(c.n, 0);
	fpc_release(&c);
	assert_int_equal(fpc_load(&r, "S1", &k, &c), 0);
	assert_int_equal(c.n, 2);
	got = fpc_find(&c, "chroma.sqlite3", list, 4);
	assert_non_null(got);
	assert_memory_equal(got, fps, sizeof(fps));
	got = fpc_find(&c, "c/data_level0.bin", list, 1);
	assert_non_null(got);
	assert_memory_equal(got, fps, FP_LEN);
	/* only for the list they were taken with */
	assert_null(fpc_find(&c, "chroma.sqlite3", other, 4));
	assert_null(fpc_find(&c, "chroma.sqlite3", list, 3));
	memcpy(other, list, 3 * SHA256_LEN);
	assert_null(fpc_find(&c, "chroma.sqlite3", other, 4));
	assert_null(fpc_find(&c, "c/data_level0.bin", list, 4));
	assert_null(fpc_find(&c, "nothing", list, 4));
	fpc_release(&c);
	/* no cache: empty */
	assert_int_not_equal(fpc_load(&r, "S9", &k, &c), 0);
	assert_int_equal(c.n, 0);
	assert_null(fpc_find(&c, "chroma.sqlite3", list, 4));
	fpc_release(&c);
	assert_int_not_equal(fpc_load(&r, NULL, &k, &c), 0);
	fpc_release(&c);
	repo_close(&r, NULL);
}

static void test_copy_replaces_last(void **state)
{
	uint8_t list[4 * SHA256_LEN], fps[4 * FP_LEN];
	struct fp_key k = key_of(7);
	struct fp_cache c, c2;
	struct fp_writer w;
	struct repo r;
	struct cv_err e = { 0 };
	struct stat st;

	(void)state;
	make(list, fps, 4, 3);
	assert_int_equal(repo_open(dir, STORE_APPEND, &r, &e), 0);
	write_cache(&r, "S1", NULL, &k, list, fps, 4);
	assert_int_equal(fpc_load(&r, "S1", &k, &c), 0);
	fpw_init(&w, &k);
	fpw_copy(&w, fpc_entry(&c, "chroma.sqlite3"));
	assert_int_equal(fpw_commit(&r, &w, "S2", "S1", &e), 0);
	fpw_release(&w);
	assert_int_not_equal(stat(cache_path("S1"), &st), 0);
	assert_int_equal(fpc_load(&r, "S2", &k, &c2), 0);
	assert_int_equal(c2.n, 1);
	assert_non_null(fpc_find(&c2, "chroma.sqlite3", list, 4));
	assert_null(fpc_entry(&c2, "c/data_level0.bin"));
	fpc_release(&c);
	fpc_release(&c2);
	/* a removed snapshot's cache goes with it */
	fpc_remove(&r, "S2");
	assert_int_not_equal(stat(cache_path("S2"), &st), 0);
	repo_close(&r, NULL);
}

static void rewrite(const char *path, const uint8_t *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	fclose(f);
}

static uint8_t *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	*n = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(*n);
	assert_int_equal(fread(buf, 1, *n, f), *n);
	fclose(f);
	return buf;
}

static void test_damage_ignored(void **state)
{
	uint8_t list[4 * SHA256_LEN], fps[4 * FP_LEN], *buf;
	struct fp_key k = key_of(5);
	struct fp_cache c;
	struct repo r;
	struct cv_err e = { 0 };
	size_t n, at;
	const size_t count_at = 8 + FP_KEY_ID;

	(void)state;
	make(list, fps, 4, 5);
	assert_int_equal(repo_open(dir, STORE_APPEND, &r, &e), 0);
	write_cache(&r, "S1", NULL, &k, list, fps, 4);
	buf = slurp(cache_path("S1"), &n);
	/* any byte flipped */
	for (at = 0; at < n; at += 7) {
		buf[at] ^= 0x40;
		rewrite(cache_path("S1"), buf, n);
		assert_int_not_equal(fpc_load(&r, "S1", &k, &c), 0);
		assert_int_equal(c.n, 0);
		fpc_release(&c);
		buf[at] ^= 0x40;
	}
	/* cut short */
	rewrite(cache_path("S1"), buf, n - 1);
	assert_int_not_equal(fpc_load(&r, "S1", &k, &c), 0);
	fpc_release(&c);
	/* checksummed, but it claims more files than it holds: a few, or more
	 * than its bytes could (not allocated for) */
	store_u32(buf + count_at, 0xffffffffu);
	sha256(buf, n - SHA256_LEN, buf + n - SHA256_LEN);
	rewrite(cache_path("S1"), buf, n);
	assert_int_not_equal(fpc_load(&r, "S1", &k, &c), 0);
	fpc_release(&c);
	store_u32(buf + count_at, 3);
	sha256(buf, n - SHA256_LEN, buf + n - SHA256_LEN);
	rewrite(cache_path("S1"), buf, n);
	assert_int_not_equal(fpc_load(&r, "S1", &k, &c), 0);
	assert_int_equal(c.n, 0);
	fpc_release(&c);
	/* and as written, it loads */
	store_u32(buf + count_at, 2);
	sha256(buf, n - SHA256_LEN, buf + n - SHA256_LEN);
	rewrite(cache_path("S1"), buf, n);
	assert_int_equal(fpc_load(&r, "S1", &k, &c), 0);
	fpc_release(&c);
	free(buf);
	repo_close(&r, NULL);
}

static void test_fingerprint(void **state)
{
	struct fp_key k = key_of(9), k2 = key_of(10);
	uint8_t page[4096], a[FP_LEN], b[FP_LEN];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(page); i++)
		page[i] = (uint8_t)(i * 31);
	fp_of(&k, page, sizeof(page), a);
	fp_of(&k, page, sizeof(page), b);
	assert_memory_equal(a, b, FP_LEN);
	fp_of(&k2, page, sizeof(page), b);
	assert_memory_not_equal(a, b, FP_LEN);
	k2 = k;
	k2.secret[FP_SECRET - 1] ^= 1;
	fp_of(&k2, page, sizeof(page), b);
	assert_memory_not_equal(a, b, FP_LEN);
	fp_of(&k, page, sizeof(page) - 1, b);
	assert_memory_not_equal(a, b, FP_LEN);
	for (i = 0; i < sizeof(page); i += 509) {
		page[i] ^= 1;
		fp_of(&k, page, sizeof(page), b);
		assert_memory_not_equal(a, b, FP_LEN);
		page[i] ^= 1;
	}
}

/* Caches whose snapshot is gone are named, then removed; others stay. */
static void test_sweep(void **state)
{
	uint8_t list[SHA256_LEN], fps[FP_LEN];
	struct fp_key k = key_of(3);
	struct repo r;
	struct cv_err e = { 0 };
	struct stat st;
	char p[256];

	(void)state;
	make(list, fps, 1, 4);
	assert_int_equal(repo_open(dir, STORE_APPEND, &r, &e), 0);
	write_cache(&r, "S1", NULL, &k, list, fps, 1);
	write_cache(&r, "S2", NULL, &k, list, fps, 1);
	assert_int_equal(store_put(&r.st, "snapshots/S2.json", "{}", 2, &e), 0);
	swept = 0;
	fpc_sweep(&r, count_swept);
	assert_int_equal(swept, 1);
	assert_int_equal(stat(cache_path("S1"), &st), 0);
	fpc_sweep(&r, NULL);
	assert_int_not_equal(stat(cache_path("S1"), &st), 0);
	assert_int_equal(stat(cache_path("S2"), &st), 0);
	snprintf(p, sizeof(p), "%s/snapshots/S2.json", dir);
	unlink(p);
	repo_close(&r, NULL);
}

static void test_key(void **state)
{
	struct fp_key k1, k2;
	struct cv_err e = { 0 }, warn = { 0 };
	struct stat st;
	char home[128], path[256], bad[260];

	(void)state;
	snprintf(home, sizeof(home), "%s/xdg", dir);
	setenv("XDG_CONFIG_HOME", home, 1);
	assert_int_equal(fp_key_load(&k1, &warn, &e), 0);
	assert_int_equal(warn.code, 0);
	snprintf(path, sizeof(path), "%s/chromavault/fingerprint.key", home);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, FP_SECRET);
	assert_int_equal(fp_key_load(&k2, &warn, &e), 0); /* read back, not made again */
	assert_memory_equal(&k1, &k2, sizeof(k1));
	assert_int_equal(warn.code, 0);
	/* not a key: moved aside, with a warning, and a new key made */
	assert_int_equal(truncate(path, 10), 0);
	assert_int_equal(fp_key_load(&k2, &warn, &e), 0);
	assert_int_not_equal(warn.code, 0);
	assert_non_null(strstr(warn.msg, "not a fingerprint key"));
	assert_non_null(strstr(warn.msg, "fingerprint.key.bad"));
	assert_memory_not_equal(&k1, &k2, sizeof(k1));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, FP_SECRET);
	snprintf(bad, sizeof(bad), "%s.bad", path);
	assert_int_equal(stat(bad, &st), 0);
	assert_int_equal(st.st_size, 10);
	unsetenv("XDG_CONFIG_HOME");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_replaces_last, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damage_ignored, setup, teardown),
		cmocka_unit_test(test_fingerprint),
		cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
