/*
 * Safe tar extraction (see untar.h): POSIX ustar headers, pax extended
 * headers (path, linkpath, size) and GNU long names; regular files,
 * directories, and hard links that stay inside the tree. No symbolic link is
 * ever created, so every path resolves inside the tree by its text alone.
 */
#include "util/untar.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/jsonw.h"
#include "util/strbuf.h"
#include "util/xalloc.h"
#include "util/banned.h"

#define BLOCK 512
#define MAX_META (1u << 20)

struct tar {
	int fd;
	const char *dst;
	uint64_t off;            /* bytes consumed */
	struct strbuf path, link; /* from pax or GNU headers, for the next entry */
	int64_t pax_size;        /* -1: none */
	uint64_t at;             /* the current entry's header offset */
	struct strbuf *skipped;  /* symbolic links left out, or NULL */
	struct cv_err *e;
};

static int rd(struct tar *t, void *buf, size_t n, int *eof)
{
	unsigned long long at;
	size_t got = 0;
	ssize_t r;

	*eof = 0;
	while (got < n) {
		r = read(t->fd, (char *)buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		at = t->off + got;
		if (r < 0)
			return cv_errno(t->e, CV_EIO, "tar: read failed at offset %llu", at);
		if (r == 0) {
			if (got == 0) {
				*eof = 1;
				return 0;
			}
			return cv_errf(t->e, CV_ECORRUPT, "tar: truncated at offset %llu", at);
		}
		got += (size_t)r;
	}
	t->off += n;
	return 0;
}

static int skip(struct tar *t, uint64_t n)
{
	char buf[BLOCK];
	int eof, rc;

	while (n) {
		size_t k = n > BLOCK ? BLOCK : (size_t)n;

		if ((rc = rd(t, buf, k, &eof)))
			return rc;
		if (eof)
			return cv_errf(t->e, CV_ECORRUPT, "tar: truncated at offset %llu",
				       (unsigned long long)t->off);
		n -= k;
	}
	return 0;
}

/* Octal, or base-256 when the high bit is set (GNU). */
static int parse_num(const unsigned char *p, size_t n, uint64_t *v)
{
	size_t i = 0;

	*v = 0;
	if (p[0] & 0x80) {
		for (i = 1; i < n; i++)
			*v = (*v << 8) | p[i];
		return (p[0] & 0x7f) ? -1 : 0;
	}
	while (i < n && p[i] == ' ')
		i++;
	for (; i < n && p[i] >= '0' && p[i] <= '7'; i++)
		*v = (*v << 3) | (uint64_t)(p[i] - '0');
	return 0;
}

static int checksum_ok(const unsigned char *h)
{
	uint64_t want, sum = 0;
	int i;

	if (parse_num(h + 148, 8, &want))
		return 0;
	for (i = 0; i < BLOCK; i++)
		sum += (i >= 148 && i < 156) ? ' ' : h[i];
	return sum == want;
}

/* A relative path with no "..", "." or empty component; trailing / dropped. */
static int safe_path(struct strbuf *p)
{
	const char *s;
	size_t n;

	while (p->len > 1 && p->buf[p->len - 1] == '/')
		sb_setlen(p, p->len - 1);
	while (p->len >= 2 && !strncmp(p->buf, "./", 2)) {
		memmove(p->buf, p->buf + 2, p->len - 1);
		p->len -= 2;
	}
	if (!p->len || p->buf[0] == '/' || memchr(p->buf, '\0', p->len))
		return 0;
	for (s = p->buf; *s; s += n + (s[n] == '/')) {
		n = strcspn(s, "/");
		if (!n || (n == 2 && !strncmp(s, "..", 2)) || (n == 1 && *s == '.'))
			return 0;
	}
	return 1;
}

/* Does a link at path with this target stay inside the tree? */
static int link_inside(const char *path, const char *target, int hard)
{
	struct strbuf full = STRBUF_INIT;
	const char *slash = strrchr(path, '/');
	int depth = 0, ok = 1;
	const char *s;
	size_t n;

	if (!*target || target[0] == '/')
		return 0;
	if (!hard && slash)
		sb_add(&full, path, (size_t)(slash - path + 1));
	sb_adds(&full, target);
	for (s = full.buf; ok && *s; s += n + (s[n] == '/')) {
		n = strcspn(s, "/");
		if (n == 2 && !strncmp(s, "..", 2))
			ok = --depth >= 0;
		else if (n && !(n == 1 && *s == '.'))
			depth++;
	}
	sb_release(&full);
	return ok;
}

/* The body of a pax or GNU long-name header, NUL-terminated. */
static int read_meta(struct tar *t, uint64_t size, struct strbuf *out)
{
	uint64_t padded = (size + BLOCK - 1) / BLOCK * BLOCK;
	int eof, rc;

	if (size > MAX_META)
		return cv_errf(t->e, CV_ECORRUPT, "tar: offset %llu: extended header "
			       "of %llu bytes", (unsigned long long)t->off,
			       (unsigned long long)size);
	sb_reset(out);
	sb_grow(out, (size_t)padded);
	if ((rc = rd(t, out->buf, (size_t)padded, &eof)))
		return rc;
	if (eof)
		return cv_errf(t->e, CV_ECORRUPT, "tar: truncated extended header");
	sb_setlen(out, (size_t)size);
	return 0;
}

/* pax records "LEN key=value\n": keep path, linkpath and size. */
static int parse_pax(struct tar *t, const struct strbuf *b)
{
	size_t i = 0, len;
	const char *rec, *eq;
	char *end;

	while (i < b->len) {
		len = strtoul(b->buf + i, &end, 10);
		rec = end + 1;
		if (!len || i + len > b->len || *end != ' ')
			return cv_errf(t->e, CV_ECORRUPT, "tar: malformed pax header "
				       "before offset %llu", (unsigned long long)t->off);
		eq = memchr(rec, '=', (size_t)(b->buf + i + len - rec));
		if (eq && !strncmp(rec, "path=", 5)) {
			sb_reset(&t->path);
			sb_add(&t->path, eq + 1, (size_t)(b->buf + i + len - 1 - eq - 1));
		} else if (eq && !strncmp(rec, "linkpath=", 9)) {
			sb_reset(&t->link);
			sb_add(&t->link, eq + 1, (size_t)(b->buf + i + len - 1 - eq - 1));
		} else if (eq && !strncmp(rec, "size=", 5)) {
			t->pax_size = strtoll(eq + 1, NULL, 10);
		}
		i += len;
	}
	return 0;
}

/*
 * An entry that cannot be made: named with its offset, as bad input when the
 * stream is at fault (a name given twice, or too long).
 */
static int create_failed(struct tar *t, const char *path)
{
	int err = errno;
	unsigned long long at = (unsigned long long)t->at;

	if (err == EEXIST || err == EISDIR || err == ENOTDIR)
		return cv_errf(t->e, CV_ECORRUPT, "tar: entry \"%s\" at offset %llu: "
			       "its name is already taken by an earlier entry",
			       t->path.buf, at);
	if (err == ENAMETOOLONG)
		return cv_errf(t->e, CV_ECORRUPT, "tar: entry \"%s\" at offset %llu: "
			       "name too long", t->path.buf, at);
	errno = err;
	return cv_errno(t->e, CV_EIO, "%s: cannot create (tar entry at offset %llu)",
			path, at);
}

/* The folders above an entry, made where the stream did not list them. */
static int make_parents(struct tar *t, const struct strbuf *full)
{
	struct strbuf dir = STRBUF_INIT;
	size_t base = strlen(t->dst) + 1, i;
	int rc = 0;

	sb_add(&dir, full->buf, full->len);
	for (i = base; !rc && i < dir.len; i++) {
		if (dir.buf[i] != '/')
			continue;
		dir.buf[i] = '\0';
		if (mkdir(dir.buf, 0755) && errno != EEXIST)
			rc = create_failed(t, dir.buf);
		dir.buf[i] = '/';
	}
	sb_release(&dir);
	return rc;
}

static int write_file(struct tar *t, const char *path, uint64_t size,
		      unsigned mode)
{
	char buf[64 * 1024];
	uint64_t left = size, pad = (BLOCK - size % BLOCK) % BLOCK;
	int fd, eof, rc = 0;
	size_t k;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  mode & 0777);
	if (fd < 0)
		return create_failed(t, path);
	while (!rc && left) {
		k = left > sizeof(buf) ? sizeof(buf) : (size_t)left;
		rc = rd(t, buf, k, &eof);
		if (!rc && eof)
			rc = cv_errf(t->e, CV_ECORRUPT, "tar: truncated in %s", path);
		if (!rc && write(fd, buf, k) != (ssize_t)k)
			rc = cv_errno(t->e, CV_EIO, "%s: write failed", path);
		left -= k;
	}
	close(fd);
	return rc ? rc : skip(t, pad);
}

