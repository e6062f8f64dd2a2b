/*
 * chromavault: back up, export, verify and restore Chroma databases.
 * Global options and the command table; commands live in cli/.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "util/fsutil.h"
#include "util/banned.h"

#define CV_VERSION "0.1.0"

const struct cli_cmd *const cli_commands[] = {
	&cmd_export,
	&cmd_import,
	&cmd_inspect,
	&cmd_backup,
	&cmd_snapshot,
	&cmd_snapshots,
	&cmd_restore,
	&cmd_verify,
	&cmd_prune,
	&cmd_help,
	NULL,
};

static const struct cli_cmd *find_command(const char *name)
{
	const struct cli_cmd *const *c;

	for (c = cli_commands; *c; c++)
		if (!strcmp((*c)->name, name))
			return *c;
	return NULL;
}

int main(int argc, char **argv)
{
	const struct cli_cmd *c;

	if (argc < 2)
		return cmd_help.run(1, argv);
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("chromavault %s\n", CV_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return cmd_help.run(argc - 1, argv + 1);
	opterr = 0; /* commands name the option they refuse */
	signal_cleanup_install();
	c = find_command(argv[1]);
	if (!c) {
		fprintf(stderr, "chromavault: unknown command '%s'; see "
			"'chromavault help'\n", argv[1]);
		return CV_EXIT_USAGE;
	}
	return c->run(argc - 1, argv + 1);
}
