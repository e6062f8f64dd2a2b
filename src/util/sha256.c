/*
 * SHA-256 (see sha256.h): libcrypto's EVP digests, which use the CPU's SHA
 * extensions where present. One-shot hashes reuse a context per thread and a
 * digest fetched once: a backup hashes hundreds of thousands of small chunks,
 * and setting a context up each time costs more than hashing 132 bytes.
 */
#include "util/sha256.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t ctx_key;
static EVP_MD *md_sha256;

static void free_ctx(void *ctx)
{
	EVP_MD_CTX_free(ctx);
}

static void init_once(void)
{
	md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (!md_sha256 || pthread_key_create(&ctx_key, free_ctx))
		abort();
}

void sha256(const void *p, size_t n, uint8_t out[SHA256_LEN])
{
	unsigned int len = SHA256_LEN;
	EVP_MD_CTX *ctx;

	pthread_once(&once, init_once);
	ctx = pthread_getspecific(ctx_key);
	if (!ctx) {
		ctx = EVP_MD_CTX_new();
		if (!ctx || pthread_setspecific(ctx_key, ctx))
			abort();
	}
	if (!EVP_DigestInit_ex2(ctx, md_sha256, NULL) ||
	    !EVP_DigestUpdate(ctx, p, n) || !EVP_DigestFinal_ex(ctx, out, &len))
		abort(); /* only on allocation failure inside libcrypto */
}

void sha256_init(struct sha256 *c)
{
	c->md = EVP_MD_CTX_new();
	if (!c->md || !EVP_DigestInit_ex(c->md, EVP_sha256(), NULL))
		abort();
}

void sha256_update(struct sha256 *c, const void *p, size_t n)
{
	EVP_DigestUpdate(c->md, p, n);
}

void sha256_final(struct sha256 *c, uint8_t out[SHA256_LEN])
{
	unsigned int len = SHA256_LEN;

	EVP_DigestFinal_ex(c->md, out, &len);
	EVP_MD_CTX_free(c->md);
	c->md = NULL;
}

void hex_encode(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int hex_decode(const char *hex, uint8_t *out, size_t n)
{
	size_t i;
	int hi, lo;

	if (strlen(hex) != 2 * n)
		return -1;
	for (i = 0; i < n; i++) {
		hi = nibble(hex[2 * i]);
		lo = nibble(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}
