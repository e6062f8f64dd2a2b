#!/usr/bin/env bash
# export's options: --limit/--offset, --with-collection, -o FILE atomically,
# FILE.zst compressed, cdp's relative file:// form, stdout.
. "$(dirname "$0")/lib.sh"
setup

F=$(fixtures_dir) # else the bundled sample
if [ -n "$F" ]; then
	src="$F/face-match-aryan/db" col=face-api records=134
	two="$F/bookpub-snehal/db" stalled="$F/movie-suggestion-sumanhiremath/db"
else
	src="$ROOT/sample/chroma-data" col=articles records=148
	two="$ROOT/sample/chroma-data" stalled="$ROOT/sample/chroma-data"
fi

expect_ok "$CV" export "file://$src/$col" -o "$T/all.jsonl"
[ "$(wc -l <"$T/all.jsonl")" -eq "$records" ] || fail "expected $records records"
head -c 7 "$T/all.jsonl" | grep -q '{"id":' || fail "single collection has a header"

expect_ok "$CV" export "file://$src/$col" --offset 10 --limit 5
sed -n '11,15p' "$T/all.jsonl" >"$T/want"
test_cmp "$T/want" "$T/stdout"

expect_ok "$CV" export "file://$src/$col" --with-collection --limit 1
head -1 "$T/stdout" | grep -q "^{\"_collection\":{\"format\":1,\"name\":\"$col\"" ||
	fail "no header line"
[ "$(wc -l <"$T/stdout")" -eq 2 ] || fail "expected header + 1 record"

# the whole directory: a header per collection
expect_ok "$CV" export "file://$two" -o "$T/dir.jsonl"
[ "$(grep -c '^{"_collection"' "$T/dir.jsonl")" -eq 2 ] || fail "expected 2 headers"

# zstd output, and the same bytes as the plain file
expect_ok "$CV" export "file://$src/$col" -o "$T/all.jsonl.zst"
zstd -q -d -c "$T/all.jsonl.zst" >"$T/unz.jsonl"
test_cmp "$T/all.jsonl" "$T/unz.jsonl"

# cdp's relative form file://rel/dir/COLLECTION
mkdir -p "$T/rel"
cp -r "$src" "$T/rel/db"
(cd "$T" && "$CV" export "file://rel/db/$col" >"$T/rel.jsonl") || fail "relative form"
test_cmp "$T/all.jsonl" "$T/rel.jsonl"

# formatting on worker threads and inline gives the same bytes
expect_ok "$CV" export "file://$src/$col" --threads 0 -o "$T/t0.jsonl"
expect_ok "$CV" export "file://$src/$col" --threads 3 -o "$T/t3.jsonl"
test_cmp "$T/all.jsonl" "$T/t0.jsonl"
test_cmp "$T/all.jsonl" "$T/t3.jsonl"

# an existing output file is replaced only on success
echo keep >"$T/keep.jsonl"
expect_fail 2 "$CV" export "file://$src/nope" -o "$T/keep.jsonl"
[ "$(cat "$T/keep.jsonl")" = keep ] || fail "failed export clobbered the output"

# a tenant or database that does not exist, or an unknown parameter, is an
# error, not an empty export
expect_ok "$CV" export "file://$src/$col?tenant=default_tenant&database=default_database" \
	-o "$T/scoped.jsonl"
test_cmp "$T/all.jsonl" "$T/scoped.jsonl"
expect_fail 2 "$CV" export "file://$src?tenant=nope"
grep -q 'tenant "nope" not found' "$T/stderr" || fail "tenant: $(cat "$T/stderr")"
expect_fail 2 "$CV" export "file://$src?database=nope"
grep -q 'database "nope" not found' "$T/stderr" || fail "database: $(cat "$T/stderr")"
expect_fail 1 "$CV" export "file://$src?tennant=default_tenant"
grep -q 'unknown query parameter "tennant"' "$T/stderr" ||
	fail "parameter: $(cat "$T/stderr")"
# SIGTERM while the output is being written removes its temporary file, and
# one a killed run left (its process gone) is removed by the next export
cp -r "$stalled" "$T/stalled"
chmod -R u+w "$T/stalled"
for pk in "$T"/stalled/*/index_metadata.pickle; do # reading it waits for a writer
	rm "$pk" && mkfifo "$pk"
done
"$CV" export "$T/stalled" -o "$T/sig.jsonl" 2>/dev/null &
exp=$!
for i in $(seq 50); do ls "$T" | grep -q '^sig.jsonl.tmp.' && break; sleep 0.1; done
ls "$T" | grep -q '^sig.jsonl.tmp.' || fail "the export made no temporary file"
kill -TERM "$exp"
rc=0
wait "$exp" || rc=$?
[ "$rc" -eq 143 ] || fail "SIGTERM: exit $rc"
ls "$T" | grep -q '^sig.jsonl' && fail "SIGTERM left $(ls "$T" | grep '^sig.jsonl')"
echo partial >"$T/all.jsonl.tmp.2147483000"
expect_ok "$CV" export "file://$src/$col" -o "$T/all.jsonl"
[ ! -e "$T/all.jsonl.tmp.2147483000" ] || fail "a dead run's temporary file is left"
echo "options work"
