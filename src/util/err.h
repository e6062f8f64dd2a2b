/*
 * Error reporting: library code fills a caller-owned struct cv_err and returns
 * a negative code; only cli/ prints it and maps it to an exit code.
 */
#ifndef CV_ERR_H
#define CV_ERR_H

#include <stdint.h>

/* Exit codes, documented in every --help and in the README. */
enum cv_exit {
	CV_EXIT_OK = 0,
	CV_EXIT_USAGE = 1,
	CV_EXIT_RUNTIME = 2,
	CV_EXIT_CORRUPT = 3,
	CV_EXIT_PARTIAL = 4,
};

/* Negative return codes of library functions. */
enum cv_code {
	CV_OK = 0,
	CV_EIO = -1,      /* the operating system refused: open, read, write */
	CV_ECORRUPT = -2, /* input is damaged or not what it claims to be */
	CV_EUNSUP = -3,   /* input is valid but a format we do not read */
	CV_ENOTFOUND = -4, /* a named thing does not exist */
	CV_EUSAGE = -5,   /* the caller asked for something impossible */
	CV_ENOMEM = -6,   /* a bounded buffer would exceed its maximum */
};

struct cv_err {
	int code;            /* enum cv_code of the first error */
	char msg[512];       /* full, lower-case message naming the thing */
};

/*
 * Record an error; the first one wins so the root cause is kept.
 * Returns code so callers can write `return cv_errf(e, CV_EIO, ...)`.
 */
int cv_errf(struct cv_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Same, with ": strerror(errno)" appended. */
int cv_errno(struct cv_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefix the recorded message with context ("reading x: " + old). */
void cv_err_prefix(struct cv_err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void cv_err_clear(struct cv_err *e);

/* Map an enum cv_code to an enum cv_exit. */
int cv_err_exit_code(int code);

#endif
