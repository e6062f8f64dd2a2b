/*
 * `chromavault backup DIR REPO`: a consistent snapshot of a persist
 * directory, live or stopped, into a deduplicating repository.
 */
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chroma/db.h"
#include "chroma/livecopy.h"
#include "cli/cli.h"
#include "repo/fpcache.h"
#include "repo/manifest.h"
#include "repo/repo.h"
#include "util/fsutil.h"
#include "util/jsonw.h"
#include "util/progress.h"
#include "util/strbuf.h"
#include "util/untar.h"
#include "util/xalloc.h"
#include "util/banned.h"

#define BACKUP_RETRIES 8

struct backup_opts {
	int as_json;
	const char *from_tar;  /* a tar file, "-" for stdin, or NULL */
	const char *source;    /* --source, or NULL */
	int rehash;            /* --rehash: no fingerprint trusted */
};

static int s_dir(void *ctx, const char *rel, const struct stat *st, struct cv_err *e)
{
	return mfw_dir(ctx, rel, e);
}

static int s_begin(void *ctx, const char *rel, const struct stat *st,
		   const struct cutter *cut, struct cv_err *e)
{
	return mfw_file_begin(ctx, rel, st, cut);
}

static int s_chunks(void *ctx, const uint8_t *p, const size_t *lens, size_t n,
		    struct cv_err *e)
{
	struct mf_writer *w = ctx;
	int rc = mfw_chunks(w, p, lens, n, e);

	while (n--)
		w->done += lens[n];
	progress_update(w->progress, w->done);
	return rc;
}

static int s_end(void *ctx, struct cv_err *e)
{
	return mfw_file_end(ctx, e);
}

static int s_unchanged(void *ctx, const char *rel)
{
	struct mf_writer *w = ctx;
	json_t *f;

	if (!mfw_unchanged(w, rel))
		return 0;
	f = json_array_get(w->files, json_array_size(w->files) - 1);
	w->done += (uint64_t)json_integer_value(json_object_get(f, "size"));
	progress_update(w->progress, w->done);
	return 1;
}

static int k_has(void *ctx, const char *rel, const json_t *stamp)
{
	return mfw_has(ctx, rel, stamp);
}

static int k_same(void *dir, const char *rel, const json_t *stamp)
{
	return lc_stamp_is(dir, rel, stamp);
}

static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * "20261124T205538.123456Z-1a2b3c4d": named when the snapshot is written,
 * under the repository's exclusive lock, so names sort in writing order.
 */
static void snapshot_name(char *out, size_t n)
{
	struct timespec ts;
	struct tm tm;
	unsigned r = 0;
	FILE *f = fopen("/dev/urandom", "rb");

	if (f) {
		if (fread(&r, sizeof(r), 1, f) != 1)
			r = (unsigned)getpid();
		fclose(f);
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(out, n, "%Y%m%dT%H%M%S", &tm);
	snprintf(out + strlen(out), n - strlen(out), ".%06ldZ-%08x",
		 ts.tv_nsec / 1000, r);
}

static json_t *manifest_json(const char *source, const char *name, time_t t,
			     const struct lc_stats *st, struct mf_writer *w)
{
	char host[256] = "", iso[32];
	struct tm tm;

	gethostname(host, sizeof(host) - 1);
	gmtime_r(&t, &tm);
	strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
	/* NULL only if a string is not UTF-8: source is checked before */
	return json_pack("{s:s, s:i, s:s, s:s, s:I, s:s, s:s, s:s, s:f, s:o, s:O, s:O}",
			 "format", "chromavault-snapshot", "version", REPO_VERSION,
			 "id", name, "time", iso, "unix_time", (json_int_t)t,
			 "host", utf8_valid(host, strlen(host)) ? host : "?", "source", source,
			 "chroma_version", st->version, "lock_ms", st->lock_ms,
			 "collections", st->collections ? json_incref(st->collections) :
			 json_array(),
			 "warnings", st->warnings, "files", w->files);
}

/* Another backup creating the repository writes its config within 2 s. */
static int config_appears(const char *cfg)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	struct stat st;
	int i;

	for (i = 0; i < 40 && stat(cfg, &st); i++)
		nanosleep(&ts, NULL);
	return !stat(cfg, &st);
}

