/*
 * Finding a top-level key's array of numbers in a JSON object's text without
 * parsing it: the embeddings of a record or a page are copied as text, which
 * costs far less than turning every number into a double and back.
 */
#ifndef CV_JSONSCAN_H
#define CV_JSONSCAN_H

#include <stddef.h>

#include "util/strbuf.h"

/*
 * In the object text t[0..n), find "key" at the top level. If its value is
 * an array of JSON numbers (flat), set off and len to the array's text, put
 * the object with that value replaced by null into rest, and return the
 * count of numbers (>= 0). -1: not found, not such an array, or malformed.
 * *large (when not NULL) is set when a number may be 1e38 or more in size
 * (its digits before the point plus its exponent reach 39), else cleared.
 */
long json_cut_numbers(const char *t, size_t n, const char *key,
		      struct strbuf *rest, size_t *off, size_t *len, int *large);

struct json_span {
	size_t off, len;
};

/*
 * The same for a key whose value is an array of rows, each an array of
 * numbers or null (a page of embeddings): (*sp)[i] is row i's text; *sp
 * grows as needed (*cap its capacity). Returns the number of rows, or -1.
 */
long json_cut_rows(const char *t, size_t n, const char *key,
		   struct strbuf *rest, struct json_span **sp, size_t *cap);

/*
 * The numbers of an array's text t[0..n) as json_cut_numbers or
 * json_cut_rows found it, into out (at most max): each read with strtod and
 * rounded to float32 when via_double (as Chroma's server reads decimal
 * text), else with strtof. Returns the count, or -1 when the text is not
 * such an array or holds more than max numbers.
 */
long json_floats(const char *t, size_t n, float *out, size_t max, int via_double);

#endif
