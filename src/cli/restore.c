/*
 * `chromavault restore REPO SNAPSHOT|latest TARGET`: a snapshot back into a
 * directory, every chunk and file hash checked, complete or not at all.
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "repo/manifest.h"
#include "repo/readback.h"
#include "repo/repo.h"
#include "util/fsutil.h"
#include "util/progress.h"
#include "util/strbuf.h"
#include "util/xalloc.h"
#include "util/banned.h"

/*
 * Each file is read back by readback.h's workers and written unit by unit.
 * The file's SHA-256, recorded by the backup from the bytes it cut into
 * chunks, matches only if every chunk came back as it was, so the chunks are
 * not hashed one by one as well; when it does not match, the file is
 * restored again with every chunk checked, to name the one that is damaged.
 */
struct out_file {
	int fd;
	const char *path;
};

static struct progress prog;
static uint64_t prog_done;

static int pwrite_all(int fd, const void *p, size_t n, uint64_t off)
{
	const char *c = p;
	ssize_t w;

	while (n) {
		w = pwrite(fd, c, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

static int put_unit(void *ctx, const void *p, size_t n, uint64_t off,
		    struct cv_err *e)
{
	const struct out_file *o = ctx;

	if (pwrite_all(o->fd, p, n, off))
		return cv_errno(e, CV_EIO, "%s: write failed", o->path);
	/* start writing it out now, so the fsync at the end has less to wait for */
	sync_file_range(o->fd, (off_t)off, (off_t)n, SYNC_FILE_RANGE_WRITE);
	return 0;
}

static void unit_hashed(void *ctx, uint64_t bytes)
{
	prog_done += bytes;
	progress_update(&prog, prog_done);
}

/* One pass over the file's chunks: written, and hashed whole into rb->sha. */
static int restore_pass(struct readback *rb, int check, uint64_t *bad,
			struct cv_err *e)
{
	int rc;

	readback_release(rb);
	rb->check_all = check;
	rc = readback_run(rb, e);
	if (rc)
		*bad = rb->nfails ? rb->fails[0].off : rb->size;
	return rc;
}

/*
 * The chunks of one file, then the whole file's hash; where that differs,
 * the chunks again, each checked, so that the message names the damaged one.
 */
static int restore_data(struct repo *r, const struct manifest *m,
			const struct mf_file *mf, int fd, const char *path,
			struct cv_err *e)
{
	struct strbuf list = STRBUF_INIT;
	struct out_file o = { fd, path };
	struct readback rb = { .r = r, .put = put_unit, .hashed = unit_hashed,
			       .ctx = &o };
	uint64_t start = prog_done, bad = 0;
	int rc;

	if ((rc = mf_file_list(r, mf, &list, e))) {
		struct cv_err ie = { 0 };

		if (repo_indexes_ok(r, &ie))
			cv_err_prefix(e, "%s (its pack may hold it)", ie.msg);
		cv_err_prefix(e, "snapshot %s: %s: its chunk list", m->name, mf->path);
		sb_release(&list);
		return rc;
	}
	rb.hashes = (const uint8_t *)list.buf;
	rb.n = list.len / SHA256_LEN;
	rc = restore_pass(&rb, 0, &bad, e);
	if (!rc && (rb.size != mf->size || memcmp(rb.sha, mf->sha, SHA256_LEN))) {
		prog_done = start; /* a second pass is not counted twice */
		if (!(rc = restore_pass(&rb, 1, &bad, e)))
			rc = cv_errf(e, CV_ECORRUPT, "snapshot %s: %s: restored content "
				     "does not match its recorded size and sha256",
				     m->name, mf->path);
		else
			cv_err_prefix(e, "snapshot %s: %s at offset %llu", m->name,
				      mf->path, (unsigned long long)bad);
	} else if (rc) {
		cv_err_prefix(e, "snapshot %s: %s at offset %llu", m->name, mf->path,
			      (unsigned long long)bad);
	}
	readback_release(&rb);
	sb_release(&list);
	return rc;
}

static int restore_file(struct repo *r, const struct manifest *m,
			const struct mf_file *f, const char *root, struct cv_err *e)
{
	struct strbuf path = STRBUF_INIT;
	struct timespec ts[2];
	int fd, rc;

	sb_addf(&path, "%s/%s", root, f->path);
	if (f->is_dir) {
		rc = mkdir(path.buf, 0755) && errno != EEXIST ?
		     cv_errno(e, CV_EIO, "%s: cannot create", path.buf) : 0;
		sb_release(&path);
		return rc;
	}
	fd = open(path.buf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = cv_errno(e, CV_EIO, "%s: cannot create", path.buf);
		sb_release(&path);
		return rc;
	}
	rc = restore_data(r, m, f, fd, path.buf, e);
	ts[0].tv_sec = ts[1].tv_sec = f->mtime_ns / 1000000000;
	ts[0].tv_nsec = ts[1].tv_nsec = f->mtime_ns % 1000000000;
	if (!rc && (fchmod(fd, f->mode & 07777) || futimens(fd, ts) || fsync(fd)))
		rc = cv_errno(e, CV_EIO, "%s: cannot finish", path.buf);
	close(fd);
	sb_release(&path);
	return rc;
}

/*
 * The path restore works on, which the caller frees: an existing TARGET
 * resolved (links, "." and trailing slashes), so a link to a folder is
 * filled, not replaced; a new one without its trailing slashes, in a folder
 * that must exist.
 */
static char *target_path(const char *target, struct cv_err *e)
{
	char *p = realpath(target, NULL), *slash;
	size_t n;
	struct stat st;
	int parent_ok;

	if (p || errno != ENOENT) {
		if (!p)
			cv_errno(e, CV_EIO, "%s", target);
		return p;
	}
	p = xstrdup(target);
	for (n = strlen(p); n > 1 && p[n - 1] == '/'; n--)
		p[n - 1] = '\0';
	slash = strrchr(p, '/');
	if (!slash) {
		parent_ok = 1; /* in the current folder */
	} else if (slash == p) {
		parent_ok = 1; /* in the root */
	} else {
		*slash = '\0';
		parent_ok = !stat(p, &st) && S_ISDIR(st.st_mode);
		*slash = '/';
	}
	if (parent_ok)
		return p;
	cv_errf(e, CV_ENOTFOUND, "%s: the folder to hold it does not exist", target);
	free(p);
	return NULL;
}

/*
 * TARGET may not be, hold or lie inside the repository: a restore replaces
 * TARGET, and with it what it holds. *replace: TARGET holds something,
 * which --force lets the restore replace.
 */
static int target_ok(const char *repo_path, const char *target, int force,
		     int *replace, struct cv_err *e)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	int empty = 1;

	*replace = 0;
	if (path_within(target, repo_path))
		return cv_errf(e, CV_EUSAGE, "%s: holds the repository %s, which the "
			       "restore would replace", target, repo_path);
	if (path_within(repo_path, target))
		return cv_errf(e, CV_EUSAGE, "%s: inside the repository %s", target,
			       repo_path);
	if (stat(target, &st))
		return 0;
	if (!S_ISDIR(st.st_mode))
		return cv_errf(e, CV_EUSAGE, "%s: exists and is not a directory", target);
	d = opendir(target);
	while (d && empty && (de = readdir(d)))
		empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
	if (d)
		closedir(d);
	if (!empty && !force)
		return cv_errf(e, CV_EUSAGE, "%s: not empty (use --force to replace it)",
			       target);
	*replace = !empty;
	return 0;
}

/* The rename made durable, before the old tree goes. */
static int sync_target(const char *target, struct cv_err *e)
{
	if (sync_parent(target))
		return cv_errno(e, CV_EIO, "%s: restored, but the folder holding it "
				"cannot be synced", target);
	return 0;
}

/* The old tree moved aside, the new one renamed in, the old one removed. */
static int swap_in_two_steps(const char *tmp, const char *target,
			     struct cv_err *e)
{
	struct strbuf old = STRBUF_INIT;
	int rc = 0;

	sb_addf(&old, "%s.old.%ld", target, (long)getpid());
	if (rename(target, old.buf))
		rc = cv_errno(e, CV_EIO, "%s: cannot move aside", target);
	if (!rc && rename(tmp, target)) {
		rc = cv_errno(e, CV_EIO, "%s: cannot rename into place", target);
		rename(old.buf, target);
	}
	if (rc)
		rm_tree(tmp); /* the old tree is back in place */
	else if (!(rc = sync_target(target, e)))
		rm_tree(old.buf);
	else
		cv_err_prefix(e, "the previous tree is kept in %s", old.buf);
	sb_release(&old);
	return rc;
}

/*
 * Move the finished tree into place: renamed onto a TARGET that is missing or
 * empty. A TARGET that holds something (--force) is exchanged with it
 * in one step (renameat2 RENAME_EXCHANGE), so a crash leaves either the old
 * tree or the new one at TARGET, never neither; the old one, now at tmp, is
 * then removed, once the exchange is durable. On an error the new tree is
 * removed, and the old one is where it was or named in the message.
 */
static int swap_in(const char *tmp, const char *target, int replace,
		   struct cv_err *e)
{
	int rc;

	if (!replace) {
		/* replaces an empty folder only: what was written into it after
		 * it was found empty stays */
		if (!rename(tmp, target))
			return sync_target(target, e);
		if (errno == ENOTEMPTY || errno == EEXIST)
			rc = cv_errf(e, CV_EIO, "%s: no longer empty: something was "
				     "written into it during the restore, which is "
				     "left as it is (use --force to replace it)",
				     target);
		else
			rc = cv_errno(e, CV_EIO, "%s: cannot rename into place", target);
		rm_tree(tmp);
		return rc;
	}
	if (!renameat2(AT_FDCWD, tmp, AT_FDCWD, target, RENAME_EXCHANGE)) {
		if (!(rc = sync_target(target, e)))
			rm_tree(tmp); /* the old tree, once the exchange is durable */
		else
			cv_err_prefix(e, "the previous tree is kept in %s", tmp);
		return rc;
	}
	if (errno != EINVAL && errno != ENOSYS) {
		rc = cv_errno(e, CV_EIO, "%s: cannot exchange with the restored tree",
			      target);
		rm_tree(tmp);
		return rc;
	}
	return swap_in_two_steps(tmp, target, e); /* a filesystem without it */
}

static int restore_all(const char *repo_path, const char *snap,
		       const char *target, int force, struct cv_err *e)
{
	struct strbuf tmp = STRBUF_INIT, p = STRBUF_INIT;
	struct manifest m = { 0 };
	struct repo r;
	uint64_t total;
	size_t i;
	int rc, replace, held = -1;

	if ((rc = target_ok(repo_path, target, force, &replace, e)))
		return rc;
	if ((rc = repo_open(repo_path, STORE_READ, &r, e)))
		return rc;
	if ((rc = manifest_load(&r, snap, &m, e)) || (rc = repo_refresh(&r, e)))
		goto out; /* refreshed: the packs a backup beside added */
	if (tmp_dir_make(target, &tmp, &held)) {
		rc = cv_errno(e, CV_EIO, "%s: cannot create", tmp.buf);
		goto out;
	}
	for (i = 0, total = 0; i < m.n; i++)
		total += m.files[i].size;
	progress_init(&prog, "restore", total);
	for (i = 0; !rc && i < m.n; i++)
		rc = restore_file(&r, &m, &m.files[i], tmp.buf, e);
	progress_end(&prog);
	for (i = 0; !rc && i < m.n; i++) {
		if (!m.files[i].is_dir)
			continue;
		sb_reset(&p);
		sb_addf(&p, "%s/%s", tmp.buf, m.files[i].path);
		if (sync_dir(p.buf))
			rc = cv_errno(e, CV_EIO, "%s: cannot sync", p.buf);
	}
	if (!rc && sync_dir(tmp.buf))
		rc = cv_errno(e, CV_EIO, "%s: cannot sync", tmp.buf);
	signal_cleanup_dir(NULL); /* from here tmp may hold the old tree */
	if (rc)
		rm_tree(tmp.buf); /* incomplete, and ours */
	else if (!(rc = swap_in(tmp.buf, target, replace, e))) {
		printf("restored snapshot %s: %zu entries into %s\n", m.name, m.n, target);
		/* what its backup left out is not in TARGET either */
		cli_print_warnings(&cmd_restore, "when backed up",
				   json_object_get(m.root, "warnings"));
	}
out:
	if (held >= 0)
		close(held);
	manifest_release(&m);
	repo_close(&r, NULL);
	sb_release(&tmp);
	sb_release(&p);
	return rc;
}

static int restore_run(int argc, char **argv)
{
	static const char *const names[] = { "force", NULL };
	struct cv_err e = { 0 };
	int flags[1], rc;
	char *target;

	if ((rc = cli_flags(&cmd_restore, argc, argv, names, flags, 3,
			    "REPO, SNAPSHOT and TARGET")) >= 0)
		return rc;
	if (!(target = target_path(argv[optind + 2], &e)))
		return cli_fail(&cmd_restore, &e);
	rc = restore_all(argv[optind], argv[optind + 1], target, flags[0], &e);
	free(target);
	return rc ? cli_fail(&cmd_restore, &e) : 0;
}

const struct cli_cmd cmd_restore = {
	.name = "restore",
	.usage = "restore REPO SNAPSHOT|latest TARGET [--force] [--lock-wait S]",
	.summary = "Restore a snapshot into TARGET, which must not exist or be empty.\n"
		   "Files are written into a temporary folder beside it, each checked\n"
		   "against its SHA-256 (where one differs, its chunks are checked\n"
		   "one by one to name the damaged one), then renamed into place:\n"
		   "TARGET holds the whole snapshot or is left as it was.",
	.options = "  --force           replace a non-empty TARGET (only once the restore\n"
		   "                    succeeded)\n" CLI_LOCK_WAIT_HELP,
	.run = restore_run,
	.lock_wait = 1,
};
