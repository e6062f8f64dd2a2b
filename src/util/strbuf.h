/*
 * Growable byte buffer, always NUL-terminated (after git's strbuf).
 */
#ifndef CV_STRBUF_H
#define CV_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

struct strbuf {
	char *buf;
	size_t len;
	size_t alloc;
};

#define STRBUF_INIT { NULL, 0, 0 }

void sb_init(struct strbuf *sb, size_t hint);
void sb_release(struct strbuf *sb);
void sb_reset(struct strbuf *sb);
/* Make room for n more bytes (plus the NUL). */
void sb_grow(struct strbuf *sb, size_t n);
void sb_add(struct strbuf *sb, const void *p, size_t n);
void sb_adds(struct strbuf *sb, const char *s);
void sb_addf(struct strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sb_vaddf(struct strbuf *sb, const char *fmt, va_list ap);
/* Caller frees; leaves sb empty. */
char *sb_detach(struct strbuf *sb, size_t *len);
/* s with every byte but A-Z a-z 0-9 - . _ ~ as %XX: one URL path segment. */
void sb_add_pct_encoded(struct strbuf *sb, const char *s);
/* p[0..n) with each %XX decoded (a '%' not followed by two hex digits kept). */
char *pct_decode(const char *p, size_t n);

static inline void sb_addch(struct strbuf *sb, char c)
{
	if (sb->len + 1 >= sb->alloc)
		sb_grow(sb, 1);
	sb->buf[sb->len++] = c;
	sb->buf[sb->len] = '\0';
}

/* Pointer to n writable bytes at the end; call sb_setlen after writing. */
static inline char *sb_tail(struct strbuf *sb, size_t n)
{
	if (sb->len + n >= sb->alloc)
		sb_grow(sb, n);
	return sb->buf + sb->len;
}

static inline void sb_setlen(struct strbuf *sb, size_t len)
{
	sb->len = len;
	sb->buf[len] = '\0';
}

#endif
