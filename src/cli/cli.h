/*
 * The command table: one declarative entry per command (cli/<name>.c), and
 * the helpers every command uses to report errors and map exit codes.
 */
#ifndef CV_CLI_H
#define CV_CLI_H

#include <stdio.h>

#include "util/err.h"

struct cli_cmd {
	const char *name;
	const char *usage;    /* "export SOURCE [-o FILE] ..." */
	const char *summary;  /* one line */
	const char *options;  /* option lines, each "  --x  what\n" */
	int (*run)(int argc, char **argv);
};

extern const struct cli_cmd cmd_export;
extern const struct cli_cmd cmd_inspect;
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
/* Usage error: message, usage line, exit code 1. */
int cli_usage_error(const struct cli_cmd *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Parse a non-negative integer option value; -1 on error. */
long long cli_parse_count(const char *s);

#endif
