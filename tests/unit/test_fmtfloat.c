/*
 * Unit tests for util/fmtfloat: ryu's "pretty" layout on fixed values for
 * every branch and both widths, then round trip and shortest digit count on
 * random bit patterns (tests/tools/verify-floats.c covers all of float32).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fmtfloat.h"
#include "util/banned.h"

#ifndef RANDOM_F32
#define RANDOM_F32 3000000
#endif
#ifndef RANDOM_F64
#define RANDOM_F64 300000
#endif

static void expect_f32(float x, const char *want)
{
	char buf[CV_FMT_F32_MAX + 1];
	size_t n = cv_fmt_f32(x, buf);

	assert_in_range(n, 1, CV_FMT_F32_MAX);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

static void expect_f64(double x, const char *want)
{
	char buf[CV_FMT_F64_MAX + 1];
	size_t n = cv_fmt_f64(x, buf);

	assert_in_range(n, 1, CV_FMT_F64_MAX);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

static void test_examples(void **state)
{
	(void)state;
	expect_f32(0.1f, "0.1");
	expect_f32(nextafterf(0.1f, 1.0f), "0.10000001");
	expect_f32(1.0f, "1.0");
	expect_f32(123456.0f, "123456.0");
	expect_f32(-1.5e-10f, "-1.5e-10");
	expect_f32(1e-7f, "1e-7");
	expect_f32(1.5e20f, "1.5e20");
	expect_f64(2.0, "2.0");
	expect_f64(1e21, "1e21");
	expect_f64(-1.5e-10, "-1.5e-10");
	expect_f64(0.3, "0.3");
}

static void test_special(void **state)
{
	(void)state;
	expect_f32(0.0f, "0.0");
	expect_f32(-0.0f, "-0.0");
	expect_f32(NAN, "NaN");
	expect_f32(-NAN, "NaN");
	expect_f32(INFINITY, "Infinity");
	expect_f32(-INFINITY, "-Infinity");
	expect_f64(0.0, "0.0");
	expect_f64(-0.0, "-0.0");
	expect_f64(NAN, "NaN");
	expect_f64(-NAN, "NaN");
	expect_f64(INFINITY, "Infinity");
	expect_f64(-INFINITY, "-Infinity");
}

/* float32: plain up to 13 integer digits, "0.0..." down to 1e-6. */
static void test_f32_branches(void **state)
{
	(void)state;
	expect_f32(1234e7f, "12340000000.0");
	expect_f32(1e12f, "1000000000000.0");
	expect_f32(1e13f, "1e13");
	expect_f32(16777216.0f, "16777216.0");
	expect_f32(12.34f, "12.34");
	expect_f32(1234567.9f, "1234567.9");
	expect_f32(-2.5f, "-2.5");
	expect_f32(0.001234f, "0.001234");
	expect_f32(0.5f, "0.5");
	expect_f32(1.234e-6f, "0.000001234");
	expect_f32(1e-6f, "0.000001");
	expect_f32(1.234e-7f, "1.234e-7");
	expect_f32(1e30f, "1e30");
	expect_f32(1e-45f, "1e-45");
	expect_f32(-1e-44f, "-1e-44");
	expect_f32(1234e30f, "1.234e33");
	expect_f32(3.4028235e38f, "3.4028235e38");
	expect_f32(1.1754944e-38f, "1.1754944e-38");
	expect_f32(1.23456735e-36f, "1.23456735e-36");
	expect_f32(0.00024414062f, "0.00024414062");
}

/* float64: plain up to 16 integer digits, "0.0..." only down to 1e-5. */
static void test_f64_branches(void **state)
{
	(void)state;
	expect_f64(1234e7, "12340000000.0");
	expect_f64(1234000000000000.0, "1234000000000000.0");
	expect_f64(1e15, "1000000000000000.0");
	expect_f64(1e16, "1e16");
	expect_f64(1.234e16, "1.234e16");
	expect_f64(12.34, "12.34");
	expect_f64(2.718281828459045, "2.718281828459045");
	expect_f64(1234567890123456.8, "1234567890123456.8");
	expect_f64(0.001234, "0.001234");
	expect_f64(1.234e-5, "0.00001234");
	expect_f64(1e-5, "0.00001");
	expect_f64(1.234e-6, "1.234e-6");
	expect_f64(1e-6, "1e-6");
	expect_f64(1e30, "1e30");
	expect_f64(5e-324, "5e-324");
	expect_f64(-1e100, "-1e100");
	expect_f64(1.1e128, "1.1e128");
	expect_f64(1.1e-64, "1.1e-64");
	expect_f64(1.7976931348623157e308, "1.7976931348623157e308");
	expect_f64(2.2250738585072014e-308, "2.2250738585072014e-308");
}

