/*
 * One background thread running one job at a time: start a job, do other
 * work, wait for it. Without a thread (creation failed) the job runs inline
 * in bg_start.
 */
#ifndef CV_BGTASK_H
#define CV_BGTASK_H

#include <pthread.h>

struct bgtask {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	void (*fn)(void *arg);
	void *arg;
	int running, busy, stop;
};

void bg_init(struct bgtask *t);
/* Run fn(arg) on the thread; the previous job must have been waited for. */
void bg_start(struct bgtask *t, void (*fn)(void *arg), void *arg);
void bg_wait(struct bgtask *t);
void bg_release(struct bgtask *t);

#endif
