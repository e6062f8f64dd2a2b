/*
 * Chroma-aware chunking (see chunking.h): cuts that follow how Chroma writes,
 * so a flush that rewrites neighbour lists in place does not make every
 * vector look new.
 */
#include "chroma/chunking.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "hnsw/hnsw.h"
#include "util/banned.h"

static void cut_fixed(struct cutter *c, uint64_t n)
{
	c->a = c->b = n;
}

static void cut_sqlite(const unsigned char *head, unsigned long len,
		       struct cutter *c)
{
	unsigned page;

	cut_fixed(c, CHUNK_DEFAULT);
	if (len < 100 || memcmp(head, "SQLite format 3", 16))
		return;
	page = (unsigned)head[16] << 8 | head[17];
	if (page == 1)
		page = 65536;
	if (page >= 512 && !(page & (page - 1)))
		cut_fixed(c, page);
}

static void cut_level0(const char *dir, struct cutter *c)
{
	char path[4096];
	unsigned char buf[HNSW_HEADER_SIZE];
	struct hnsw_header h;
	struct cv_err e = { 0 };
	FILE *f;

	cut_fixed(c, CHUNK_DEFAULT);
	snprintf(path, sizeof(path), "%s/header.bin", dir);
	f = fopen(path, "rb");
	if (!f)
		return;
	if (fread(buf, 1, sizeof(buf), f) == sizeof(buf) &&
	    !hnsw_header_parse(buf, sizeof(buf), path, &h, &e)) {
		c->a = h.offset_data;                        /* neighbour list */
		c->b = h.size_data_per_element - h.offset_data; /* vector + label */
	}
	fclose(f);
}

/*
 * The pickle is rewritten whole, its entries in a new order, at every flush:
 * no cut finds unchanged runs in it, but as one chunk it is stored as a delta
 * against the previous one, which holds nearly every entry.
 */
static void cut_pickle(const char *dir, const char *name, struct cutter *c)
{
	char path[4096];
	struct stat st;

	cut_fixed(c, CHUNK_DEFAULT);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!stat(path, &st) && st.st_size > 0 && st.st_size <= PICKLE_WHOLE_MAX)
		cut_fixed(c, (uint64_t)st.st_size);
}

void chroma_cutter(const char *dir, const char *name, const unsigned char *head,
		   unsigned long head_len, struct cutter *c)
{
	if (!strcmp(name, "chroma.sqlite3"))
		cut_sqlite(head, head_len, c);
	else if (!strcmp(name, "data_level0.bin"))
		cut_level0(dir, c);
	else if (!strcmp(name, "index_metadata.pickle"))
		cut_pickle(dir, name, c);
	else
		cut_fixed(c, CHUNK_DEFAULT);
}
