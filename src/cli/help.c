/*
 * `chromavault help [COMMAND]`, and the error/usage helpers shared by every
 * command (the README's usage section is generated from the same entries).
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "repo/store.h"
#include "util/banned.h"

static const char exit_codes[] =
	"exit codes: 0 ok, 1 usage, 2 runtime error (I/O, not found, server),\n"
	"            3 corrupt or unsupported input, 4 partial (see the message)\n";

void cli_print_help(const struct cli_cmd *c, FILE *f)
{
	fprintf(f, "usage: chromavault %s\n\n%s\n", c->usage, c->summary);
	if (c->options && *c->options)
		fprintf(f, "\noptions:\n%s", c->options);
	fprintf(f, "\n%s", exit_codes);
}

int cli_fail(const struct cli_cmd *c, const struct cv_err *e)
{
	fprintf(stderr, "chromavault %s: %s\n", c->name,
		e->msg[0] ? e->msg : "failed");
	return cv_err_exit_code(e->code ? e->code : CV_EIO);
}

void cli_print_warnings(const struct cli_cmd *c, const char *when,
			const json_t *warnings)
{
	const json_t *w;
	size_t i;

	json_array_foreach(warnings, i, w)
		fprintf(stderr, "chromavault %s: warning: %s%s%s\n", c->name,
			when ? when : "", when ? ": " : "",
			json_is_string(w) ? json_string_value(w) : "(not text)");
}

int cli_usage_error(const struct cli_cmd *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "chromavault %s: ", c->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: chromavault %s\n", c->usage);
	return CV_EXIT_USAGE;
}

long long cli_parse_count(const char *s)
{
	char *end;
	long long v;

	if (!s || !*s || *s == '-')
		return -1;
	v = strtoll(s, &end, 10);
	return *end ? -1 : v;
}

int cli_lock_wait(const struct cli_cmd *c, const char *arg)
{
	long long s = cli_parse_count(arg);

	if (s < 0 || s > 7 * 24 * 3600)
		return cli_usage_error(c, "--lock-wait wants seconds, at most a week");
	store_lock_wait_ms = (unsigned long)s * 1000;
	return -1;
}

int cli_bad_option(const struct cli_cmd *c, char **argv)
{
	const char *arg = argv[optind - 1];

	/* a short option, maybe inside a bundle (-xo): getopt names it */
	if (optopt && strncmp(arg, "--", 2))
		return cli_usage_error(c, "option -%c is unknown or lacks its value",
				       optopt);
	return cli_usage_error(c, "option %.*s is unknown, lacks its value or "
			       "takes none", (int)strcspn(arg, "="), arg);
}

int cli_flags(const struct cli_cmd *c, int argc, char **argv,
	      const char *const *names, int *flags, int nargs,
	      const char *operands)
{
	struct option opts[11];
	int n = 0, nflags, ch, rc;

	while (names && names[n] && n < 8) {
		opts[n] = (struct option){ names[n], no_argument, NULL, 'a' + n };
		flags[n] = 0;
		n++;
	}
	nflags = n;
	opts[n++] = (struct option){ "help", no_argument, NULL, 'H' };
	if (c->lock_wait)
		opts[n++] = (struct option){ "lock-wait", required_argument, NULL, 'W' };
	opts[n] = (struct option){ NULL, 0, NULL, 0 };
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'H') {
			cli_print_help(c, stdout);
			return CV_EXIT_OK;
		}
		if (ch == 'W') {
			if ((rc = cli_lock_wait(c, optarg)) >= 0)
				return rc;
			continue;
		}
		if (ch < 'a' || ch >= 'a' + nflags)
			return cli_bad_option(c, argv);
		flags[ch - 'a'] = 1;
	}
	if (optind + nargs != argc)
		return cli_usage_error(c, "expected %s", operands);
	return -1;
}

/*
 * "  name       " and the first sentence of the command's summary, its lines
 * indented under the first.
 */
static void print_first_sentence(const struct cli_cmd *c)
{
	const char *p = c->summary, *end = p;

	while (*end && !(end[0] == '.' && (!end[1] || end[1] == ' ' || end[1] == '\n')))
		end++;
	if (*end)
		end++;
	printf("  %-10s ", c->name);
	for (; p < end; p++) {
		putchar(*p);
		if (*p == '\n')
			printf("%13s", "");
	}
	putchar('\n');
}

static int help_run(int argc, char **argv)
{
	const struct cli_cmd *const *c;

	if (argc > 1) {
		for (c = cli_commands; *c; c++)
			if (!strcmp((*c)->name, argv[1])) {
				cli_print_help(*c, stdout);
				return 0;
			}
		fprintf(stderr, "chromavault help: unknown command '%s'\n", argv[1]);
		return CV_EXIT_USAGE;
	}
	printf("usage: chromavault COMMAND [OPTIONS]\n\ncommands:\n");
	for (c = cli_commands; *c; c++)
		print_first_sentence(*c);
	printf("\n'chromavault help COMMAND' or 'chromavault COMMAND --help' for "
	       "details.\n%s", exit_codes);
	return 0;
}

const struct cli_cmd cmd_help = {
	.name = "help",
	.usage = "help [COMMAND]",
	.summary = "Show the commands, or one command's options.",
	.options = "",
	.run = help_run,
};
