/*
 * libFuzzer target for util/jsonscan.c, which reads import files and server
 * pages without parsing them: whatever it cuts out must be a valid JSON
 * number array (checked by parsing it with jansson).
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/jsonscan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_array(const char *p, size_t n)
{
	json_error_t je;
	json_t *j = json_loadb(p, n, JSON_DECODE_ANY, &je);
	size_t i;

	if (!j && (strstr(je.text, "overflow") || strstr(je.text, "too big")))
		return; /* valid JSON numbers outside jansson's range */
	if (!j || !(json_is_array(j) || json_is_null(j)))
		abort();
	for (i = 0; json_is_array(j) && i < json_array_size(j); i++)
		if (!json_is_number(json_array_get(j, i)))
			abort();
	json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strbuf rest = STRBUF_INIT;
	struct json_span *sp = NULL;
	const char *t = (const char *)data;
	size_t off, len, cap = 0;
	long n, i;

	if (json_cut_numbers(t, size, "embedding", &rest, &off, &len, NULL) >= 0)
		check_array(t + off, len);
	n = json_cut_rows(t, size, "embeddings", &rest, &sp, &cap);
	for (i = 0; i < n; i++)
		check_array(t + sp[i].off, sp[i].len);
	free(sp);
	sb_release(&rest);
	return 0;
}