/* splitmix64 with a fixed seed, so failures reproduce. */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* What one width needs: format, parse back (NaN never does), print %.*e. */
struct width {
	size_t max;
	size_t (*fmt)(uint64_t bits, char *out);
	int (*reads_back)(const char *text, uint64_t bits);
	void (*print_e)(uint64_t bits, int prec, char *out, size_t cap);
};

static size_t fmt32(uint64_t bits, char *out)
{
	uint32_t b = (uint32_t)bits;
	float x;

	memcpy(&x, &b, sizeof(x));
	return cv_fmt_f32(x, out);
}

static int reads_back32(const char *text, uint64_t bits)
{
	float y = strtof(text, NULL);
	uint32_t b;

	memcpy(&b, &y, sizeof(b));
	return b == (uint32_t)bits;
}

static void print_e32(uint64_t bits, int prec, char *out, size_t cap)
{
	uint32_t b = (uint32_t)bits;
	float x;

	memcpy(&x, &b, sizeof(x));
	snprintf(out, cap, "%.*e", prec, (double)x);
}

static size_t fmt64(uint64_t bits, char *out)
{
	double x;

	memcpy(&x, &bits, sizeof(x));
	return cv_fmt_f64(x, out);
}

static int reads_back64(const char *text, uint64_t bits)
{
	double y = strtod(text, NULL);
	uint64_t b;

	memcpy(&b, &y, sizeof(b));
	return b == bits;
}

static void print_e64(uint64_t bits, int prec, char *out, size_t cap)
{
	double x;

	memcpy(&x, &bits, sizeof(x));
	snprintf(out, cap, "%.*e", prec, x);
}

static const struct width w32 = { CV_FMT_F32_MAX, fmt32, reads_back32, print_e32 };
static const struct width w64 = { CV_FMT_F64_MAX, fmt64, reads_back64, print_e64 };

/* A finite output as digits * 10^exp, digits without trailing zeros. */
struct decimal {
	uint64_t digits;
	int len;
	int exp;
};

static void parse_decimal(const char *s, struct decimal *d)
{
	int after_point = 0, seen_point = 0;

	d->digits = 0;
	d->exp = 0;
	for (s += (*s == '-'); *s && *s != 'e'; s++) {
		if (*s == '.') {
			seen_point = 1;
			continue;
		}
		assert_true(*s >= '0' && *s <= '9');
		d->digits = d->digits * 10 + (uint64_t)(*s - '0');
		after_point += seen_point;
	}
	d->exp = (*s == 'e' ? (int)strtol(s + 1, NULL, 10) : 0) - after_point;
	assert_true(d->digits != 0);
	while (d->digits % 10 == 0) {
		d->digits /= 10;
		d->exp++;
	}
	d->len = 1;
	for (uint64_t v = d->digits; v >= 10; v /= 10)
		d->len++;
}

/*
 * No decimal with fewer significant digits may read back to x. Every
 * shorter decimal that rounds to x lies in x's rounding interval, which also
 * holds our output; no len-1 digit number lies strictly between the two (it
 * would be shorter), so the len-1 digit neighbours of x are those of our
 * output, and if any shorter decimal reads back, one of them does.
 */
static void check_brackets(const struct width *w, const struct decimal *d, uint64_t bits,
			   const char *sign)
{
	char text[64];

	if (d->len == 1)
		return;
	snprintf(text, sizeof(text), "%s%llue%d", sign, (unsigned long long)(d->digits / 10),
		 d->exp + 1);
	if (w->reads_back(text, bits))
		fail_msg("%#llx: %s also reads back", (unsigned long long)bits, text);
	snprintf(text, sizeof(text), "%s%llue%d", sign, (unsigned long long)(d->digits / 10 + 1),
		 d->exp + 1);
	if (w->reads_back(text, bits))
		fail_msg("%#llx: %s also reads back", (unsigned long long)bits, text);
}

/* printf's own rounding to each shorter digit count must not read back. */
static void check_shorter_e(const struct width *w, const struct decimal *d, uint64_t bits)
{
	char text[64];

	for (int n = 1; n < d->len; n++) {
		w->print_e(bits, n - 1, text, sizeof(text));
		if (w->reads_back(text, bits))
			fail_msg("%#llx: %s also reads back", (unsigned long long)bits, text);
	}
}

