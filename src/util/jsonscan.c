/*
 * JSON scanning (see jsonscan.h). Strings are skipped with their escapes;
 * numbers are checked against JSON's grammar, so only valid text is copied.
 */
#include "util/jsonscan.h"

#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"
#include "util/banned.h"

static size_t skip_ws(const char *t, size_t i, size_t n)
{
	while (i < n && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r'))
		i++;
	return i;
}

static size_t skip_string(const char *t, size_t i, size_t n)
{
	for (i++; i < n && t[i] != '"'; i++)
		if (t[i] == '\\')
			i++;
	return i + 1;
}

/* End of the value at i, or n when it runs off the end. */
static size_t skip_value(const char *t, size_t i, size_t n)
{
	int depth = 0;

	for (; i < n; i++) {
		if (t[i] == '"')
			i = skip_string(t, i, n) - 1;
		else if (t[i] == '[' || t[i] == '{')
			depth++;
		else if ((t[i] == ']' || t[i] == '}') && --depth <= 0)
			return depth < 0 ? i : i + 1;
		else if (!depth && t[i] == ',')
			return i;
	}
	return n;
}

static size_t digits(const char *t, size_t i, size_t n)
{
	while (i < n && t[i] >= '0' && t[i] <= '9')
		i++;
	return i;
}

/*
 * Digit counts and exponents are capped here, far above what a line can
 * make a count reach, so a capped exponent still outweighs every count.
 */
#define MAG_CAP 1000000000L

/* The value of the exponent's digits t[i..j), capped at MAG_CAP. */
static long exponent(const char *t, size_t i, size_t j)
{
	long v = 0;

	for (; i < j && v < MAG_CAP; i++)
		v = v * 10 + (t[i] - '0');
	return v < MAG_CAP ? v : MAG_CAP;
}

/*
 * One JSON number at i; returns its end, or 0 if malformed. *large is set
 * when it may be 1e38 or more in size: digits before its point plus its
 * exponent reach 39.
 */
static size_t number(const char *t, size_t i, size_t n, int *large)
{
	size_t j, lead;
	long mag = 0, sign = 1;

	if (i < n && t[i] == '-')
		i++;
	if (i < n && t[i] == '0')
		i++;
	else if ((j = digits(t, i, n)) > i) {
		lead = j - i;
		mag = lead < (size_t)MAG_CAP ? (long)lead : MAG_CAP;
		i = j;
	} else {
		return 0;
	}
	if (i < n && t[i] == '.') {
		if ((j = digits(t, i + 1, n)) == i + 1)
			return 0;
		i = j;
	}
	if (i < n && (t[i] == 'e' || t[i] == 'E')) {
		i++;
		if (i < n && (t[i] == '+' || t[i] == '-'))
			sign = t[i++] == '-' ? -1 : 1;
		if ((j = digits(t, i, n)) == i)
			return 0;
		mag += sign * exponent(t, i, j);
		i = j;
	}
	if (mag >= 39)
		*large = 1;
	return i;
}

/* The number array at i: its end (after ']') and count, or 0. */
static size_t numbers(const char *t, size_t i, size_t n, long *count, int *large)
{
	*count = 0;
	if (i >= n || t[i] != '[')
		return 0;
	i = skip_ws(t, i + 1, n);
	if (i < n && t[i] == ']')
		return i + 1;
	for (;;) {
		if (!(i = number(t, i, n, large)))
			return 0;
		(*count)++;
		i = skip_ws(t, i, n);
		if (i < n && t[i] == ']')
			return i + 1;
		if (i >= n || t[i] != ',')
			return 0;
		i = skip_ws(t, i + 1, n);
	}
}

/* Where the value of the top-level key starts (maybe n: no value), or 0. */
static size_t find_key(const char *t, size_t n, const char *key)
{
	size_t i = skip_ws(t, 0, n), k, v, kl = strlen(key);

	if (i >= n || t[i] != '{')
		return 0;
	i = skip_ws(t, i + 1, n);
	while (i < n && t[i] == '"') {
		k = skip_string(t, i, n);
		v = skip_ws(t, k, n);
		if (v >= n || t[v] != ':')
			return 0;
		v = skip_ws(t, v + 1, n);
		if (k - i == kl + 2 && !strncmp(t + i + 1, key, kl))
			return v;
		i = skip_ws(t, skip_value(t, v, n), n);
		if (i < n && t[i] == ',')
			i = skip_ws(t, i + 1, n);
	}
	return 0;
}

/* rest = t with [v, end) replaced by null. */
static void cut(const char *t, size_t n, size_t v, size_t end,
		struct strbuf *rest)
{
	sb_reset(rest);
	sb_add(rest, t, v);
	sb_adds(rest, "null");
	sb_add(rest, t + end, n - end);
}

long json_cut_numbers(const char *t, size_t n, const char *key,
		      struct strbuf *rest, size_t *off, size_t *len, int *large)
{
	size_t v = find_key(t, n, key), end;
	long count;
	int big = 0;

	if (!v || !(end = numbers(t, v, n, &count, &big)))
		return -1;
	if (large)
		*large = big;
	*off = v;
	*len = end - v;
	cut(t, n, v, end, rest);
	return count;
}

/* One row at i: a number array or null; its end, or 0. */
static size_t row(const char *t, size_t i, size_t n)
{
	long count;
	int large;

	if (n - i >= 4 && !strncmp(t + i, "null", 4))
		return i + 4;
	return numbers(t, i, n, &count, &large);
}

long json_cut_rows(const char *t, size_t n, const char *key,
		   struct strbuf *rest, struct json_span **sp, size_t *cap)
{
	size_t v = find_key(t, n, key), i, end;
	long rows = 0;

	if (!v || v >= n || t[v] != '[')
		return -1;
	i = skip_ws(t, v + 1, n);
	while (i < n && t[i] != ']') {
		if (!(end = row(t, i, n)))
			return -1;
		if ((size_t)rows == *cap) {
			*cap = *cap ? 2 * *cap : 1024;
			*sp = xrealloc(*sp, *cap * sizeof(**sp));
		}
		(*sp)[rows].off = i;
		(*sp)[rows++].len = end - i;
		i = skip_ws(t, end, n);
		if (i < n && t[i] == ',')
			i = skip_ws(t, i + 1, n);
		else if (i >= n || t[i] != ']')
			return -1;
	}
	if (i >= n)
		return -1;
	cut(t, n, v, i + 1, rest);
	return rows;
}

long json_floats(const char *t, size_t n, float *out, size_t max, int via_double)
{
	const char *p = memchr(t, '[', n), *end = t + n;
	char *next;
	size_t k = 0;

	if (p && p + 1 < end && p[1 + strspn(p + 1, " \t\r\n")] == ']')
		return 0; /* [] */
	while (p && p < end && *p != ']') {
		if (*p != (k ? ',' : '[') || k == max)
			return -1;
		out[k] = via_double ? (float)strtod(p + 1, &next) : strtof(p + 1, &next);
		if (next == p + 1)
			return -1;
		k++;
		p = next + strspn(next, " \t\r\n");
	}
	return p && p < end && *p == ']' ? (long)k : -1;
}
