/*
 * Unit tests for util/hashset.c: keys of 16 and 32 bytes added once, found
 * again after the table grew, and keys that differ only past the first 8
 * bytes (which pick the slot) told apart.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "util/hashset.h"
#include "util/sha256.h"

static void key(unsigned i, size_t klen, uint8_t *out)
{
	uint8_t sum[SHA256_LEN];
	char text[32];

	snprintf(text, sizeof(text), "id-%u", i);
	sha256(text, strlen(text), sum);
	memcpy(out, sum, klen);
	out[0] |= 1;
}

static void add_and_find(size_t klen)
{
	struct hashset s;
	uint8_t k[SHA256_LEN];
	unsigned i;

	hashset_init(&s, klen);
	for (i = 0; i < 50000; i++) {
		key(i, klen, k);
		assert_int_equal(hashset_add(&s, k), 1);
	}
	assert_int_equal(s.n, 50000);
	assert_true(s.cap >= 2 * s.n);
	for (i = 0; i < 50000; i++) {
		key(i, klen, k);
		assert_true(hashset_has(&s, k));
		assert_int_equal(hashset_add(&s, k), 0);
	}
	for (i = 50000; i < 60000; i++) {
		key(i, klen, k);
		assert_false(hashset_has(&s, k));
	}
	assert_int_equal(s.n, 50000);
	hashset_release(&s);
}

static void test_16_byte_keys(void **state)
{
	(void)state;
	add_and_find(16);
}

static void test_32_byte_keys(void **state)
{
	(void)state;
	add_and_find(SHA256_LEN);
}

static void test_same_slot_bytes(void **state)
{
	struct hashset s;
	uint8_t a[16], b[16];

	(void)state;
	memset(a, 7, sizeof(a));
	memcpy(b, a, sizeof(b));
	b[15] = 8;
	hashset_init(&s, sizeof(a));
	assert_int_equal(hashset_add(&s, a), 1);
	assert_false(hashset_has(&s, b));
	assert_int_equal(hashset_add(&s, b), 1);
	assert_true(hashset_has(&s, a));
	assert_true(hashset_has(&s, b));
	assert_int_equal(s.n, 2);
	hashset_release(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_16_byte_keys),
		cmocka_unit_test(test_32_byte_keys),
		cmocka_unit_test(test_same_slot_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
