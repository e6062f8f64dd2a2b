/*
 * Unit tests for hnsw/hnsw.c: small index folders written here (header,
 * level-0 slots, lengths, link lists), read back; each kind of damage is
 * reported with the file and offset.
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

#include "hnsw/hnsw.h"

#define DIM 3
#define M 2
#define M0 4
#define SIZE (4 + 4 * M0 + 4 * DIM + 8)

static char dir[64];

struct spec {
	uint32_t n;             /* elements */
	int32_t version;
	uint64_t size_override; /* size_data_per_element, 0: correct */
	int drop_data_bytes;    /* truncate data_level0.bin */
	int link_extra;         /* bytes appended to link_lists.bin */
	int dup_label;          /* element 1 gets element 0's label */
	int deleted;            /* element 1 carries the delete mark */
	uint64_t big_label;     /* element 3's label, when not 0 */
};

static void put(const char *name, const void *p, size_t n)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	fclose(f);
}

static void w64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static void w32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

static void write_index(const struct spec *s)
{
	uint8_t h[100] = { 0 }, data[64 * SIZE] = { 0 }, links[64 * 12] = { 0 };
	float lens[64], v;
	double mult = 1.0;
	uint32_t i, j;
	size_t nl = 0;

	w32(h, (uint32_t)(s->version ? s->version : 1));
	w64(h + 12, 64);
	w64(h + 20, s->n);
	w64(h + 28, s->size_override ? s->size_override : SIZE);
	w64(h + 36, 4 + 4 * M0 + 4 * DIM);
	w64(h + 44, 4 + 4 * M0);
	w32(h + 52, s->n ? 1 : (uint32_t)-1);
	w32(h + 56, s->n ? 0 : UINT32_MAX);
	w64(h + 60, M);
	w64(h + 68, M0);
	w64(h + 76, M);
	memcpy(h + 84, &mult, 8);
	w64(h + 92, 100);
	put("header.bin", h, sizeof(h));
	for (i = 0; i < s->n; i++) {
		uint8_t *slot = data + i * SIZE;

		for (j = 0; j < DIM; j++) {
			v = (float)(i + 1) * 0.5f + (float)j;
			memcpy(slot + 4 + 4 * M0 + 4 * j, &v, 4);
		}
		w64(slot + 4 + 4 * M0 + 4 * DIM, s->dup_label && i == 1 ? 10 :
		    s->big_label && i == 3 ? s->big_label : 10 + i);
		if (s->deleted && i == 1)
			slot[2] = HNSW_DELETE_MARK;
		lens[i] = 2.0f;
		/* element 0 has one upper level: u32 size + (4 + 4*M) bytes */
		w32(links + nl, i == 0 ? 4 + 4 * M : 0);
		nl += 4 + (i == 0 ? 4 + 4 * M : 0);
	}
	put("data_level0.bin", data, s->n * SIZE - (size_t)s->drop_data_bytes);
	put("length.bin", lens, 4 * s->n);
	put("link_lists.bin", links, nl + (size_t)s->link_extra);
}

/* Elements above which the lookup goes to a file (0: the default). */
static uint64_t table_max;

static int slot_of(struct hnsw_index *ix, uint64_t label, uint32_t *slot)
{
	struct cv_err e = { 0 };
	int del = 0;

	return hnsw_find(ix, label, slot, &del, &e);
}

static int deleted(struct hnsw_index *ix, uint64_t label)
{
	struct cv_err e = { 0 };
	uint32_t slot;
	int del = 0;

	return !hnsw_find(ix, label, &slot, &del, &e) && del;
}

static int open_with(const struct spec *s, struct hnsw_index *ix, struct cv_err *e)
{
	write_index(s);
	return hnsw_open(dir, 1, table_max, ix, e);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/cv-test-hnsw-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	const char *f[] = { "header.bin", "data_level0.bin", "length.bin", "link_lists.bin" };
	char path[128];
	size_t i;

	(void)state;
	for (i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, f[i]);
		unlink(path);
	}
	rmdir(dir);
	return 0;
}