static int is_file_type(char type)
{
	return type == '0' || type == '\0' || type == '7';
}

/* Refuse what may not be extracted: 0, or the refusal in t->e. */
static int check_entry(struct tar *t, char type)
{
	struct strbuf target = STRBUF_INIT;
	unsigned long long at = (unsigned long long)t->at;
	int rc = 0;

	if (!safe_path(&t->path))
		return cv_errf(t->e, CV_ECORRUPT, "tar: entry \"%s\" at offset %llu: "
			       "absolute or \"..\" path refused", t->path.buf, at);
	if (!utf8_valid(t->path.buf, t->path.len))
		return cv_errf(t->e, CV_ECORRUPT, "tar: entry \"%s\" at offset %llu: "
			       "a name that is not UTF-8 (a snapshot records names as "
			       "JSON text)", t->path.buf, at);
	if (type == '1' || type == '2') {
		sb_adds(&target, t->link.buf);
		if (!link_inside(t->path.buf, target.buf, type == '1') ||
		    (type == '1' && !safe_path(&target)))
			rc = cv_errf(t->e, CV_ECORRUPT, "tar: entry \"%s\" at offset "
				     "%llu: link to \"%s\" leaves the tree",
				     t->path.buf, at, t->link.buf);
	} else if (!is_file_type(type) && type != '5') {
		rc = cv_errf(t->e, CV_ECORRUPT, "tar: entry \"%s\" at offset %llu: "
			     "type '%c' (device, FIFO or unknown) refused", t->path.buf,
			     at, type ? type : '0');
	}
	sb_release(&target);
	return rc;
}

