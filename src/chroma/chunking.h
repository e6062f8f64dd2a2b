/*
 * Chroma-aware chunking (REPOSITORY.md "Chunks"): SQLite by page,
 * data_level0.bin by element with the neighbour list apart, other files by
 * 64 KiB.
 */
#ifndef CV_CHUNKING_H
#define CV_CHUNKING_H

#include "repo/chunker.h"

#define CHUNK_DEFAULT (64u * 1024)
/* A pickle up to this size is one chunk (see chunking.c). */
#define PICKLE_WHOLE_MAX (16u << 20)

/*
 * The cut for file `name` (its base name) in folder `dir` of a persist
 * directory; head: the file's first bytes (at least 100 for chroma.sqlite3).
 */
void chroma_cutter(const char *dir, const char *name, const unsigned char *head,
		   unsigned long head_len, struct cutter *c);

#endif
