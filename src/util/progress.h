/*
 * A one-line progress report on stderr, only when stderr is a terminal.
 */
#ifndef CV_PROGRESS_H
#define CV_PROGRESS_H

#include <stdint.h>

struct progress {
	int on;
	const char *what;
	uint64_t total;
	double start, last;
	int unit_records;  /* count records (with an ETA), not bytes */
};

void progress_init(struct progress *p, const char *what, uint64_t total);
/* At most a few times a second. */
void progress_update(struct progress *p, uint64_t done);
/* Clear the line. */
void progress_end(struct progress *p);

#endif
