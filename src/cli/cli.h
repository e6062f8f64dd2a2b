/*
 * The command table: one declarative entry per command (cli/<name>.c), and
 * the helpers every command uses to report errors and map exit codes.
 */
#ifndef CV_CLI_H
#define CV_CLI_H

#include <jansson.h>
#include <stdio.h>

#include "util/err.h"

struct cli_cmd {
	const char *name;
	const char *usage;    /* "export SOURCE [-o FILE] ..." */
	const char *summary;  /* one line */
	const char *options;  /* option lines, each "  --x  what\n" */
	int (*run)(int argc, char **argv);
	int lock_wait;        /* takes --lock-wait (opens a repository) */
};

/* The help line of --lock-wait, for the commands that take it. */
#define CLI_LOCK_WAIT_HELP \
	"  --lock-wait S     wait up to S seconds for another command holding the\n" \
	"                    repository to finish (default 2)\n"


extern const struct cli_cmd cmd_export;
extern const struct cli_cmd cmd_inspect;
extern const struct cli_cmd cmd_import;
extern const struct cli_cmd cmd_backup;
extern const struct cli_cmd cmd_snapshot;
extern const struct cli_cmd cmd_restore;
extern const struct cli_cmd cmd_snapshots;
extern const struct cli_cmd cmd_verify;
extern const struct cli_cmd cmd_prune;
extern const struct cli_cmd cmd_help;

/* NULL-terminated, in the order help lists them (main.c). */
extern const struct cli_cmd *const cli_commands[];

/* Full help of one command, with the exit codes. */
void cli_print_help(const struct cli_cmd *c, FILE *f);
/* "chromavault CMD: message" on stderr; returns the exit code for e. */
int cli_fail(const struct cli_cmd *c, const struct cv_err *e);
/*
 * "chromavault CMD: warning: W" on stderr for each string of warnings,
 * "warning: WHEN: W" when when is not NULL.
 */
void cli_print_warnings(const struct cli_cmd *c, const char *when,
			const json_t *warnings);
/*
 * The option getopt just refused (opterr is 0): unknown, or missing its
 * value. Returns the usage error's exit code.
 */
int cli_bad_option(const struct cli_cmd *c, char **argv);
/* Usage error: message, usage line, exit code 1. */
int cli_usage_error(const struct cli_cmd *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/*
 * Options of a command that has only on/off flags: flags[i] is set when
 * --names[i] is given (names NULL-terminated, at most 8); --help prints the
 * command's help; --lock-wait S where the command takes it. Exactly nargs operands must follow (described by
 * operands in the error), from argv[optind]. Returns -1 to go on, or the
 * exit code the command returns.
 */
int cli_flags(const struct cli_cmd *c, int argc, char **argv,
	      const char *const *names, int *flags, int nargs,
	      const char *operands);

/* Parse a non-negative integer option value; -1 on error. */
long long cli_parse_count(const char *s);
/* --lock-wait SECONDS: sets how long repository locks are waited for. */
int cli_lock_wait(const struct cli_cmd *c, const char *arg);

#endif
