/*
 * Allocation that aborts on out-of-memory, the one abort the project allows.
 */
#ifndef CV_XALLOC_H
#define CV_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
/* Caller frees. */
char *xstrdup(const char *s);
/* Caller frees; copies n bytes and adds a NUL. */
char *xmemdupz(const void *p, size_t n);

#endif
