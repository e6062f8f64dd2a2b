/*
 * Unit tests for util/jsonscan.c: embeddings cut out of record lines and
 * pages as text, only when they are valid number arrays; numbers that may
 * not fit float32 flagged.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/jsonscan.h"

static long cut(const char *line, struct strbuf *rest, char *out)
{
	size_t off = 0, len = 0;
	long n = json_cut_numbers(line, strlen(line), "embedding", rest, &off, &len, NULL);

	if (n >= 0) {
		memcpy(out, line + off, len);
		out[len] = '\0';
	}
	return n;
}

/* The large flag of the embedding of {"embedding":ARRAY}. */
static int large(const char *array)
{
	struct strbuf line = STRBUF_INIT, rest = STRBUF_INIT;
	size_t off, len;
	int big = -1;

	sb_addf(&line, "{\"embedding\":%s}", array);
	assert_true(json_cut_numbers(line.buf, line.len, "embedding", &rest, &off,
				     &len, &big) >= 0);
	sb_release(&line);
	sb_release(&rest);
	return big;
}

/* Numbers that may not fit float32 are flagged: every one 1e38 or larger. */
static void test_large(void **state)
{
	(void)state;
	assert_int_equal(large("[1.0,-2.5e-3,0,3e37,0.9e38,12345678901234567890]"), 0);
	assert_int_equal(large("[1e38]"), 1);
	assert_int_equal(large("[0,-3.5e38]"), 1);
	assert_int_equal(large("[0.0001e42]"), 1);
	assert_int_equal(large("[1e-45,4E+38]"), 1);
	assert_int_equal(large("[123456789012345678901234567890123456789]"), 1);
	assert_int_equal(large("[1.5e99999999999]"), 1); /* a huge exponent, capped */
	assert_int_equal(large("[1e-99999999999]"), 0);
	{ /* 200,000 digits before the point outweigh an exponent of -99999 */
		struct strbuf a = STRBUF_INIT;
		int k;

		sb_adds(&a, "[1,");
		for (k = 0; k < 200000; k++)
			sb_addch(&a, '1');
		sb_adds(&a, "e-99999]");
		assert_int_equal(large(a.buf), 1);
		sb_release(&a);
	}
}

static void test_numbers(void **state)
{
	struct strbuf rest = STRBUF_INIT;
	char got[256];

	(void)state;
	assert_int_equal(cut("{\"id\":\"a\",\"embedding\":[1.0,-2.5e-3,0],\"m\":1}", &rest, got), 3);
	assert_string_equal(got, "[1.0,-2.5e-3,0]");
	assert_string_equal(rest.buf, "{\"id\":\"a\",\"embedding\":null,\"m\":1}");
	/* the key inside a string value is not the key */
	assert_int_equal(cut("{\"id\":\"\\\"embedding\\\":[9]\",\"embedding\":[1]}", &rest, got), 1);
	assert_string_equal(got, "[1]");
	/* spaces are allowed, nested values skipped */
	assert_int_equal(cut("{ \"m\" : {\"embedding\":[7]} , \"embedding\" : [ 1 , 2 ] }", &rest, got), 2);
	assert_string_equal(got, "[ 1 , 2 ]");
	/* malformed numbers and other shapes are left to the full parser */
	assert_int_equal(cut("{\"embedding\":[1.2.3]}", &rest, got), -1);
	assert_int_equal(cut("{\"embedding\":[01]}", &rest, got), -1);
	assert_int_equal(cut("{\"embedding\":[1,]}", &rest, got), -1);
	assert_int_equal(cut("{\"embedding\":[\"1\"]}", &rest, got), -1);
	assert_int_equal(cut("{\"embedding\":null}", &rest, got), -1);
	assert_int_equal(cut("{\"embedding\":[1", &rest, got), -1);
	assert_int_equal(cut("[1,2]", &rest, got), -1);
	assert_int_equal(cut("{\"e\":[1]}", &rest, got), -1);
	sb_release(&rest);
}

static void test_rows(void **state)
{
	const char *page = "{\"ids\":[\"a\",\"b\",\"c\"],\"embeddings\":[[1.0,2.0],null,[3e1,-4]],"
			   "\"documents\":[\"x\",null,\"y\"]}";
	struct strbuf rest = STRBUF_INIT;
	struct json_span *sp = NULL;
	size_t cap = 0;

	(void)state;
	assert_int_equal(json_cut_rows(page, strlen(page), "embeddings", &rest, &sp, &cap), 3);
	assert_int_equal(sp[0].len, 9);
	assert_memory_equal(page + sp[0].off, "[1.0,2.0]", 9);
	assert_memory_equal(page + sp[1].off, "null", 4);
	assert_memory_equal(page + sp[2].off, "[3e1,-4]", 8);
	assert_string_equal(rest.buf, "{\"ids\":[\"a\",\"b\",\"c\"],\"embeddings\":null,"
			    "\"documents\":[\"x\",null,\"y\"]}");
	assert_int_equal(json_cut_rows("{\"embeddings\":[[1],[x]]}", 24, "embeddings",
				       &rest, &sp, &cap), -1);
	assert_int_equal(json_cut_rows("{\"embeddings\":[]}", 17, "embeddings", &rest, &sp,
				       &cap), 0);
	free(sp);
	sb_release(&rest);
}

/* Inputs that once crashed the fuzz target: run again here, under ASan too. */
/* An array's numbers, blanks anywhere between; a malformed or long one refused. */
static void test_floats(void **state)
{
	static const char t[] = "[ 0.5 ,0.25 , -3.4028235e+38,1e-45 ]";
	float v[8];

	(void)state;
	assert_int_equal(json_floats(t, strlen(t), v, 8, 0), 4);
	assert_true(v[0] == 0.5f && v[1] == 0.25f && v[2] == -3.4028235e38f && v[3] == 1e-45f);
	assert_int_equal(json_floats(t, strlen(t), v, 8, 1), 4);
	assert_true(v[1] == 0.25f && v[2] == -3.4028235e38f);
	assert_int_equal(json_floats(t, strlen(t), v, 3, 0), -1);
	assert_int_equal(json_floats("[ ]", 3, v, 8, 0), 0);
	assert_int_equal(json_floats("[1 23]", 6, v, 8, 0), -1);
	assert_int_equal(json_floats("[1,2", 4, v, 8, 0), -1);
	assert_int_equal(json_floats("[1,]", 4, v, 8, 0), -1);
	assert_int_equal(json_floats("[1,2]xyz", 4, v, 8, 0), -1); /* cut at n */
}

static void test_regressions(void **state)
{
	static const char *const files[] = {
		"tests/fuzz/regressions/jsonscan-key-at-end",
	};
	struct strbuf rest = STRBUF_INIT;
	struct json_span *sp = NULL;
	char buf[4096];
	size_t i, n, off, len, cap = 0;
	FILE *f;

	(void)state;
	for (i = 0; i < sizeof(files) / sizeof(*files); i++) {
		f = fopen(files[i], "rb");
		assert_non_null(f);
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		json_cut_numbers(buf, n, "embedding", &rest, &off, &len, NULL);
		assert_int_equal(json_cut_rows(buf, n, "embeddings", &rest, &sp, &cap), -1);
	}
	free(sp);
	sb_release(&rest);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_large),
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_regressions),
		cmocka_unit_test(test_floats),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