/*
 * Open REPO, creating it when it does not exist (*created then set: this
 * run made it). Two backups may race to create it: the one that finds it
 * made meanwhile opens it, waiting for the lock like any other.
 */
static int open_or_init(const char *path, struct repo *r, int *created,
			struct cv_err *e)
{
	struct stat st;
	char cfg[4096];
	int rc, made;

	*created = 0;
	snprintf(cfg, sizeof(cfg), "%s/config", path);
	if (stat(cfg, &st)) {
		int existed = !stat(path, &st); /* an empty folder the user made */

		rc = repo_init(path, &made, e);
		if (rc && (made || !config_appears(cfg)))
			return rc; /* made, but not durably: said, not swallowed */
		if (rc)
			cv_err_clear(e); /* made by another backup meanwhile */
		*created = !rc && !existed;
	}
	if ((rc = repo_open(path, STORE_APPEND, r, e)))
		return rc;
	/* left by an interrupted backup; the lock says none is running */
	repo_clean_leftovers(r, NULL);
	return 0;
}

static void report(const struct backup_opts *o, const char *name,
		   const struct lc_stats *st, const struct repo_stats *rs,
		   const struct mf_writer *w, double secs)
{
	json_int_t nfiles = 0, bytes = 0;
	json_t *j, *f;
	size_t i;

	json_array_foreach(w->files, i, f)
		if (!json_is_true(json_object_get(f, "dir"))) {
			nfiles++;
			bytes += json_integer_value(json_object_get(f, "size"));
		}
	if (o->as_json) {
		j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, "
			      "s:i, s:f}", "snapshot", name, "files", nfiles,
			      "files_unchanged", (json_int_t)w->unchanged, "bytes", bytes,
			      "bytes_read", (json_int_t)st->bytes_read,
			      "bytes_paged_in", (json_int_t)st->bytes_paged_in,
			      "bytes_new", (json_int_t)rs->bytes_new,
			      "bytes_stored", (json_int_t)rs->bytes_stored,
			      "chunks_new", (json_int_t)rs->chunks_new,
			      "chunks_delta", (json_int_t)rs->chunks_delta,
			      "chunks_known", (json_int_t)w->chunks_known,
			      "lock_ms", st->lock_ms, "retries", st->retries,
			      "seconds", secs);
		json_dumpf(j, stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(j);
		return;
	}
	printf("snapshot %s: %lld files (%llu unchanged), %.1f MB, "
	       "%.1f MB new, %.1f MB stored, %llu new chunks (%llu as deltas); %s "
	       "%.0f ms; %.2f s\n", name, (long long)nfiles,
	       (unsigned long long)w->unchanged, (double)bytes / 1e6,
	       (double)rs->bytes_new / 1e6, (double)rs->bytes_stored / 1e6,
	       (unsigned long long)rs->chunks_new, (unsigned long long)rs->chunks_delta,
	       lc_held(st), st->lock_ms, secs);
}

/*
 * The persist directory inside an extracted tar: its root, or the one folder
 * at its root (docker cp CONTAINER:/chroma/chroma - puts it in "chroma/").
 */
static void tar_root(const char *staging, struct strbuf *root)
{
	struct strbuf p = STRBUF_INIT;
	struct dirent *de;
	struct stat st;
	DIR *d = opendir(staging);
	int dirs = 0;

	sb_reset(root);
	sb_adds(root, staging);
	sb_addf(&p, "%s/chroma.sqlite3", staging);
	if (!stat(p.buf, &st) || !d)
		goto out;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		sb_reset(&p);
		sb_addf(&p, "%s/%s", staging, de->d_name);
		if (!lstat(p.buf, &st) && S_ISDIR(st.st_mode) && !dirs++) {
			sb_reset(root);
			sb_adds(root, p.buf);
		}
	}
	if (dirs != 1) {
		sb_reset(root);
		sb_adds(root, staging);
	}
