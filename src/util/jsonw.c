/*
 * JSON text writer (see jsonw.h). Hot path of every export: strings are
 * copied in runs, and only bytes that need it are escaped.
 */
#include "util/jsonw.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "util/fmtfloat.h"
#include "util/xalloc.h"
#include "util/banned.h"

/* 1 for bytes that end a plain run: controls, '"', '\\' and non-ASCII. */
static const unsigned char special[256] = {
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/* Length of one valid UTF-8 sequence at p (RFC 3629), or 0. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	unsigned c = p[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && p[1] < 0xa0)
			return 0; /* overlong */
		if (c == 0xed && p[1] >= 0xa0)
			return 0; /* surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 ||
		    (p[3] & 0xc0) != 0x80)
			return 0;
		if (c == 0xf0 && p[1] < 0x90)
			return 0;
		if (c == 0xf4 && p[1] >= 0x90)
			return 0;
		return 4;
	}
	return 0;
}

int utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t k;

	while (n) {
		if (!(k = utf8_seq(p, n)))
			return 0;
		p += k;
		n -= k;
	}
	return 1;
}

json_t *json_text(const char *s)
{
	size_t n = strlen(s), i = 0, k;
	char *copy;
	json_t *j;

	if (utf8_valid(s, n))
		return json_string(s);
	copy = xstrdup(s);
	while (i < n) {
		k = utf8_seq((const unsigned char *)copy + i, n - i);
		if (!k) {
			copy[i] = '?';
			k = 1;
		}
		i += k;
	}
	j = json_string(copy);
	free(copy);
	return j;
}

static void jw_escape(struct strbuf *sb, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";
	char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

	switch (c) {
	case '"':  sb_add(sb, "\\\"", 2); return;
	case '\\': sb_add(sb, "\\\\", 2); return;
	case '\n': sb_add(sb, "\\n", 2); return;
	case '\r': sb_add(sb, "\\r", 2); return;
	case '\t': sb_add(sb, "\\t", 2); return;
	case '\b': sb_add(sb, "\\b", 2); return;
	case '\f': sb_add(sb, "\\f", 2); return;
	default:   sb_add(sb, e, 6); return;
	}
}

size_t jw_str(struct strbuf *sb, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run, k, bad = 0;

	sb_grow(sb, n + 2);
	sb_addch(sb, '"');
	while (i < n) {
		run = i;
		while (i < n && !special[p[i]])
			i++;
		if (i > run)
			sb_add(sb, p + run, i - run);
		if (i >= n)
			break;
		if (p[i] < 0x80) {
			jw_escape(sb, p[i++]);
			continue;
		}
		k = utf8_seq(p + i, n - i);
		if (k) {
			sb_add(sb, p + i, k);
			i += k;
		} else {
			sb_add(sb, "\xef\xbf\xbd", 3);
			bad++;
			i++;
		}
	}
	sb_addch(sb, '"');
	return bad;
}

void jw_int(struct strbuf *sb, int64_t v)
{
	char tmp[24], *e = tmp + sizeof(tmp), *q = e;
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	do {
		*--q = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--q = '-';
	sb_add(sb, q, (size_t)(e - q));
}

void jw_f64(struct strbuf *sb, double v)
{
	char *t = sb_tail(sb, CV_FMT_F64_MAX);

	sb_setlen(sb, sb->len + cv_fmt_f64(v, t));
}

void jw_f32_array(struct strbuf *sb, const float *v, size_t n)
{
	char *t = sb_tail(sb, 2 + n * (CV_FMT_F32_MAX + 1));

	sb_setlen(sb, sb->len + cv_fmt_f32_array(v, n, t));
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void jw_object(struct strbuf *sb, json_t *o)
{
	size_t n = json_object_size(o), i = 0;
	const char **keys = malloc((n ? n : 1) * sizeof(*keys));
	const char *k;
	json_t *v;

	if (!keys)
		abort();
	json_object_foreach(o, k, v)
		keys[i++] = k;
	qsort(keys, n, sizeof(*keys), cmp_key);
	sb_addch(sb, '{');
	for (i = 0; i < n; i++) {
		if (i)
			sb_addch(sb, ',');
		jw_str(sb, keys[i], strlen(keys[i]));
		sb_addch(sb, ':');
		jw_json(sb, json_object_get(o, keys[i]));
	}
	sb_addch(sb, '}');
	free(keys);
}

void jw_json(struct strbuf *sb, const json_t *cv)
{
	json_t *v = (json_t *)cv, *x;
	size_t i;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		jw_object(sb, v);
		return;
	case JSON_ARRAY:
		sb_addch(sb, '[');
		json_array_foreach(v, i, x) {
			if (i)
				sb_addch(sb, ',');
			jw_json(sb, x);
		}
		sb_addch(sb, ']');
		return;
	case JSON_STRING:
		jw_str(sb, json_string_value(v), json_string_length(v));
		return;
	case JSON_INTEGER:
		jw_int(sb, json_integer_value(v));
		return;
	case JSON_REAL:
		jw_f64(sb, json_real_value(v));
		return;
	case JSON_TRUE:
		sb_adds(sb, "true");
		return;
	case JSON_FALSE:
		sb_adds(sb, "false");
		return;
	default:
		sb_adds(sb, "null");
		return;
	}
}
