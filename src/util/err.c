/*
 * Error reporting (see err.h).
 */
#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int verr(struct cv_err *e, int code, const char *suffix, const char *fmt,
		va_list ap)
{
	size_t n;

	if (!e || e->code)
		return code;
	e->code = code;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	n = strlen(e->msg);
	if (suffix && n < sizeof(e->msg))
		snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", suffix);
	return code;
}

int cv_errf(struct cv_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(e, code, NULL, fmt, ap);
	va_end(ap);
	return code;
}

int cv_errno(struct cv_err *e, int code, const char *fmt, ...)
{
	const char *s = strerror(errno);
	va_list ap;

	va_start(ap, fmt);
	verr(e, code, s, fmt, ap);
	va_end(ap);
	return code;
}

void cv_err_prefix(struct cv_err *e, const char *fmt, ...)
{
	char old[sizeof(e->msg)];
	size_t n, k;
	va_list ap;

	if (!e || !e->code)
		return;
	memcpy(old, e->msg, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	n = strlen(e->msg);
	if (n + 2 >= sizeof(e->msg))
		return;
	memcpy(e->msg + n, ": ", 2);
	n += 2;
	k = strnlen(old, sizeof(e->msg) - 1 - n);
	memcpy(e->msg + n, old, k);
	e->msg[n + k] = '\0';
}

void cv_err_clear(struct cv_err *e)
{
	e->code = 0;
	e->msg[0] = '\0';
}

int cv_err_exit_code(int code)
{
	switch (code) {
	case CV_OK:
		return CV_EXIT_OK;
	case CV_EUSAGE:
		return CV_EXIT_USAGE;
	case CV_ECORRUPT:
	case CV_EUNSUP:
		return CV_EXIT_CORRUPT;
	default:
		return CV_EXIT_RUNTIME;
	}
}
