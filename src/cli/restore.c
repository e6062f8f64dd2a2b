/*
 * `chromavault restore REPO SNAPSHOT|latest TARGET`: a snapshot back into a
 * directory, every chunk and file hash checked, complete or not at all.
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "repo/manifest.h"
#include "repo/repo.h"
#include "util/fsutil.h"
#include "util/progress.h"
#include "util/strbuf.h"
#include "util/xalloc.h"
#include "util/banned.h"

/*
 * A file is restored in units of consecutive chunks: worker threads read and
 * decompress the chunks of a unit and write it at its offset; the units are
 * hashed in order for the whole-file check by whichever worker finishes the
 * unit that is due (one at a time), so none waits for its turn.
 *
 * The file's SHA-256, recorded by the backup from the bytes it cut into
 * chunks, matches only if every chunk came back as it was, so the chunks are
 * not hashed one by one as well; when it does not match, the file is
 * restored again with every chunk checked, to name the one that is damaged.
 */
#define UNIT_BYTES (4u << 20)
#define MAX_WORKERS 8

struct unit {
	size_t first, n;       /* chunks [first, first + n) of the list */
	uint64_t off;          /* in the file */
	struct strbuf data;
	int done, rc;
	uint64_t bad_off;      /* where it failed */
	struct cv_err err;
};

struct rfile {
	struct repo *r;
	const uint8_t *hashes;
	const struct chunk_loc **locs; /* each chunk's, looked up once */
	int fd;
	const char *path;
	struct unit *u;
	size_t nu, next, hashed, window;
	struct sha256 *whole;  /* the whole-file hash, fed in unit order */
	struct unit *failed;   /* the first unit, in order, that failed */
	uint64_t prog_start;   /* the progress count before the file */
	int check;             /* hash every chunk too */
	int stop, hashing;
	pthread_mutex_t mu;
	pthread_cond_t cv;
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

static void run_unit(struct rfile *f, struct repo_reader *rd, struct unit *u)
{
	size_t i;

	for (i = 0; !u->rc && i < u->n; i++) {
		u->bad_off = u->off + u->data.len;
		u->rc = (f->check ? repo_append_at : repo_append_unchecked)(
			f->r, rd, f->locs[u->first + i],
			f->hashes + (u->first + i) * SHA256_LEN, &u->data, &u->err);
	}
	if (!u->rc && pwrite_all(f->fd, u->data.buf, u->data.len, u->off))
		u->rc = cv_errno(&u->err, CV_EIO, "%s: write failed", f->path);
	/* start writing it out now, so the fsync at the end has less to wait for */
	if (!u->rc)
		sync_file_range(f->fd, (off_t)u->off, (off_t)u->data.len,
				SYNC_FILE_RANGE_WRITE);
}

/* With the lock held: hash the units whose turn has come, one thread at a time. */
static void hash_due(struct rfile *f)
{
	struct unit *u;

	while (!f->hashing && !f->stop && f->hashed < f->nu && f->u[f->hashed].done) {
		u = &f->u[f->hashed];
		if (u->rc) {
			f->failed = u;
			f->stop = 1;
			break;
		}
		f->hashing = 1;
		pthread_mutex_unlock(&f->mu);
		sha256_update(f->whole, u->data.buf, u->data.len);
		prog_done += u->data.len;
		progress_update(&prog, prog_done);
		sb_release(&u->data);
		pthread_mutex_lock(&f->mu);
		f->hashing = 0;
		f->hashed++;
	}
	pthread_cond_broadcast(&f->cv);
}

static void *worker(void *arg)
{
	struct rfile *f = arg;
	struct repo_reader rd;
	struct unit *u;

	repo_reader_init(&rd);
	pthread_mutex_lock(&f->mu);
	for (;;) {
		while (!f->stop && f->next < f->nu && f->next >= f->hashed + f->window)
			pthread_cond_wait(&f->cv, &f->mu);
		if (f->stop || f->next >= f->nu)
			break;
		u = &f->u[f->next++];
		pthread_mutex_unlock(&f->mu);
		run_unit(f, &rd, u);
		pthread_mutex_lock(&f->mu);
		u->done = 1;
		hash_due(f);
	}
	pthread_mutex_unlock(&f->mu);
	repo_reader_release(&rd);
	return NULL;
}

/* Cut the list into units; a chunk missing from every index is an error. */
static int plan_units(struct rfile *f, size_t nchunks, uint64_t *size,
		      struct cv_err *e)
{
	const struct chunk_loc *loc;
	uint64_t off = 0, len = 0;
	size_t i, cap = 0;
	char hex[2 * SHA256_LEN + 1];