out:
	if (d)
		closedir(d);
	sb_release(&p);
}

/* Extract a tar into staging; *dir becomes the persist directory in it. */
static int from_tar(const char *tar, const char *staging, struct strbuf *dir,
		    struct lc_stats *st, struct cv_err *e)
{
	int fd = strcmp(tar, "-") ? open(tar, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	struct strbuf links = STRBUF_INIT, msg = STRBUF_INIT;
	const char *l, *nl;
	int rc;

	if (fd < 0)
		return cv_errno(e, CV_EIO, "%s: cannot open", tar);
	if (mkdir(staging, 0700))
		rc = cv_errno(e, CV_EIO, "%s: cannot create", staging);
	else
		rc = untar_safe(fd, staging, &links, e);
	if (fd != STDIN_FILENO)
		close(fd);
	if (!rc) {
		tar_root(staging, dir);
		rc = chroma_describe(dir->buf, st, e);
	}
	l = links.len ? links.buf : "";
	for (; !rc && (nl = strchr(l, '\n')); l = nl + 1) {
		sb_reset(&msg);
		sb_addf(&msg, "%s: symbolic link %.*s left out (a snapshot holds "
			"files and folders)", tar, (int)(nl - l), l);
		json_array_append_new(st->warnings, json_text(msg.buf));
	}
	sb_release(&links);
	sb_release(&msg);
	return rc;
}

#define PREVIOUS_SEARCH 32

/*
 * The snapshot whose lists and chunks the new one is stored against: the
 * newest of the same source among the last PREVIOUS_SEARCH, else the newest.
 * Which one it is only changes how much is stored. 0 if one was loaded.
 */
static int load_previous(struct repo *r, const char *source, struct manifest *m)
{
	char **names = NULL;
	struct cv_err e = { 0 };
	const char *s;
	size_t n = 0, i;
	int found = -1;

	if (repo_list_snapshots(r, &names, &n, &e))
		n = 0;
	for (i = n; found && i-- > 0 && n - i <= PREVIOUS_SEARCH;) {
		if (manifest_load(r, names[i], m, &e)) {
			cv_err_clear(&e);
			continue;
		}
		s = json_string_value(json_object_get(m->root, "source"));
		if (s && !strcmp(s, source))
			found = 0;
		else
			manifest_release(m);
	}
	if (found && n && !manifest_load(r, names[n - 1], m, &e))
		found = 0;
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return found;
}

/*
 * A repository this backup created and left without a snapshot (it failed)
 * is removed. Called holding its lock, so no other backup has written one.
 * It is renamed aside first, in one step: removing it in place would unlink
 * its lock files while another backup could still find its config and
 * start writing into it.
 */
static void drop_if_unused(const char *path)
{
	struct strbuf p = STRBUF_INIT;
	int unused;

	sb_addf(&p, "%s/snapshots", path);
	unused = dir_empty(p.buf);
	sb_reset(&p);
	sb_addf(&p, "%s.dropped.%ld", path, (long)getpid());
	if (unused && !rename(path, p.buf))
		rm_tree(p.buf);
	sb_release(&p);
}

/* DIR is a persist directory that can be read. */
static int source_ok(const char *dir, struct cv_err *e)
{
	struct cv_db db;
	int rc = cv_db_open(dir, &db, e);

	if (!rc)
		cv_db_close(&db);
	return rc;
}

/*
 * The source the snapshot records, by which prune groups snapshots and an
 * incremental finds the one it builds on: --source, else DIR's absolute
 * path, or the tar file's; "-" for standard input, with a warning, as every
 * stream from it is then one source. NULL, with e set, when it is not
 * UTF-8 (a manifest is JSON).
 */
static char *source_name(const char *dir, const struct backup_opts *o,
			 struct cv_err *e)
{
	const char *given = o->source ? o->source : o->from_tar ? o->from_tar : dir;
	char *name = NULL;

