/*
 * libFuzzer target for the index_metadata.pickle VM (chroma/pickle.c).
 */
#include <stddef.h>
#include <stdint.h>

#include "chroma/pickle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cv_pickle p;
	struct cv_err e = { 0 };

	if (cv_pickle_parse(data, size, "fuzz.pickle", &p, &e) == 0)
		cv_pickle_release(&p);
	return 0;
}