/* A hard link at full to the earlier entry t->link. */
static int make_link(struct tar *t, const char *full)
{
	struct strbuf target = STRBUF_INIT;
	int rc = 0;

	sb_addf(&target, "%s/%s", t->dst, t->link.buf);
	if (link(target.buf, full))
		rc = errno == ENOENT ?
		     cv_errf(t->e, CV_ECORRUPT, "tar: entry \"%s\" at offset %llu: "
			     "link to \"%s\", which no earlier entry made",
			     t->path.buf, (unsigned long long)t->at, t->link.buf) :
		     create_failed(t, full);
	sb_release(&target);
	return rc;
}

/* One ordinary entry whose header is h and name t->path. */
static int extract_entry(struct tar *t, const unsigned char *h, uint64_t size)
{
	struct strbuf full = STRBUF_INIT;
	uint64_t mode = 0644;
	char type = (char)h[156];
	int rc;

	parse_num(h + 100, 8, &mode);
	if (type == '5' && (!strcmp(t->path.buf, ".") || !strcmp(t->path.buf, "./")))
		return 0; /* the root itself */
	if ((rc = check_entry(t, type)))
		return rc;
	sb_addf(&full, "%s/%s", t->dst, t->path.buf);
	if (type == '2') { /* inside the tree, and never created */
		if (t->skipped)
			sb_addf(t->skipped, "%s -> %s\n", t->path.buf, t->link.buf);
	} else if ((rc = make_parents(t, &full))) {
		/* named by make_parents */
	} else if (is_file_type(type)) {
		rc = write_file(t, full.buf, size, (unsigned)mode);
	} else if (type == '5') {
		if (mkdir(full.buf, 0755) && errno != EEXIST)
			rc = create_failed(t, full.buf);
	} else {
		rc = make_link(t, full.buf);
	}
	if (!rc && !is_file_type(type) && size)
		rc = skip(t, (size + BLOCK - 1) / BLOCK * BLOCK);
	sb_release(&full);
	return rc;
}

static void take_name(struct tar *t, const unsigned char *h)
{
	if (!t->path.len) {
		/* ustar: prefix (345, 155 bytes) + '/' + name (0, 100 bytes) */
		if (!memcmp(h + 257, "ustar", 5) && h[345]) {
			sb_add(&t->path, h + 345, strnlen((const char *)h + 345, 155));
			sb_addch(&t->path, '/');
		}
		sb_add(&t->path, h, strnlen((const char *)h, 100));
	}
	if (!t->link.len)
		sb_add(&t->link, h + 157, strnlen((const char *)h + 157, 100));
}

static int one_header(struct tar *t, const unsigned char *h)
{
	struct strbuf meta = STRBUF_INIT;
	uint64_t size;
	int rc;

	if (!checksum_ok(h))
		return cv_errf(t->e, CV_ECORRUPT, "tar: offset %llu: not a tar header "
			       "(bad checksum)", (unsigned long long)(t->off - BLOCK));
	parse_num(h + 124, 12, &size);
	if (!t->path.len)
		t->at = t->off - BLOCK; /* a pax or long-name header starts the entry */
	if (h[156] == 'x' || h[156] == 'L' || h[156] == 'K') {
		if (!(rc = read_meta(t, size, &meta))) {
			if (h[156] == 'x')
				rc = parse_pax(t, &meta);
			else if (meta.len)
				sb_add(h[156] == 'L' ? &t->path : &t->link, meta.buf,
				       strnlen(meta.buf, meta.len));
		}
		sb_release(&meta);
		return rc;
	}
	if (h[156] == 'g')
		return skip(t, (size + BLOCK - 1) / BLOCK * BLOCK);
	if (t->pax_size >= 0)
		size = (uint64_t)t->pax_size;
	take_name(t, h);
	rc = extract_entry(t, h, size);
	sb_reset(&t->path);
	sb_reset(&t->link);
	t->pax_size = -1;
	return rc;
}

int untar_safe(int fd, const char *dst, struct strbuf *skipped, struct cv_err *e)
{
	static const unsigned char zero[BLOCK];
	unsigned char h[BLOCK];
	struct tar t = { fd, dst, 0, STRBUF_INIT, STRBUF_INIT, -1, 0, skipped, e };
	int rc = 0, eof = 0, entries = 0;

	while (!rc) {
		if ((rc = rd(&t, h, BLOCK, &eof)) || eof)
			break;
		if (!memcmp(h, zero, BLOCK))
			break; /* end-of-archive marker */
		rc = one_header(&t, h);
		entries++;
	}
	if (!rc && !entries)
		rc = cv_errf(e, CV_ECORRUPT, "tar: empty stream");
	sb_release(&t.path);
	sb_release(&t.link);
	return rc;
}
