/*
 * libFuzzer target for the index_metadata.pickle VM (chroma/pickle.c).
 */
#include <stddef.h>
#include <stdint.h>

#include "chroma/pickle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sink(void *ctx, const char *id, size_t len, uint64_t label,
		struct cv_err *e)
{
	volatile const char *first = len ? id : NULL;

	(void)ctx; (void)e; (void)label;
	if (first)
		(void)first[0];
	if (len)
		(void)((volatile const char *)id)[len - 1];
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cv_pickle p;
	struct cv_err e = { 0 };

	cv_pickle_parse(data, size, "fuzz.pickle", sink, NULL, &p, &e);
	return 0;
}