	f->nu = 0;
	f->locs = xcalloc(nchunks + 1, sizeof(const struct chunk_loc *));
	for (i = 0; i < nchunks; i++) {
		loc = f->locs[i] = repo_find(f->r, f->hashes + i * SHA256_LEN);
		if (!loc) {
			hex_encode(f->hashes + i * SHA256_LEN, SHA256_LEN, hex);
			*size = off + len;
			if (repo_indexes_ok(f->r, e)) { /* the likely cause, then */
				cv_err_prefix(e, "chunk %s: not in any index read; "
					      "one could not be", hex);
				return CV_ECORRUPT;
			}
			return cv_errf(e, CV_ECORRUPT, "chunk %s: not in the repository", hex);
		}
		if (!f->nu || len >= UNIT_BYTES) {
			if (f->nu == cap) {
				cap = cap ? 2 * cap : 16;
				f->u = xrealloc(f->u, cap * sizeof(*f->u));
			}
			off += len;
			len = 0;
			memset(&f->u[f->nu], 0, sizeof(f->u[0]));
			f->u[f->nu].first = i;
			f->u[f->nu].off = off;
			f->nu++;
		}
		f->u[f->nu - 1].n++;
		len += loc->ulen;
	}
	*size = off + len;
	return 0;
}

/* Wait until every unit is hashed, or one failed (the first in order wins). */
static int wait_units(struct rfile *f, uint64_t *bad, struct cv_err *e)
{
	int rc = 0;

	pthread_mutex_lock(&f->mu);
	while (!f->stop && f->hashed < f->nu)
		pthread_cond_wait(&f->cv, &f->mu);
	if (f->failed) {
		rc = f->failed->rc;
		*e = f->failed->err;
		*bad = f->failed->bad_off;
	}
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static size_t worker_count(size_t units)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	size_t w = n < 1 ? 1 : (size_t)n;

	w = w > MAX_WORKERS ? MAX_WORKERS : w;
	return w < units ? w : (units ? units : 1);
}

static int run_workers(struct rfile *f, struct sha256 *whole, uint64_t *bad,
		       struct cv_err *e)
{
	pthread_t th[MAX_WORKERS];
	size_t nw = worker_count(f->nu), started = 0, i;
	int rc;

	f->window = 2 * nw + 2;
	f->whole = whole;
	for (i = 0; i < nw; i++)
		if (!thread_start(&th[started], worker, f))
			started++;
	if (!started)
		worker(f); /* no thread: this one reads, writes and hashes it all */
	rc = wait_units(f, bad, e);
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < f->nu; i++)
		sb_release(&f->u[i].data);
	return rc;
}

/* One pass over the file's units: written, and hashed whole into sum. */
static int restore_pass(struct rfile *f, int check, uint8_t sum[SHA256_LEN],
			uint64_t *bad, struct cv_err *e)
{
	struct sha256 whole;
	size_t i;
	int rc;

	for (i = 0; i < f->nu; i++) {
		f->u[i].done = f->u[i].rc = 0;
		cv_err_clear(&f->u[i].err);
	}
	f->next = f->hashed = 0;
	f->stop = f->hashing = 0;
	f->failed = NULL;
	f->check = check;
	prog_done = f->prog_start; /* a second pass is not counted twice */
	sha256_init(&whole);
	rc = run_workers(f, &whole, bad, e);
	sha256_final(&whole, sum);
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
	struct rfile f = { .r = r, .fd = fd, .path = path, .prog_start = prog_done };
	uint8_t sum[SHA256_LEN] = { 0 };
	uint64_t size = 0, bad = 0;
	int rc;

	if ((rc = mf_file_list(r, mf, &list, e))) {
		struct cv_err ie = { 0 };

		if (repo_indexes_ok(r, &ie))
			cv_err_prefix(e, "%s (its pack may hold it)", ie.msg);
		cv_err_prefix(e, "snapshot %s: %s: its chunk list", m->name, mf->path);
		sb_release(&list);
		return rc;
	}
	pthread_mutex_init(&f.mu, NULL);
	pthread_cond_init(&f.cv, NULL);
	f.hashes = (const uint8_t *)list.buf;
	if (!(rc = plan_units(&f, list.len / SHA256_LEN, &size, e)))
		rc = restore_pass(&f, 0, sum, &bad, e);
	else
		bad = size;
	if (!rc && (size != mf->size || memcmp(sum, mf->sha, SHA256_LEN)) &&
	    !(rc = restore_pass(&f, 1, sum, &bad, e)))
		rc = cv_errf(e, CV_ECORRUPT, "snapshot %s: %s: restored content does "
			     "not match its recorded size and sha256", m->name, mf->path);
	else if (rc)
		cv_err_prefix(e, "snapshot %s: %s at offset %llu", m->name, mf->path,
			      (unsigned long long)bad);
	free(f.u);
	free(f.locs);
	pthread_mutex_destroy(&f.mu);
	pthread_cond_destroy(&f.cv);
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
