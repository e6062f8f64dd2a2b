/*
 * The fingerprint cache (see fpcache.h). cache/<snapshot>.fp is
 *
 *   "CVFP0001", u64 seed, u32 file count,
 *   per file: u16 path length, path, SHA-256 of its chunk list, u32 chunk
 *             count n, n × 16-byte fingerprints,
 *   SHA-256 of everything before it,
 *
 * little-endian, written like every repository file (temp, fsync, rename).
 */
#include "repo/fpcache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "util/bytes.h"
#include "util/xalloc.h"
#include "util/banned.h"

static const uint8_t fp_magic[8] = { 'C', 'V', 'F', 'P', '0', '0', '0', '1' };
#define FP_HEAD (8 + 8 + 4)
#define FP_MAX_BYTES ((size_t)1 << 31)

void fp_of(uint64_t seed, const void *p, size_t n, uint8_t out[FP_LEN])
{
	XXH128_hash_t h = XXH3_128bits_withSeed(p, n, seed);

	memcpy(out, &h.low64, 8);
	memcpy(out + 8, &h.high64, 8);
}

static uint64_t random_seed(void)
{
	struct timespec ts;
	uint64_t s;

	if (getrandom(&s, sizeof(s), 0) == (ssize_t)sizeof(s))
		return s;
	clock_gettime(CLOCK_REALTIME, &ts); /* no entropy source */
	return (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)ts.tv_sec ^
	       (uint64_t)getpid() << 32;
}

static void cache_name(char *out, size_t n, const char *snapshot)
{
	snprintf(out, n, "cache/%s.fp", snapshot);
}

/* Parse the files of a cache whose checksum matched; 0 if all are whole. */
static int parse_files(struct fp_cache *c, const uint8_t *p, const uint8_t *end,
		       uint32_t count)
{
	struct fp_entry *f;
	uint16_t plen;
	uint32_t i;

	c->files = xcalloc(count ? count : 1, sizeof(*c->files));
	for (i = 0; i < count; i++) {
		f = &c->files[c->n];
		if (end - p < 2)
			return -1;
		memcpy(&plen, p, 2);
		p += 2;
		if ((size_t)(end - p) < (size_t)plen + SHA256_LEN + 4)
			return -1;
		f->path = xmemdupz(p, plen);
		c->n++;
		p += plen;
		memcpy(f->list_sha, p, SHA256_LEN);
		f->n = load_u32(p + SHA256_LEN);
		p += SHA256_LEN + 4;
		if ((size_t)(end - p) / FP_LEN < f->n)
			return -1;
		f->fps = p;
		p += f->n * FP_LEN;
	}
	return p == end ? 0 : -1;
}

int fpc_load(struct repo *r, const char *snapshot, struct fp_cache *c)
{
	struct cv_err ignored = { 0 };
	uint8_t sum[SHA256_LEN], *buf = NULL;
	char name[256];
	size_t n = 0;

	memset(c, 0, sizeof(*c));
	if (!snapshot)
		goto none;
	cache_name(name, sizeof(name), snapshot);
	if (store_get(&r->st, name, FP_MAX_BYTES, &buf, &n, &ignored) ||
	    n < FP_HEAD + SHA256_LEN || memcmp(buf, fp_magic, 8))
		goto none;
	sha256(buf, n - SHA256_LEN, sum);
	if (memcmp(sum, buf + n - SHA256_LEN, SHA256_LEN))
		goto none;
	c->buf = buf;
	c->seed = load_u64(buf + 8);
	if (!parse_files(c, buf + FP_HEAD, buf + n - SHA256_LEN, load_u32(buf + 16)))
		return 0;
	fpc_release(c);
	buf = NULL;
none:
	free(buf);
	cv_err_clear(&ignored);
	c->seed = random_seed();
	return -1;
}

void fpc_release(struct fp_cache *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->files[i].path);
	free(c->files);
	free(c->buf);
	memset(c, 0, sizeof(*c));
}

const struct fp_entry *fpc_entry(const struct fp_cache *c, const char *path)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (!strcmp(c->files[i].path, path))
			return &c->files[i];
	return NULL;
}

const uint8_t *fpc_find(const struct fp_cache *c, const char *path,
			const uint8_t *list, size_t n)
{
	const struct fp_entry *f = fpc_entry(c, path);
	uint8_t sum[SHA256_LEN];

	if (!f || f->n != n)
		return NULL;
	sha256(list, n * SHA256_LEN, sum);
	return memcmp(sum, f->list_sha, SHA256_LEN) ? NULL : f->fps;
}

void fpw_init(struct fp_writer *w, uint64_t seed)
{
	uint8_t head[FP_HEAD];

	memset(w, 0, sizeof(*w));
	w->seed = seed;
	sb_init(&w->out, 0);
	memcpy(head, fp_magic, 8);
	store_u64(head + 8, seed);
	store_u32(head + 16, 0); /* the count, set at commit */
	sb_add(&w->out, head, sizeof(head));
}

void fpw_release(struct fp_writer *w)
{
	sb_release(&w->out);
	memset(w, 0, sizeof(*w));
}

static void add_entry(struct fp_writer *w, const char *path,
		      const uint8_t sum[SHA256_LEN], size_t n, const uint8_t *fps)
{
	size_t plen = strlen(path);
	uint16_t l16 = (uint16_t)plen;
	uint8_t cnt[4];

	if (plen > UINT16_MAX || n > UINT32_MAX)
		return; /* such a file is hashed whole next time */
	store_u32(cnt, (uint32_t)n);
	sb_add(&w->out, &l16, 2);
	sb_add(&w->out, path, plen);
	sb_add(&w->out, sum, SHA256_LEN);
	sb_add(&w->out, cnt, 4);
	sb_add(&w->out, fps, n * FP_LEN);
	w->count++;
}

void fpw_add(struct fp_writer *w, const char *path, const uint8_t *list,
	     size_t n, const uint8_t *fps)
{
	uint8_t sum[SHA256_LEN];

	sha256(list, n * SHA256_LEN, sum);
	add_entry(w, path, sum, n, fps);
}

void fpw_copy(struct fp_writer *w, const struct fp_entry *f)
{
	add_entry(w, f->path, f->list_sha, f->n, f->fps);
}

int fpw_commit(struct repo *r, struct fp_writer *w, const char *snapshot,
	       const char *prev, struct cv_err *e)
{
	uint8_t sum[SHA256_LEN];
	char name[256];
	int rc;

	store_u32((uint8_t *)w->out.buf + 16, w->count);
	sha256(w->out.buf, w->out.len, sum);
	sb_add(&w->out, sum, SHA256_LEN);
	cache_name(name, sizeof(name), snapshot);
	if ((rc = store_mkdir(&r->st, "cache", e)) ||
	    (rc = store_put(&r->st, name, w->out.buf, w->out.len, e)))
		return rc;
	if (prev)
		fpc_remove(r, prev);
	return 0;
}

void fpc_remove(struct repo *r, const char *snapshot)
{
	struct cv_err ignored = { 0 };
	char name[256];

	cache_name(name, sizeof(name), snapshot);
	if (store_may_exist(&r->st, name) && store_remove(&r->st, name, &ignored))
		cv_err_clear(&ignored);
}
