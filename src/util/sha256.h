/*
 * SHA-256 through libcrypto's EVP interface, and hex conversion.
 */
#ifndef CV_SHA256_H
#define CV_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32

struct sha256 {
	void *md; /* EVP_MD_CTX */
};

void sha256(const void *p, size_t n, uint8_t out[SHA256_LEN]);
void sha256_init(struct sha256 *c);
void sha256_update(struct sha256 *c, const void *p, size_t n);
/* Writes the digest and frees the context. */
void sha256_final(struct sha256 *c, uint8_t out[SHA256_LEN]);

/* out must hold 2*n+1 bytes. */
void hex_encode(const uint8_t *p, size_t n, char *out);
/* 0 on success; hex must be exactly 2*n hex digits. */
int hex_decode(const char *hex, uint8_t *out, size_t n);

#endif
