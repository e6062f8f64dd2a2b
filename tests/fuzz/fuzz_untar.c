/*
 * libFuzzer target for the tar reader behind backup --from-tar
 * (util/untar.c): any input either extracts inside a fresh directory or is
 * refused; nothing may land outside it (checked: the folder holding it gets
 * nothing else).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fsutil.h"
#include "util/untar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Entries of dir other than "." and "..". */
static int entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	if (d)
		closedir(d);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char outer[64] = "/tmp/cv-fuzz-untar-XXXXXX", dir[80];
	struct cv_err e = { 0 };
	int fd = memfd_create("tar", 0);

	if (fd < 0 || !mkdtemp(outer))
		abort();
	snprintf(dir, sizeof(dir), "%s/x", outer);
	if (mkdir(dir, 0700) || write(fd, data, size) != (ssize_t)size)
		abort();
	lseek(fd, 0, SEEK_SET);
	untar_safe(fd, dir, NULL, &e);
	close(fd);
	if (entries(outer) != 1) /* something landed beside the extraction folder */
		abort();
	rm_tree(outer);
	return 0;
}