static void test_read(void **state)
{
	struct spec s = { .n = 5, .deleted = 1 };
	struct hnsw_index ix;
	struct cv_err e = { 0 };
	float out[DIM];
	uint32_t slot;
	uint8_t flags;

	(void)state;
	assert_int_equal(open_with(&s, &ix, &e), 0);
	assert_int_equal(ix.hdr.dim, DIM);
	assert_int_equal(ix.n_deleted, 1);
	assert_int_equal(slot_of(&ix, 13, &slot), 0);
	assert_int_equal(slot, 3);
	assert_int_equal(slot_of(&ix, 99, &slot), CV_ENOTFOUND);
	assert_int_equal(hnsw_read_vector(&ix, 3, 0, out, &e), 0);
	assert_true(out[0] == 2.0f && out[2] == 4.0f);
	assert_int_equal(hnsw_read_vector(&ix, 3, 1, out, &e), 0);
	assert_true(out[0] == 4.0f && out[2] == 8.0f); /* times length 2 */
	assert_int_equal(hnsw_slot_flags(&ix, 1, &flags, &e), 0);
	assert_int_equal(flags & HNSW_DELETE_MARK, HNSW_DELETE_MARK);
	assert_int_equal(hnsw_read_vector(&ix, 5, 0, out, &e), CV_ECORRUPT);
	hnsw_close(&ix);
}

/*
 * The answers for spec { .n = 6, .deleted = 1, .big_label = L }: labels
 * 10..15 in slots 0..5, slot 3's label replaced by L, slot 1 deleted.
 */
static void expect_lookup(struct hnsw_index *ix, uint64_t big)
{
	uint32_t slot;

	assert_int_equal(slot_of(ix, big, &slot), 0);
	assert_int_equal(slot, 3);
	assert_int_equal(slot_of(ix, 10, &slot), 0);
	assert_int_equal(slot, 0);
	assert_int_equal(slot_of(ix, 15, &slot), 0);
	assert_int_equal(slot, 5);
	assert_int_equal(slot_of(ix, 13, &slot), CV_ENOTFOUND);
	assert_int_equal(slot_of(ix, 9, &slot), CV_ENOTFOUND);
	assert_true(deleted(ix, 11));
	assert_false(deleted(ix, 12));
	assert_false(deleted(ix, big));
}

/*
 * Labels far above the element count (a collection that deleted most of
 * what it added) move the lookup from label-indexed to hashed, keeping what
 * was found before the large label.
 */
static void test_large_label(void **state)
{
	struct spec s = { .n = 6, .deleted = 1, .big_label = (uint64_t)1 << 40 };
	struct hnsw_index ix;
	struct cv_err e = { 0 };
	uint32_t slot;

	(void)state;
	assert_int_equal(open_with(&s, &ix, &e), 0);
	assert_non_null(ix.lk_label); /* hashed */
	expect_lookup(&ix, (uint64_t)1 << 40);
	hnsw_close(&ix);
	s.big_label = 30; /* out of order but small: indexed by label */
	assert_int_equal(open_with(&s, &ix, &e), 0);
	assert_null(ix.lk_label);
	expect_lookup(&ix, 30);
	assert_int_equal(slot_of(&ix, (uint64_t)1 << 40, &slot), CV_ENOTFOUND);
	hnsw_close(&ix);
	s.big_label = 0; /* the usual labels */
	assert_int_equal(open_with(&s, &ix, &e), 0);
	assert_null(ix.lk_label);
	assert_int_equal(slot_of(&ix, 15, &slot), 0);
	assert_int_equal(slot, 5);
	assert_int_equal(slot_of(&ix, 16, &slot), CV_ENOTFOUND);
	assert_int_equal(slot_of(&ix, 9, &slot), CV_ENOTFOUND);
	assert_int_equal(slot_of(&ix, (uint64_t)1 << 40, &slot), CV_ENOTFOUND);
	assert_true(deleted(&ix, 11));
	assert_false(deleted(&ix, 12));
	assert_false(deleted(&ix, 99));
	hnsw_close(&ix);
}

