/*
 * Unit tests for util/siphash.c (vectors computed with `openssl mac
 * SIPHASH`, key 00..0f, message 00..len-1) and chroma/idmap.c: ids in any
 * order, the guess by label, the sparse form, repeated labels and ids.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chroma/idmap.h"
#include "util/siphash.h"

static void test_siphash_vectors(void **state)
{
	static const struct { size_t len; uint64_t want; } v[] = {
		{ 0, 0x726fdb47dd0e0e31ull }, { 1, 0x74f839c593dc67fdull },
		{ 7, 0xab0200f58b01d137ull }, { 8, 0x93f5f5799a932462ull },
		{ 15, 0xa129ca6149be45e5ull }, { 16, 0x3f2acc7f57c29bdbull },
		{ 36, 0x314dffbe0815a3b4ull },
	};
	struct siphash_key key = { 0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull };
	uint8_t msg[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		assert_int_equal(siphash24(&key, msg, v[i].len), v[i].want);
}

static void id_of(char *buf, size_t cap, uint64_t i)
{
	snprintf(buf, cap, "rec-%08llu", (unsigned long long)i);
}

/* n ids, label = 1 + i * stride, added in a scrambled order. */
static void fill(struct idmap *m, uint64_t max_ids, size_t n, uint64_t stride)
{
	struct siphash_key key;
	char id[32];
	size_t i, k;

	siphash_random_key(&key);
	idmap_init(m, &key, max_ids);
	for (i = 0; i < n; i++) {
		k = (i * 7919) % n; /* 7919 is prime: a permutation of 0..n-1 */
		id_of(id, sizeof(id), k);
		assert_int_equal(idmap_add(m, id, strlen(id), 1 + k * stride), 0);
	}
	assert_int_equal(idmap_finish(m), 0);
}

static void check_all(const struct idmap *m, size_t n, uint64_t stride, int guess)
{
	char id[32];
	uint64_t label = 0, fp;
	size_t i;

	for (i = 0; i < n; i++) {
		id_of(id, sizeof(id), i);
		fp = idmap_fp(m, id, strlen(id));
		assert_true(idmap_find(m, fp, &label));
		assert_int_equal(label, 1 + i * stride);
		assert_int_equal(idmap_at(m, label, fp), guess);
		assert_false(idmap_at(m, label + 1, fp));
	}
	id_of(id, sizeof(id), n);
	assert_false(idmap_find(m, idmap_fp(m, id, strlen(id)), &label));
}

static void test_dense(void **state)
{
	struct idmap m;

	(void)state;
	fill(&m, 10000, 10000, 1);
	assert_null(m.label);
	assert_int_equal(m.n, 10000);
	check_all(&m, 10000, 1, 1);
	idmap_release(&m);
}

/* Labels past the reserved range: the same answers from (fp, label) pairs. */
static void test_sparse(void **state)
{
	struct idmap m;

	(void)state;
	fill(&m, 100, 5000, 1000003);
	assert_non_null(m.label);
	check_all(&m, 5000, 1000003, 0);
	idmap_release(&m);
	fill(&m, 0, 100, 1); /* 64 labels reserved: label 65 turns it sparse */
	assert_non_null(m.label);
	check_all(&m, 100, 1, 0);
	idmap_release(&m);
}

static void test_repeats(void **state)
{
	struct siphash_key key = { 1, 2 };
	struct idmap m;

	(void)state;
	idmap_init(&m, &key, 10);
	assert_int_equal(idmap_add(&m, "a", 1, 1), 0);
	assert_int_equal(idmap_add(&m, "b", 1, 1), 1);  /* label 1 taken */
	assert_int_equal(idmap_add(&m, "a", 1, 2), 0);
	assert_int_equal(idmap_finish(&m), 1);          /* "a" twice */
	idmap_release(&m);
	idmap_init(&m, &key, 10);
	assert_int_equal(idmap_finish(&m), 0);          /* empty */
	assert_false(idmap_find(&m, idmap_fp(&m, "a", 1), &(uint64_t){ 0 }));
	idmap_release(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_siphash_vectors),
		cmocka_unit_test(test_dense),
		cmocka_unit_test(test_sparse),
		cmocka_unit_test(test_repeats),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
