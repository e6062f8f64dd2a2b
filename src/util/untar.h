/*
 * Extracting an untrusted tar stream (ustar, pax and GNU long names) into a
 * new directory, refusing anything that could write outside it.
 */
#ifndef CV_UNTAR_H
#define CV_UNTAR_H

#include "util/err.h"
#include "util/strbuf.h"

/*
 * Extract the tar read from fd into dst (which must exist and be empty).
 * Rejects, naming the entry and its offset: absolute paths, "..", links
 * whose target leaves the tree, devices, FIFOs, an entry given twice, and
 * malformed headers. Folders missing from the stream are created. Symbolic
 * links are never created (a link made by one entry could carry a later
 * entry's path outside dst): those that stay inside the tree are skipped,
 * and their names added to skipped, one a line, when it is not NULL.
 */
int untar_safe(int fd, const char *dst, struct strbuf *skipped, struct cv_err *e);

#endif
