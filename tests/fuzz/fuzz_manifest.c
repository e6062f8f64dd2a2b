/*
 * libFuzzer target for repo/manifest.c's reader: a snapshot manifest is read
 * from a repository that may be damaged. Whatever it holds, parsing either
 * fails with an error or gives file entries whose fields are consistent.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "repo/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest m;
	struct cv_err e = { 0 };
	char *text = malloc(size + 1);
	size_t i;

	memcpy(text, data, size);
	text[size] = '\0';
	if (!manifest_parse("fuzz", text, &m, &e)) {
		for (i = 0; i < m.n; i++) {
			const struct mf_file *f = &m.files[i];

			if (!f->path || f->path[0] == '/' || strstr(f->path, ".."))
				abort();
			if (!f->is_dir && f->nsegs && !f->segs)
				abort();
			if (f->has_patch && f->nchunks > UINT32_MAX)
				abort();
		}
	} else if (!e.msg[0]) {
		abort(); /* a failure always says why */
	}
	manifest_release(&m);
	free(text);
	return 0;
}
