#!/usr/bin/env bash
# Regenerates the README's usage section from the command table
# (`chromavault help COMMAND`), between the usage markers.
# With --check, exits 1 when the README is out of date instead.
set -euo pipefail
cv=${CV:-build/chromavault}
gen() {
	echo "<!-- usage:begin (scripts/readme-usage.sh) -->"
	for cmd in $("$cv" help | sed -n 's/^  \([a-z]*\) .*/\1/p'); do
		[ "$cmd" = help ] && continue
		echo
		echo "### \`chromavault $cmd\`"
		echo
		echo '```'
		"$cv" help "$cmd" | sed '/^exit codes:/,$d'
		echo '```'
	done
	echo
	echo '```'
	"$cv" help | sed -n '/^exit codes:/,$p'
	echo '```'
	echo "<!-- usage:end -->"
}
new=$(awk -v gen="$(gen)" '
	/<!-- usage:begin/ { print gen; skip = 1; next }
	/<!-- usage:end/ { skip = 0; next }
	!skip { print }' README.md)
if [ "${1:-}" = --check ]; then
	[ "$new" = "$(cat README.md)" ] || { echo "README.md usage is out of date: run scripts/readme-usage.sh" >&2; exit 1; }
	exit 0
fi
printf '%s\n' "$new" >README.md
