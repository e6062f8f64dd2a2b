/*
 * A fresh, empty repository in a temporary folder for each test, as cmocka
 * setup and teardown. Header-only: each test program includes it once and
 * finds the repository at dir.
 */
#ifndef CV_TEST_TMP_REPO_H
#define CV_TEST_TMP_REPO_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "repo/repo.h"
#include "util/fsutil.h"

static char dir[64];

static int setup(void **state)
{
	struct cv_err e = { 0 };

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/cv-test-repo-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	rmdir(dir); /* repo_init makes it */
	return repo_init(dir, NULL, &e);
}

static int teardown(void **state)
{
	(void)state;
	rm_tree(dir);
	return 0;
}

#endif