	if (!o->source && strcmp(given, "-"))
		name = realpath(given, NULL);
	if (!name)
		name = xstrdup(given);
	if (!o->source && !strcmp(name, "-"))
		fprintf(stderr, "chromavault backup: warning: the source is recorded as "
			"\"-\" (standard input); prune keeps snapshots by source, so "
			"every backup from standard input counts as one: name this one "
			"with --source NAME\n");
	if (!utf8_valid(name, strlen(name))) {
		cv_errf(e, CV_EUSAGE, "%s: the source's name is not UTF-8, and the "
			"snapshot records it: name it with --source NAME", given);
		free(name);
		return NULL;
	}
	return name;
}


/* Whether the manifest name may be in place (its write failed late, say). */
static int snapshot_written(struct repo *r, const char *name)
{
	char p[128];

	if (!*name)
		return 0;
	snprintf(p, sizeof(p), "snapshots/%s.json", name);
	return store_may_exist(&r->st, p);
}

/*
 * The new snapshot's fingerprints replace those of the last one of its
 * source; only a later backup's speed depends on them.
 */
static void keep_fingerprints(struct repo *r, struct fp_writer *fpw,
			      const char *name, const struct manifest *prev,
			      const char *source)
{
	const char *ps = prev ? json_string_value(json_object_get(prev->root,
								  "source")) : NULL;
	struct cv_err e = { 0 };

	if (!fpw_commit(r, fpw, name, ps && !strcmp(ps, source) ? prev->name : NULL, &e))
		return;
	fprintf(stderr, "chromavault backup: warning: %s; the next backup hashes "
		"every chunk again\n", e.msg);
	cv_err_clear(&e);
}

/* The user's fingerprint key; without one, every chunk is hashed. */
static int fingerprint_key(struct fp_key *key)
{
	struct cv_err e = { 0 }, warn = { 0 };
	int rc = fp_key_load(key, &warn, &e);

	if (warn.code)
		fprintf(stderr, "chromavault backup: warning: %s\n", warn.msg);
	if (!rc)
		return 1;
	fprintf(stderr, "chromavault backup: warning: %s; every chunk is hashed\n",
		e.msg);
	cv_err_clear(&e);
	return 0;
}

static int backup_one(const char *dir, const char *path,
		      const struct backup_opts *o, struct cv_err *e)
{
	struct lc_stats st = { 0 };
	struct mf_writer w;
	struct repo r;
	struct lc_sink sink = { &w, s_dir, s_begin, s_chunks, s_end, s_unchanged };
	struct lc_known known = { &w, k_has };
	struct strbuf root = STRBUF_INIT;
	struct progress prog = { 0 };
	struct manifest prev = { 0 };
	struct fp_key key;
	struct fp_cache fpc = { 0 };
	struct fp_writer fpw = { 0 };
	int have_key;
	int have_prev;
	char name[64] = "", *text, staging[4096];
	double t0 = now_sec();
	time_t t = time(NULL);
	json_t *m = NULL;
	char *source;
	int rc, created;

	if (!o->from_tar && (rc = source_ok(dir, e)))
		return rc; /* before a repository is made for nothing */
	if (!(source = source_name(dir, o, e)))
		return e->code;
	if ((rc = open_or_init(path, &r, &created, e))) {
		free(source);
		return rc;
	}
	/* with an index unread, the chunks only its pack holds would be taken
	 * for missing while a delta found elsewhere still leans on a base in
	 * it, and a pack written again under its name would replace it */
	if ((rc = repo_indexes_needed(&r, "no backup made", e))) {
		repo_close(&r, NULL);
		free(source);
		return rc;
	}
	have_prev = !load_previous(&r, source, &prev);
	mfw_init(&w, &r, have_prev ? &prev : NULL);
	if ((have_key = fingerprint_key(&key))) {
		if (!o->rehash)
			fpc_load(&r, have_prev ? prev.name : NULL, &key, &fpc);
		fpw_init(&fpw, &key);
		w.fpc = &fpc;
		w.fpw = &fpw;
	}
	if (!o->from_tar)
		mfw_find_takeable(&w, k_same, (void *)dir); /* not under the lock */
	snprintf(staging, sizeof(staging), "%s/staging.tmp.%ld", path, (long)getpid());
	signal_cleanup_dir(staging); /* Ctrl-C removes it */
	if (o->from_tar) {
		rc = from_tar(o->from_tar, staging, &root, &st, e);
	} else {
		sb_adds(&root, staging);
		rc = chroma_capture(dir, staging, BACKUP_RETRIES, &known, &st, e);
	}
	if (!rc) {
		progress_init(&prog, "backup", st.bytes_read + st.bytes_kept);
		w.progress = &prog;
		w.stamps = st.stamps; /* NULL from a tar: every file is read */
		rc = chroma_stream(root.buf, st.kept, &sink, e);
		progress_end(&prog);
	}
	rm_tree(staging);
	signal_cleanup_dir(NULL);
	sb_release(&root);
	if (!rc)
		rc = repo_flush(&r, e);
	if (!rc) {
		snapshot_name(name, sizeof(name));
		m = manifest_json(source, name, t, &st, &w);
		text = m ? json_dumps(m, JSON_COMPACT) : NULL;
		rc = text ? repo_put_snapshot(&r, name, text, e) :
		     cv_errf(e, CV_EIO, "snapshot %s: its manifest cannot be made", name);
		free(text);
	}
	if (!rc && have_key)
		keep_fingerprints(&r, &fpw, name, have_prev ? &prev : NULL, source);
	if (!rc) {
		cli_print_warnings(&cmd_backup, NULL, st.warnings);
		report(o, name, &st, &r.stats, &w, now_sec() - t0);
	}
	if (rc && !snapshot_written(&r, name))
		repo_discard_new(&r); /* the repository as it was */
	json_decref(m);
	json_decref(st.collections);
	json_decref(st.warnings);
	json_decref(st.stamps);
	json_decref(st.kept);
	mfw_release(&w);
	if (have_key)
		fpw_release(&fpw);
	fpc_release(&fpc);
	manifest_release(&prev);
	free(source);
	if (rc && created)
		drop_if_unused(path);
	repo_close(&r, NULL);
	return rc;
}

static const struct option backup_longopts[] = {
	{ "json", no_argument, NULL, 'j' },
	{ "from-tar", required_argument, NULL, 't' },
	{ "source", required_argument, NULL, 's' },
	{ "rehash", no_argument, NULL, 'r' },
	{ "lock-wait", required_argument, NULL, 'W' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int backup_run(int argc, char **argv)
{
	struct backup_opts o = { 0, NULL, NULL, 0 };
	struct cv_err e = { 0 };
	int ch, rc;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", backup_longopts, NULL)) != -1) {
		if (ch == 'j') {
			o.as_json = 1;
		} else if (ch == 'r') {
			o.rehash = 1;
		} else if (ch == 't') {
			o.from_tar = optarg;
		} else if (ch == 's') {
			if (!*optarg)
				return cli_usage_error(&cmd_backup, "--source needs a name");
			o.source = optarg;
		} else if (ch == 'W') {
			if ((rc = cli_lock_wait(&cmd_backup, optarg)) >= 0)
				return rc;
		} else if (ch == 'h') {
			cli_print_help(&cmd_backup, stdout);
			return 0;
		} else {
			return cli_bad_option(&cmd_backup, argv);
		}
	}
	if (o.from_tar && optind + 1 != argc)
		return cli_usage_error(&cmd_backup, "expected only REPO with --from-tar "
				       "(the tar stream is the directory)");
	if (o.from_tar)
		optind--; /* no DIR with --from-tar */
	if (optind + 2 != argc)
		return cli_usage_error(&cmd_backup, "expected DIR and REPO (or "
				       "--from-tar FILE and REPO)");
	if (!o.from_tar && path_within(argv[optind], argv[optind + 1]))
		return cli_usage_error(&cmd_backup, "REPO %s is inside DIR %s: a "
				       "backup never writes into the directory it "
				       "reads", argv[optind + 1], argv[optind]);
	if (backup_one(argv[optind], argv[optind + 1], &o, &e))
		return cli_fail(&cmd_backup, &e);
	return 0;
}

const struct cli_cmd cmd_backup = {
	.name = "backup",
	.usage = "backup DIR REPO [--json] [--source NAME] [--rehash] [--lock-wait S] |\n"
		 "       chromavault backup --from-tar FILE|- REPO [--json] [--source NAME]\n"
		 "                          [--rehash]",
	.summary = "Back up a persist directory into a repository (created when it\n"
		   "does not exist), consistently while Chroma keeps running: one\n"
		   "SQLite read transaction covers the copy of the database pages and\n"
		   "of every index folder, which is checked and copied again when a\n"
		   "flush raced it. Chunks are cut along Chroma's own structures and\n"
		   "stored once; a page or neighbour list a flush changed is stored as\n"
		   "a delta of its previous version (docs/REPOSITORY.md). A file\n"
		   "whose device, inode, size, mtime and ctime are those the\n"
		   "previous snapshot recorded is taken from it without being\n"
		   "chunked and hashed again; the database, and an index folder\n"
		   "whose files all are, are not even copied. A chunk of a changed\n"
		   "file whose fingerprint (XXH3 keyed by a secret in\n"
		   "~/.config/chromavault, REPO/cache) is the one the last snapshot\n"
		   "had at the same place is taken to be that chunk and not hashed\n"
		   "again; each file's SHA-256 is computed from every byte.\n"
		   "What is to be copied is read into the page cache before the\n"
		   "transaction begins, so Chroma's writers are not held while the\n"
		   "disk is read.\n"
		   "Links in DIR are followed; REPO may not be inside DIR. No backup\n"
		   "is made while a pack index of REPO cannot be read (exit 3).",
	.options = "  --json            summary as JSON: files (files_unchanged: taken\n"
		   "                    from the last snapshot), bytes read (bytes_paged_in:\n"
		   "                    those not in the page cache, read in before the\n"
		   "                    lock), new and stored, new chunks and how many of\n"
		   "                    them are deltas of the previous snapshot's,\n"
		   "                    chunks known by their fingerprint (chunks_known),\n"
		   "                    how long Chroma's writers were held (lock_ms),\n"
		   "                    seconds\n"
		   "  --from-tar FILE   read the directory from a tar stream (- for stdin):\n"
		   "                    docker cp CONTAINER:/chroma/chroma - | chromavault\n"
		   "                    backup --from-tar - REPO; entries with \"..\" or\n"
		   "                    absolute paths, links leaving the tree and\n"
		   "                    devices are refused; symbolic links inside it\n"
		   "                    are left out, with a warning\n"
		   "  --source NAME     the source the snapshot records (default: DIR's\n"
		   "                    absolute path, or the tar file's; - for standard\n"
		   "                    input): prune keeps snapshots by host and source,\n"
		   "                    and a backup builds on the last one of its\n"
		   "                    source; give each stream from standard input\n"
		   "                    its own (docker cp ... - | chromavault backup\n"
		   "                    --from-tar - --source CONTAINER REPO)\n"
		   "  --rehash          hash every chunk read with SHA-256, trusting no\n"
		   "                    fingerprint (XXH3 is not a cryptographic hash:\n"
		   "                    for databases whose raw bytes untrusted writers\n"
		   "                    choose); files unchanged since the last snapshot\n"
		   "                    (device, inode, size, mtime, ctime) are still\n"
		   "                    taken from it, unread\n"
		   CLI_LOCK_WAIT_HELP,
	.run = backup_run,
	.lock_wait = 1,
};
