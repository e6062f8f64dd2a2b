/*
 * Growable byte buffer (see strbuf.h).
 */
#include "strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

static char sb_empty[1];

void sb_init(struct strbuf *sb, size_t hint)
{
	sb->buf = sb_empty;
	sb->len = 0;
	sb->alloc = 0;
	if (hint)
		sb_grow(sb, hint);
}

void sb_release(struct strbuf *sb)
{
	if (sb->alloc)
		free(sb->buf);
	sb_init(sb, 0);
}

void sb_reset(struct strbuf *sb)
{
	if (sb->alloc)
		sb_setlen(sb, 0);
}

void sb_grow(struct strbuf *sb, size_t n)
{
	size_t want = sb->len + n + 1;
	size_t na;

	if (want <= sb->alloc)
		return;
	na = sb->alloc ? sb->alloc : 64;
	while (na < want)
		na = na + na / 2 + 64;
	if (!sb->alloc) {
		sb->buf = xmalloc(na);
		sb->buf[0] = '\0';
	} else {
		sb->buf = xrealloc(sb->buf, na);
	}
	sb->alloc = na;
}

void sb_add(struct strbuf *sb, const void *p, size_t n)
{
	sb_grow(sb, n);
	if (n) /* p may be NULL then: SQLite's value of an empty blob */
		memcpy(sb->buf + sb->len, p, n);
	sb_setlen(sb, sb->len + n);
}

void sb_adds(struct strbuf *sb, const char *s)
{
	sb_add(sb, s, strlen(s));
}

void sb_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	sb_grow(sb, (size_t)n);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	sb->len += (size_t)n;
}

void sb_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sb_vaddf(sb, fmt, ap);
	va_end(ap);
}

char *sb_detach(struct strbuf *sb, size_t *len)
{
	char *p;

	if (!sb->alloc)
		sb_grow(sb, 0);
	p = sb->buf;
	if (len)
		*len = sb->len;
	sb_init(sb, 0);
	return p;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

char *pct_decode(const char *p, size_t n)
{
	struct strbuf sb = STRBUF_INIT;
	size_t i;

	sb_grow(&sb, n);
	for (i = 0; i < n; i++) {
		if (p[i] == '%' && i + 2 < n && hexval(p[i + 1]) >= 0 &&
		    hexval(p[i + 2]) >= 0) {
			sb_addch(&sb, (char)(hexval(p[i + 1]) * 16 + hexval(p[i + 2])));
			i += 2;
		} else {
			sb_addch(&sb, p[i]);
		}
	}
	return sb_detach(&sb, NULL);
}

void sb_add_pct_encoded(struct strbuf *sb, const char *s)
{
	for (; *s; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("-._~", *s))
			sb_addch(sb, *s);
		else
			sb_addf(sb, "%%%02X", (unsigned char)*s);
	}
}
