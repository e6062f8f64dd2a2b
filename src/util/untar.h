/*
 * Extracting an untrusted tar stream (ustar, pax and GNU long names) into a
 * new directory, refusing anything that could write outside it.
 */
#ifndef CV_UNTAR_H
#define CV_UNTAR_H

#include "util/err.h"

/*
 * Extract the tar read from fd into dst (which must exist and be empty).
 * Rejects, naming the entry: absolute paths, "..", links whose target leaves
 * the tree, devices, FIFOs, and malformed headers (with their offset).
 */
int untar_safe(int fd, const char *dst, struct cv_err *e);

#endif
