/*
 * Exhaustive check of cv_fmt_f32 (util/fmtfloat.h): every one of the 2^32
 * float32 bit patterns reads back bit-exactly through strtof from the fewest
 * significant digits possible, and the fast path writes exactly what the
 * plain layout code writes. Run by `make verify-floats`; takes minutes.
 */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/fmtfloat.h"
#include "util/banned.h"

#define NTHREADS 2
#define TOTAL (UINT64_C(1) << 32)
#define PROGRESS_STEP (UINT64_C(1) << 28)
#define CHUNK (UINT64_C(1) << 20)

struct job {
	uint64_t lo, hi;
	uint64_t failed_at; /* TOTAL while nothing failed */
	uint64_t nans, finite;
	char why[192];
};

static atomic_uint_fast64_t done_total;
static struct timespec started;

static double elapsed(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - started.tv_sec) + (double)(now.tv_nsec - started.tv_nsec) / 1e9;
}

static float float_of(uint32_t bits)
{
	float x;

	memcpy(&x, &bits, sizeof(x));
	return x;
}

static int reads_back(const char *text, uint32_t bits)
{
	float y = strtof(text, NULL);
	uint32_t b;

	memcpy(&b, &y, sizeof(b));
	return b == bits;
}

/* "-123e-45": sign, decimal digits of v, 'e', exponent; NUL-terminated. */
static void put_candidate(char *out, int neg, uint64_t v, int exp)
{
	char rev[24];
	int n = 0;

	if (neg)
		*out++ = '-';
	do {
		rev[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n > 0)
		*out++ = rev[--n];
	*out++ = 'e';
	if (exp < 0) {
		*out++ = '-';
		exp = -exp;
	}
	n = 0;
	do {
		rev[n++] = (char)('0' + exp % 10);
		exp /= 10;
	} while (exp);
	while (n > 0)
		*out++ = rev[--n];
	*out = '\0';
}

/*
 * Split a finite output into digits * 10^exp with no trailing zeros in
 * digits; returns the number of significant digits, 0 if malformed.
 */
static int parse_decimal(const char *s, uint64_t *digits, int *exp)
{
	int after_point = 0, seen_point = 0, len = 1;
	uint64_t d = 0;

	for (s += (*s == '-'); *s && *s != 'e'; s++) {
		if (*s == '.' && !seen_point) {
			seen_point = 1;
			continue;
		}
		if (*s < '0' || *s > '9' || d > UINT64_MAX / 100)
			return 0;
		d = d * 10 + (uint64_t)(*s - '0');
		after_point += seen_point;
	}
	*exp = (*s == 'e' ? (int)strtol(s + 1, NULL, 10) : 0) - after_point;
	while (d != 0 && d % 10 == 0) {
		d /= 10;
		(*exp)++;
	}
	for (uint64_t v = d; v >= 10; v /= 10)
		len++;
	*digits = d;
	return len;
}

/*
 * Shortest: neither len-1 digit neighbour of x may read back to x. Any
 * shorter decimal that reads back lies in x's rounding interval, as does our
 * output, so no len-1 digit number lies strictly between x and our output
 * (it would be shorter and in the interval): the neighbours of x are those
 * of our output, floor(digits/10) and one more, at exp+1. If some shorter
 * decimal read back, the neighbour on its side of x would too.
 */
static int check_shortest(const char *text, uint32_t bits, char *why, size_t cap)
{
	char cand[48];
	uint64_t digits, lo;
	int exp, len = parse_decimal(text, &digits, &exp);

	if (len == 0) {
		snprintf(why, cap, "\"%s\" is malformed", text);
		return -1;
	}
	if (len == 1)
		return 0;
	lo = digits / 10;
	for (uint64_t v = lo; v <= lo + 1; v++) {
		put_candidate(cand, text[0] == '-', v, exp + 1);
		if (reads_back(cand, bits)) {
			snprintf(why, cap, "\"%s\" is not shortest: \"%s\" reads back too", text, cand);
			return -1;
		}
	}
	return 0;
}

/*
 * The fast path (cv_fmt_f32, and the array form export uses) writes what
 * the plain layout code writes.
 */
static int check_same(float x, const char *text, size_t n, char *why, size_t cap)
{
	char ref[CV_FMT_F32_MAX + 1], arr[CV_FMT_F32_MAX + 3];
	size_t rn = cv_fmt_f32_generic(x, ref), an = cv_fmt_f32_array(&x, 1, arr);

	ref[rn] = '\0';
	if (rn != n || memcmp(ref, text, n) != 0) {
		snprintf(why, cap, "\"%s\", but the layout code writes \"%s\"", text, ref);
		return -1;
	}
	if (an != n + 2 || arr[0] != '[' || memcmp(arr + 1, text, n) != 0 || arr[n + 1] != ']') {
		snprintf(why, cap, "\"%s\", but as an array \"%.*s\"", text, (int)an, arr);
		return -1;
	}
	return 0;
}

static int check_one(uint32_t bits, struct job *job)
{
	char text[CV_FMT_F32_MAX + 1];
	float x = float_of(bits);
	size_t n = cv_fmt_f32(x, text);

	if (n == 0 || n > CV_FMT_F32_MAX) {
		snprintf(job->why, sizeof(job->why), "length %zu", n);
		return -1;
	}
	text[n] = '\0';
	if (check_same(x, text, n, job->why, sizeof(job->why)) != 0)
		return -1;
	if (isnan(x)) {
		job->nans++;
		if (strcmp(text, "NaN") == 0)
			return 0;
		snprintf(job->why, sizeof(job->why), "NaN printed as \"%s\"", text);
		return -1;
	}
	if (!reads_back(text, bits)) {
		snprintf(job->why, sizeof(job->why), "\"%s\" does not read back", text);
		return -1;
	}
	if (isinf(x))
		return 0;
	job->finite++;
	if (!strchr(text, '.') && !strchr(text, 'e')) {
		snprintf(job->why, sizeof(job->why), "\"%s\" has neither '.' nor 'e'", text);
		return -1;
	}
	return check_shortest(text, bits, job->why, sizeof(job->why));
}

static void report_progress(uint64_t before, uint64_t after)
{
	if (before / PROGRESS_STEP == after / PROGRESS_STEP)
		return;
	fprintf(stderr, "verify-floats: %" PRIu64 "/16 of 2^32 checked, %.0f s\n",
		after / PROGRESS_STEP, elapsed());
}

/* Check job->lo..hi, stopping at the thread's first failure. */
static void *run_job(void *arg)
{
	struct job *job = arg;

	for (uint64_t base = job->lo; base < job->hi; base += CHUNK) {
		uint64_t end = base + CHUNK < job->hi ? base + CHUNK : job->hi;

		for (uint64_t b = base; b < end; b++) {
			if (check_one((uint32_t)b, job) != 0) {
				job->failed_at = b;
				return NULL;
			}
		}
		uint64_t before = atomic_fetch_add(&done_total, end - base);
		report_progress(before, before + (end - base));
	}
	return NULL;
}

int main(void)
{
	struct job jobs[NTHREADS];
	pthread_t tid[NTHREADS];
	const struct job *first = NULL;
	uint64_t nans = 0, finite = 0;

	clock_gettime(CLOCK_MONOTONIC, &started);
	for (int t = 0; t < NTHREADS; t++) {
		jobs[t] = (struct job){ .lo = TOTAL / NTHREADS * (uint64_t)t,
					.hi = TOTAL / NTHREADS * (uint64_t)(t + 1),
					.failed_at = TOTAL };
		if (pthread_create(&tid[t], NULL, run_job, &jobs[t]) != 0) {
			fprintf(stderr, "verify-floats: cannot start thread %d\n", t);
			return 2;
		}
	}
	for (int t = 0; t < NTHREADS; t++) {
		pthread_join(tid[t], NULL);
		nans += jobs[t].nans;
		finite += jobs[t].finite;
		if (jobs[t].failed_at != TOTAL && (!first || jobs[t].failed_at < first->failed_at))
			first = &jobs[t];
	}
	if (first) {
		printf("verify-floats: FAIL at 0x%08" PRIx64 ": %s (%.0f s)\n", first->failed_at,
		       first->why, elapsed());
		return 1;
	}
	printf("verify-floats: ok, 2^32 patterns: %" PRIu64 " finite round-trip and shortest, %" PRIu64
	       " NaN, 2 infinite (%.0f s)\n", finite, nans, elapsed());
	return 0;
}
