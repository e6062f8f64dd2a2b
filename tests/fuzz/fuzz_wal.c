/*
 * libFuzzer target for the WAL row decoders: the vector cell
 * (wal_vector_decode) and the update-metadata JSON applied to a metadata map
 * and written back out (meta_patch, meta_write_json).
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "chroma/meta.h"
#include "chroma/wal.h"
#include "util/strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_vector(const uint8_t *data, size_t size)
{
	static float out[65536];
	struct cv_err e = { 0 };
	int64_t dim = -1;

	if (size < 1)
		return;
	/* first byte picks the expected dimension: unknown, or 1..255 */
	wal_vector_decode(data + 1, size - 1, data[0] & 1 ? "FLOAT32" : NULL,
			  data[0] >> 1 ? (int64_t)(data[0] >> 1) : -1, out, &dim,
			  "fuzz", &e);
}

static void fuzz_metadata(const uint8_t *data, size_t size)
{
	struct strbuf out = STRBUF_INIT;
	struct cv_err e = { 0 };
	struct meta m;
	json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL,
			       NULL);

	if (!j)
		return;
	if (json_is_object(j)) {
		meta_init(&m);
		if (!meta_patch(&m, j, "fuzz", &e)) {
			meta_patch(&m, j, "fuzz", &e);
			meta_write_json(&m, &out);
		}
		meta_release(&m);
	}
	json_decref(j);
	sb_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_vector(data, size);
	fuzz_metadata(data, size);
	return 0;
}