static void check_one(const struct width *w, uint64_t bits)
{
	char text[64];
	struct decimal d;
	size_t n = w->fmt(bits, text);

	assert_in_range(n, 1, w->max);
	text[n] = '\0';
	if (!w->reads_back(text, bits))
		fail_msg("%#llx: %s does not read back", (unsigned long long)bits, text);
	if (strcmp(text + (text[0] == '-'), "Infinity") == 0)
		return;
	assert_true(strchr(text, '.') || strchr(text, 'e'));
	parse_decimal(text, &d);
	check_brackets(w, &d, bits, text[0] == '-' ? "-" : "");
	check_shorter_e(w, &d, bits);
}

static void test_random_f32(void **state)
{
	uint64_t seed = 20240601;

	(void)state;
	for (long i = 0; i < RANDOM_F32; i++) {
		uint32_t bits = (uint32_t)(rng_next(&seed) >> 32);
		float x;

		memcpy(&x, &bits, sizeof(x));
		if (isnan(x))
			expect_f32(x, "NaN");
		else
			check_one(&w32, bits);
	}
}

static void test_random_f64(void **state)
{
	uint64_t seed = 19700101;

	(void)state;
	for (long i = 0; i < RANDOM_F64; i++) {
		uint64_t bits = rng_next(&seed);
		double x;

		memcpy(&x, &bits, sizeof(x));
		if (isnan(x))
			expect_f64(x, "NaN");
		else
			check_one(&w64, bits);
	}
}

/* "[a,b,...]" from the layout code alone, one value at a time. */
static size_t reference_array(const float *v, size_t n, char *out)
{
	size_t len = 0;

	out[len++] = '[';
	for (size_t i = 0; i < n; i++) {
		if (i)
			out[len++] = ',';
		len += cv_fmt_f32_generic(v[i], out + len);
	}
	out[len++] = ']';
	return len;
}

/*
 * The fast path and its array form write what the layout code writes, on
 * the values embeddings hold (both notations it lays out without a branch,
 * 1 to 9 digits, trailing zeros) and on arbitrary bit patterns, into a
 * buffer of exactly the documented size, so a store past it is caught by
 * the sanitizers.
 */
static void test_fast_path(void **state)
{
	enum { N = 4096 };
	static const float edges[] = {
		0.1f, -0.1f, 0.099999994f, 0.00001f, 0.000012345678f, 0.99999994f,
		0.123456789f, 1.0f, 1.5f, 9.999999f, 12345678.0f, 1234567.8f,
		0.5f, 0.25f, 0.0625f, 100.5f, 0.01f, 0.001f, 1e-6f, 1e-5f,
		-0.0f, 0.0f, 65504.0f, 0.3f, 7.0e-6f, 0.000999999f,
	};
	float v[N];
	char *got = malloc(2 + N * (CV_FMT_F32_MAX + 1));
	char *want = malloc(2 + N * (CV_FMT_F32_MAX + 1));
	uint64_t seed = 7;
	size_t i, gn, wn;

	(void)state;
	assert_non_null(got);
	assert_non_null(want);
	for (i = 0; i < N; i++) {
		uint64_t r = rng_next(&seed);
		uint32_t bits = (uint32_t)(r >> 32);

		if (i < sizeof(edges) / sizeof(edges[0]))
			v[i] = edges[i];
		else if (i % 3 == 0) /* a float from a few decimals */
			v[i] = (float)((double)(int64_t)(r % 2000001) / 1e7 - 0.1);
		else if (i % 3 == 1) /* any float of an embedding's size */
			v[i] = ((float)(bits >> 8) / 16777216.0f - 0.5f) / (float)(1 + (r & 63));
		else
			memcpy(&v[i], &bits, sizeof(v[i]));
	}
	for (size_t n = 1; n <= N; n = n < 64 ? n + 1 : n * 4) {
		gn = cv_fmt_f32_array(v + N - n, n, got);
		wn = reference_array(v + N - n, n, want);
		assert_int_equal(gn, wn);
		assert_memory_equal(got, want, gn);
	}
	for (i = 0; i < N; i++) {
		char one[CV_FMT_F32_MAX], ref[CV_FMT_F32_MAX];
		size_t a = cv_fmt_f32(v[i], one), b = cv_fmt_f32_generic(v[i], ref);

		assert_int_equal(a, b);
		assert_memory_equal(one, ref, a);
	}
	free(got);
	free(want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_examples),     cmocka_unit_test(test_special),
		cmocka_unit_test(test_f32_branches), cmocka_unit_test(test_f64_branches),
		cmocka_unit_test(test_random_f32),   cmocka_unit_test(test_random_f64),
		cmocka_unit_test(test_fast_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
