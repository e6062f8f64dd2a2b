/*
 * Progress line (see progress.h): "what: 42% 203.1 / 483.6 MB, 180 MB/s".
 */
#include "util/progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "util/banned.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void progress_init(struct progress *p, const char *what, uint64_t total)
{
	p->on = isatty(STDERR_FILENO);
	p->unit_records = 0;
	p->what = what;
	p->total = total;
	p->start = p->last = now();
}

void progress_update(struct progress *p, uint64_t done)
{
	double t;

	if (!p->on)
		return;
	t = now();
	if (t - p->last < 0.25)
		return;
	p->last = t;
	if (p->unit_records) {
		double rate = (double)done / (t - p->start + 1e-9);

		fprintf(stderr, "\r%s: %3.0f%% %llu / %llu records, %.0f records/s, "
			"ETA %.0f s ", p->what, p->total ? 100.0 * (double)done /
			(double)p->total : 0.0, (unsigned long long)done,
			(unsigned long long)p->total, rate,
			rate > 0 ? (double)(p->total - done) / rate : 0.0);
		return;
	}
	fprintf(stderr, "\r%s: %3.0f%% %.1f / %.1f MB, %.0f MB/s ", p->what,
		p->total ? 100.0 * (double)done / (double)p->total : 0.0,
		(double)done / 1e6, (double)p->total / 1e6,
		(double)done / 1e6 / (t - p->start + 1e-9));
}

void progress_end(struct progress *p)
{
	if (p->on && p->last > p->start)
		fprintf(stderr, "\r%60s\r", "");
}
