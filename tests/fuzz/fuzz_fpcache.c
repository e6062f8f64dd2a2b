/*
 * libFuzzer target for the fingerprint cache reader (repo/fpcache.c,
 * REPOSITORY.md "Fingerprint cache"). The input is a cache file without its
 * trailing SHA-256: the harness puts its key's id in the header (when the
 * input is that long) and appends the checksum, so that what lies behind
 * the checksum is parsed, and writes it as the cache of a snapshot of a
 * repository made once. A cache either loads, with every fingerprint inside
 * the file and the entries, written again, giving the same bytes, or is
 * refused and leaves the cache empty.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "repo/fpcache.h"
#include "repo/repo.h"
#include "util/bytes.h"
#include "util/fsutil.h"
#include "util/sha256.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEAD (8 + FP_KEY_ID + 4)
#define MAX_LIST 64

static char dir[64];
static char cache[128];
static struct repo repo;
static struct fp_key key;

static void remove_repo(void)
{
	repo_close(&repo, NULL);
	rm_tree(dir);
}

/* The repository, with a cache folder, and the key (the unit test's). */
static void setup(void)
{
	struct cv_err e = { 0 };
	uint8_t sum[SHA256_LEN];

	snprintf(dir, sizeof(dir), "/tmp/cv-fuzz-fpcache-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	rmdir(dir);
	if (repo_init(dir, NULL, &e) || repo_open(dir, STORE_READ, &repo, &e))
		abort();
	if (store_mkdir(&repo.st, "cache", &e))
		abort();
	snprintf(cache, sizeof(cache), "%s/cache/S.fp", dir);
	memset(key.secret, 1, sizeof(key.secret));
	sha256(key.secret, sizeof(key.secret), sum);
	memcpy(key.id, sum, FP_KEY_ID);
	atexit(remove_repo); /* libFuzzer ends with exit() */
}

static void put(const uint8_t *p, size_t n)
{
	FILE *f = fopen(cache, "wb");

	if (!f || fwrite(p, 1, n, f) != n)
		abort();
	fclose(f);
}

/* Every entry inside the file; written again, the same bytes. */
static void check_loaded(const struct fp_cache *c, const uint8_t *file, size_t size)
{
	static const uint8_t zeros[MAX_LIST * SHA256_LEN];
	const uint8_t *end = c->buf + size;
	struct fp_writer w;
	size_t i, total = HEAD;
	const uint8_t *got;

	if (!c->buf || c->n != load_u32(file + 8 + FP_KEY_ID) || (c->n && !c->files))
		abort();
	for (i = 0; i < c->n; i++) {
		const struct fp_entry *f = &c->files[i];

		if (!f->path || f->fps < c->buf + HEAD || f->fps > end ||
		    (size_t)(end - f->fps) / FP_LEN < f->n)
			abort();
		total += 2 + strlen(f->path) + SHA256_LEN + 4 + f->n * FP_LEN;
		if (f->n <= MAX_LIST) {
			got = fpc_find(c, f->path, zeros, f->n);
			if (got && got != fpc_entry(c, f->path)->fps)
				abort();
		}
	}
	/* a path with a NUL in it is shorter as a string than in the file */
	if (total > size)
		abort();
	fpc_find(c, "chroma.sqlite3", zeros, 4);
	fpc_find(c, "c/data_level0.bin", zeros, 1);
	if (total != size)
		return;
	fpw_init(&w, &key);
	for (i = 0; i < c->n; i++)
		fpw_copy(&w, &c->files[i]);
	store_u32((uint8_t *)w.out.buf + 8 + FP_KEY_ID, w.count);
	if (w.out.len != size || memcmp(w.out.buf, file, size))
		abort();
	fpw_release(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fp_cache c;
	uint8_t *file;

	if (!dir[0])
		setup();
	file = malloc(size + SHA256_LEN);
	if (!file)
		abort();
	memcpy(file, data, size);
	if (size >= 8 + FP_KEY_ID)
		memcpy(file + 8, key.id, FP_KEY_ID);
	sha256(file, size, file + size);
	put(file, size + SHA256_LEN);
	if (!fpc_load(&repo, "S", &key, &c))
		check_loaded(&c, file, size);
	else if (c.n || c.files || c.buf)
		abort(); /* refused, and not empty */
	fpc_release(&c);
	free(file);
	return 0;
}