static void damaged(const struct spec *s, const char *needle)
{
	struct hnsw_index ix;
	struct cv_err e = { 0 };

	assert_int_equal(open_with(s, &ix, &e), CV_ECORRUPT);
	if (!strstr(e.msg, needle))
		fail_msg("\"%s\" lacks \"%s\"", e.msg, needle);
}

/*
 * The lookup of a large index, in a temporary file: the same answers, the
 * same refusal of two live elements with one label, a clear one for a
 * label beyond what the file holds.
 */
static void test_lookup_file(void **state)
{
	struct spec s = { .n = 6, .deleted = 1, .big_label = 30 };
	struct hnsw_index ix;
	struct cv_err e = { 0 };
	uint32_t slot;

	(void)state;
	table_max = 1;
	assert_int_equal(open_with(&s, &ix, &e), 0);
	assert_non_null(ix.sf);
	assert_null(ix.lk_slot);
	expect_lookup(&ix, 30);
	assert_int_equal(slot_of(&ix, 1000000, &slot), CV_ENOTFOUND);
	assert_int_equal(slot_of(&ix, 12, &slot), 0); /* after a far label */
	assert_int_equal(slot, 2);
	hnsw_close(&ix);
	s = (struct spec){ .n = 4, .dup_label = 1 };
	damaged(&s, "data_level0.bin: elements 0 and 1 both carry label 10");
	s = (struct spec){ .n = 4, .big_label = (uint64_t)1 << 40 };
	assert_int_equal(open_with(&s, &ix, &e), CV_EUNSUP);
	assert_non_null(strstr(e.msg, "label 1099511627776 is beyond"));
	table_max = 0;
}

static void test_empty(void **state)
{
	struct spec s = { .n = 0 };
	struct hnsw_index ix;
	struct cv_err e = { 0 };

	(void)state;
	assert_int_equal(open_with(&s, &ix, &e), 0);
	hnsw_close(&ix);
}

static void test_damage(void **state)
{
	struct spec s;

	(void)state;
	s = (struct spec){ .n = 4, .version = 2 };
	damaged(&s, "header.bin: offset 0: persistence version is not 1");
	s = (struct spec){ .n = 4, .size_override = SIZE + 4 };
	damaged(&s, "header.bin: offset 28: element size");
	s = (struct spec){ .n = 4, .drop_data_bytes = 1 };
	damaged(&s, "data_level0.bin: 159 bytes, 4 elements of 40 bytes need 160");
	s = (struct spec){ .n = 4, .link_extra = 3 };
	damaged(&s, "link_lists.bin: 4 elements end at offset 28, the file has 31");
	s = (struct spec){ .n = 4, .dup_label = 1 };
	damaged(&s, "data_level0.bin: elements 0 and 1 both carry label 10");
}

static void test_header_bytes(void **state)
{
	uint8_t h[100] = { 0 };
	struct hnsw_header hdr;
	struct cv_err e = { 0 };

	(void)state;
	assert_int_equal(hnsw_header_parse(h, 99, "h", &hdr, &e), CV_ECORRUPT);
	assert_non_null(strstr(e.msg, "99 bytes"));
}

static void test_real_fixture(void **state)
{
	const char *fx = getenv("CV_FIXTURES");
	char path[512];
	struct hnsw_index ix;
	struct cv_err e = { 0 };

	(void)state;
	snprintf(path, sizeof(path), "%s/repomind-navneet/db/"
		 "0822d49d-fdb4-4977-a398-9596cb1993aa",
		 fx ? fx : "../shared/fixtures/real-world");
	if (access(path, R_OK))
		skip();
	assert_int_equal(hnsw_open(path, 0, 0, &ix, &e), 0);
	assert_int_equal(ix.hdr.cur_element_count, 69);
	assert_int_equal(ix.hdr.dim, 384);
	hnsw_close(&ix);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read),
		cmocka_unit_test(test_large_label),
		cmocka_unit_test(test_lookup_file),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_damage),
		cmocka_unit_test(test_header_bytes),
		cmocka_unit_test(test_real_fixture),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
