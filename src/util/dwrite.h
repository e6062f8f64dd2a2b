/*
 * Appending to a new file straight to the disk (O_DIRECT) where the
 * filesystem allows it: bytes are gathered in a block-aligned buffer and
 * written DW_BUF at a time, so the kernel neither copies them into its page
 * cache nor keeps them there, and the pages of the database being read stay
 * cached. The tail is written padded to a block and the file cut back to its
 * size. Where O_DIRECT is refused (tmpfs, some network filesystems), plain
 * writes, handed to the disk every WRITEBACK_STEP so the final fsync waits
 * for the last step only.
 */
#ifndef CV_DWRITE_H
#define CV_DWRITE_H

#include <stddef.h>
#include <stdint.h>

#define DW_BUF (1u << 20)
#define DW_BLOCK 4096u

struct dwriter {
	int fd;
	int direct;           /* O_DIRECT in use: bytes gather in buf */
	unsigned char *buf;   /* DW_BUF bytes, DW_BLOCK-aligned */
	size_t len;
	uint64_t size;        /* bytes appended so far */
	uint64_t flushed;     /* plain writes: handed to the disk early */
};

/*
 * Create path for writing (flags: O_EXCL or O_TRUNC, with O_CREAT implied),
 * mode 0644. 0, or -1 with errno set and w->fd -1.
 */
int dw_open(struct dwriter *w, const char *path, int flags);
/* Append p[0..n); 0, or -1 with errno set. */
int dw_write(struct dwriter *w, const void *p, size_t n);
/* Write what is gathered, leaving the file exactly w->size bytes; 0 or -1. */
int dw_finish(struct dwriter *w);
/* Free the buffer; the file descriptor is the caller's to sync and close. */
void dw_release(struct dwriter *w);

#endif
