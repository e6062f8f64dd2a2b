/*
 * Writing JSON text into a strbuf: strings escaped from arbitrary bytes,
 * integers exact, floats shortest round-trip (fmtfloat.h).
 */
#ifndef CV_JSONW_H
#define CV_JSONW_H

#include <stddef.h>
#include <stdint.h>

#include "util/strbuf.h"

/*
 * Append p[0..n) as a JSON string with quotes. Bytes that are not valid
 * UTF-8 become U+FFFD; returns the number of such replacements (0 normally).
 */
size_t jw_str(struct strbuf *sb, const char *p, size_t n);
void jw_int(struct strbuf *sb, int64_t v);
void jw_f64(struct strbuf *sb, double v);
void jw_f32_array(struct strbuf *sb, const float *v, size_t n);

/*
 * Append a parsed JSON value canonically: compact, object keys in byte
 * order, numbers as jw_int / jw_f64 write them. Two equal values give the
 * same text whatever their source's spacing, key order or float spelling.
 */
struct json_t;
void jw_json(struct strbuf *sb, const struct json_t *v);

/* 1 if p[0..n) is valid UTF-8 (RFC 3629). */
int utf8_valid(const char *p, size_t n);
/* s as a JSON string, each byte that is not part of valid UTF-8 as '?'. */
struct json_t *json_text(const char *s);

#endif
