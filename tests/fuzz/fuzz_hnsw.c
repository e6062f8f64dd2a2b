/*
 * libFuzzer target for the HNSW folder reader (hnsw/hnsw.c). The input is
 * split into the four files: 100 header bytes, then two little-endian u16
 * lengths for length.bin and link_lists.bin, and data_level0.bin is the rest.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hnsw/hnsw.h"
#include "util/fsutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static void put(const char *name, const uint8_t *p, size_t n)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f)
		abort();
	if (n)
		fwrite(p, 1, n, f);
	fclose(f);
}

static void read_all(struct hnsw_index *ix)
{
	static float vec[65536];
	struct cv_err e = { 0 };
	uint64_t i;
	uint8_t flags;

	uint32_t slot;
	int deleted;

	for (i = 0; i < ix->hdr.cur_element_count && i < 4096; i++) {
		cv_err_clear(&e);
		hnsw_slot_flags(ix, (uint32_t)i, &flags, &e);
		hnsw_read_vector(ix, (uint32_t)i, 1, vec, &e);
		hnsw_find(ix, i * 7 + 1, &slot, &deleted, &e);
	}
}

static void remove_dir(void)
{
	rm_tree(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hnsw_index ix;
	struct cv_err e = { 0 };
	size_t nlen, nlink, rest;

	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/cv-fuzz-hnsw-XXXXXX");
		if (!mkdtemp(dir))
			abort();
		atexit(remove_dir); /* libFuzzer ends with exit() */
	}
	if (size < HNSW_HEADER_SIZE + 4)
		return 0;
	put("header.bin", data, HNSW_HEADER_SIZE);
	nlen = data[100] | (size_t)data[101] << 8;
	nlink = data[102] | (size_t)data[103] << 8;
	data += HNSW_HEADER_SIZE + 4;
	rest = size - HNSW_HEADER_SIZE - 4;
	nlen = nlen < rest ? nlen : rest;
	put("length.bin", data, nlen);
	data += nlen;
	rest -= nlen;
	nlink = nlink < rest ? nlink : rest;
	put("link_lists.bin", data, nlink);
	put("data_level0.bin", data + nlink, rest - nlink);
	/* an odd-sized input keeps the label lookup in a file (slotfile.c) */
	if (hnsw_open(dir, 1, size & 1, &ix, &e) == 0) {
		read_all(&ix);
		hnsw_close(&ix);
	}
	return 0;
}
