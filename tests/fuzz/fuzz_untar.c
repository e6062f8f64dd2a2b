/*
 * libFuzzer target for the tar reader behind backup --from-tar
 * (util/untar.c): any input either extracts inside a fresh directory or is
 * refused; nothing may land outside it.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/fsutil.h"
#include "util/untar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char dir[64] = "/tmp/cv-fuzz-untar-XXXXXX";
	struct cv_err e = { 0 };
	int fd = memfd_create("tar", 0);

	if (fd < 0 || !mkdtemp(dir))
		abort();
	if (write(fd, data, size) != (ssize_t)size)
		abort();
	lseek(fd, 0, SEEK_SET);
	untar_safe(fd, dir, NULL, &e);
	close(fd);
	rm_tree(dir);
	return 0;
}
