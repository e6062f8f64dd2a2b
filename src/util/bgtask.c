/*
 * Background task (see bgtask.h).
 */
#include "util/bgtask.h"

#include "util/fsutil.h"
#include "util/banned.h"

static void *loop(void *arg)
{
	struct bgtask *t = arg;

	pthread_mutex_lock(&t->mu);
	for (;;) {
		while (!t->busy && !t->stop)
			pthread_cond_wait(&t->cv, &t->mu);
		if (!t->busy)
			break;
		pthread_mutex_unlock(&t->mu);
		t->fn(t->arg);
		pthread_mutex_lock(&t->mu);
		t->busy = 0;
		pthread_cond_broadcast(&t->cv);
	}
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

void bg_init(struct bgtask *t)
{
	t->fn = NULL;
	t->arg = NULL;
	t->busy = t->stop = 0;
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	t->running = !thread_start(&t->th, loop, t);
}

void bg_start(struct bgtask *t, void (*fn)(void *arg), void *arg)
{
	if (!t->running) {
		fn(arg);
		return;
	}
	pthread_mutex_lock(&t->mu);
	t->fn = fn;
	t->arg = arg;
	t->busy = 1;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

void bg_wait(struct bgtask *t)
{
	if (!t->running)
		return;
	pthread_mutex_lock(&t->mu);
	while (t->busy)
		pthread_cond_wait(&t->cv, &t->mu);
	pthread_mutex_unlock(&t->mu);
}

void bg_release(struct bgtask *t)
{
	if (t->running) {
		bg_wait(t);
		pthread_mutex_lock(&t->mu);
		t->stop = 1;
		pthread_cond_broadcast(&t->cv);
		pthread_mutex_unlock(&t->mu);
		pthread_join(t->th, NULL);
		t->running = 0;
	}
	pthread_mutex_destroy(&t->mu);
	pthread_cond_destroy(&t->cv);
}
