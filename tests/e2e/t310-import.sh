#!/usr/bin/env bash
# import: export file:// -> import into a fresh server -> export http:// gives
# the same records (cosine vectors within 2 ulps: the server normalises them
# again); a cdp-format file imports; a malformed line sends nothing; a server
# killed in the middle of an import, restarted, and --resume completes it
# with nothing lost or doubled.
. "$(dirname "$0")/lib.sh"
setup

start_chroma "$T/src"
expect_ok python3 "$ROOT/tests/gen/populate.py" "$CHROMA_URL" diff
stop_chroma
expect_ok "$CV" export "file://$T/src" -o "$T/first.jsonl"

start_chroma "$T/dst"
expect_ok "$CV" import "$CHROMA_URL" -i "$T/first.jsonl" --json
grep -q '"sent":950' "$T/stdout" || fail "not everything sent: $(cat "$T/stdout")"
expect_ok "$CV" export "$CHROMA_URL" -o "$T/back.jsonl"
[ "$(grep -c '^{"_collection"' "$T/back.jsonl")" -eq "$(grep -c '^{"_collection"' "$T/first.jsonl")" ] ||
	fail "collections missing after import"
python3 "$ROOT/tests/tools/export_as_expected.py" "$T/first.jsonl" >"$T/first.expected"
expect_ok python3 "$ROOT/tests/tools/jsonl_compare.py" --ulps 2 "$T/back.jsonl" "$T/first.expected"
grep '"_collection"' "$T/back.jsonl" | grep -q '"name":"ip-coll".*"space":"ip"' || fail "space lost"

# cdp's format: document instead of text_chunk, no header, --create
printf '%s\n' '{"id":"a","metadata":{"k":1},"embedding":[1.0,2.0],"document":"doc a"}' \
	'{"id":"b","metadata":null,"embedding":[3.5,4.0],"text_chunk":"doc b"}' >"$T/cdp.jsonl"
expect_fail 2 "$CV" import "$CHROMA_URL/cdp-coll" -i "$T/cdp.jsonl"
expect_ok "$CV" import "$CHROMA_URL/cdp-coll" -i "$T/cdp.jsonl" --create --space ip
expect_ok "$CV" export "$CHROMA_URL/cdp-coll"
grep -q '{"id":"a","metadata":{"k":1},"embedding":\[1.0,2.0\],"text_chunk":"doc a"}' "$T/stdout" ||
	fail "cdp record a: $(cat "$T/stdout")"

# malformed, wrong dimension, duplicate id, a number float32 cannot hold, NaN:
# reported, nothing sent
printf '%s\n' '{"id":"x","embedding":[1.0,2.0]}' '{"id":"y","embedding":[1.0,2.0' >"$T/bad1.jsonl"
printf '%s\n' '{"id":"x","embedding":[1.0,2.0]}' '{"id":"y","embedding":[1.0]}' >"$T/bad2.jsonl"
printf '%s\n' '{"id":"x","embedding":[1.0,2.0]}' '{"id":"x","embedding":[1.0,3.0]}' >"$T/bad3.jsonl"
printf '%s\n' '{"id":"x","embedding":[1.0,2.0]}' '{"id":"y","embedding":[1.0,2.0],"metadata":{"n":{"a":1}}}' >"$T/bad4.jsonl"
printf '%s\n' '{"id":"x","embedding":[3.4028235e38,2.0]}' '{"id":"y","embedding":[1.0,3.5e38]}' >"$T/bad5.jsonl"
printf '%s\n' '{"id":"x","embedding":[1.0,2.0]}' '{"id":"y","embedding":[1.0,2.0],"metadata":{"s":NaN}}' >"$T/bad6.jsonl"
for bad in bad1:'bad1.jsonl:2: column' bad2:'bad2.jsonl:2: embedding has dimension 1' \
	bad3:'bad3.jsonl:2: id "x" appears twice in collection "never" (first on line 1)' \
	bad4:'bad4.jsonl:2: metadata "n"' \
	bad5:"bad5.jsonl:2: the embedding holds a number beyond float32's range" \
	bad6:"bad6.jsonl:2: column 51: invalid token near 'NaN': Chroma's API takes finite"; do
	expect_fail 3 "$CV" import "$CHROMA_URL/never" -i "$T/${bad%%:*}.jsonl" --create
	grep -qF "${bad#*:}" "$T/stderr" || fail "${bad%%:*}: $(cat "$T/stderr")"
	expect_fail 3 "$CV" import "$CHROMA_URL/never" -i "$T/${bad%%:*}.jsonl" --check
done
# --json after a failure: the counts so far, the message and the exit code
expect_fail 3 "$CV" import "$CHROMA_URL/never" -i "$T/bad2.jsonl" --create --json
python3 - "$T/stdout" <<'PY' || fail "--json after a failure: $(cat "$T/stdout")"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["exit"] == 3 and s["sent"] == 0 and s["lines"] == 2, s
assert "bad2.jsonl:2: embedding has dimension 1" in s["error"], s
PY
curl -fsS "$CHROMA_URL/api/v2/tenants/default_tenant/databases/default_database/collections/never" \
	>/dev/null 2>&1 && fail "a bad file created its collection"
stop_chroma

# kill the server mid-import, restart, resume
python3 - "$T/big.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    f.write(json.dumps({"_collection": {"format": 1, "name": "big", "space": "l2",
                        "dimension": 16, "metadata": None}}) + "\n")
    for i in range(20000):
        f.write(json.dumps({"id": f"r{i:05d}", "metadata": {"i": i},
                            "embedding": [float((i * 7 + k) % 101) for k in range(16)],
                            "text_chunk": f"record {i}"}) + "\n")
PY
start_chroma "$T/resume"
"$CV" import "$CHROMA_URL" -i "$T/big.jsonl" --batch-size 100 --concurrency 2 \
	>"$T/imp.out" 2>"$T/imp.err" &
imp=$!
sleep 0.4
kill -9 "$CHROMA_PID"
wait "$imp" && fail "import did not notice the server died"
grep -q "127.0.0.1" "$T/imp.err" || fail "unclear error: $(cat "$T/imp.err")"
[ -f "$T/big.jsonl.import-progress" ] || fail "no progress file"
bash "$ROOT/tests/chroma-server.sh" start "$T/resume" "$CHROMA_PORT" >"$T/pid" || fail "restart"
SERVERS+=("$(cat "$T/pid")")
CHROMA_PID=$(cat "$T/pid")
expect_ok "$CV" import "$CHROMA_URL" -i "$T/big.jsonl" --resume --json
grep -q '"skipped":[1-9]' "$T/stdout" || fail "resume skipped nothing: $(cat "$T/stdout")"
[ ! -f "$T/big.jsonl.import-progress" ] || fail "progress file left after success"
expect_ok "$CV" export "$CHROMA_URL/big" -o "$T/big.out"
[ "$(wc -l <"$T/big.out")" -eq 20000 ] || fail "expected 20000 records, got $(wc -l <"$T/big.out")"
[ "$(cut -d'"' -f4 "$T/big.out" | sort -u | wc -l)" -eq 20000 ] || fail "records doubled or lost"

# SIGTERM (Ctrl-C alike) says how to go on, and --resume does
sed 's/"name": "big"/"name": "big-term"/' "$T/big.jsonl" >"$T/term.jsonl"
"$CV" import "$CHROMA_URL" -i "$T/term.jsonl" --batch-size 100 --concurrency 1 \
	>/dev/null 2>"$T/term.err" &
imp=$!
sleep 1
kill -TERM "$imp"
wait "$imp" && fail "import went on after SIGTERM"
grep -q "interrupted: the same command with --resume goes on from $T/term.jsonl.import-progress" \
	"$T/term.err" || fail "no word on --resume: $(cat "$T/term.err")"
expect_ok "$CV" import "$CHROMA_URL" -i "$T/term.jsonl" --batch-size 100 --resume
expect_ok "$CV" export "$CHROMA_URL/big-term" -o "$T/term.out"
[ "$(cut -d'"' -f4 "$T/term.out" | sort -u | wc -l)" -eq 20000 ] || fail "records lost after SIGTERM"

# a progress file that is not one, or does not fit the input, stops --resume
# before anything is sent; without one, --resume warns and sends everything
for bad in 'garbage' '{"line":999999}' '{"line":5,"input_size":12}'; do
	printf '%s\n' "$bad" >"$T/big.jsonl.import-progress"
	expect_fail 3 "$CV" import "$CHROMA_URL" -i "$T/big.jsonl" --resume
	grep -qF "$T/big.jsonl.import-progress: " "$T/stderr" || fail "$bad: $(cat "$T/stderr")"
done
# one written for another destination stops --resume too, naming both
printf '{"line":5,"dest":"http://elsewhere:8000/api/v2/tenants/t/databases/d/collections/x"}\n' \
	>"$T/big.jsonl.import-progress"
expect_fail 1 "$CV" import "$CHROMA_URL" -i "$T/big.jsonl" --resume
grep -q "written for an import into http://elsewhere:8000/.*; this one goes to $CHROMA_URL/" \
	"$T/stderr" || fail "another destination: $(cat "$T/stderr")"
# an input on a read-only disk (every unlink refused) imports all the same
if strace -f -o /dev/null true 2>/dev/null; then
	# LeakSanitizer cannot run under ptrace: the sanitizer build's leak check off
	expect_ok env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		strace -f -o /dev/null -e trace=unlink,unlinkat \
		-e inject=unlink,unlinkat:error=EROFS "$CV" import "$CHROMA_URL/read-only" --create -i "$T/cdp.jsonl"
	rm -f "$T/cdp.jsonl.import-progress" # written: only unlink was refused
fi
# a run without --resume removes a stale one first, even when it then fails
expect_fail 2 "$CV" import "http://127.0.0.1:$(free_port)" -i "$T/big.jsonl"
[ ! -e "$T/big.jsonl.import-progress" ] || fail "a stale progress file was left for --resume"
expect_ok "$CV" import "$CHROMA_URL/cdp2" -i "$T/cdp.jsonl" --create --resume
grep -q "warning: .*cdp.jsonl.import-progress not found" "$T/stderr" ||
	fail "no warning without a progress file: $(cat "$T/stderr")"
# blanks around the numbers of an embedding (sent as base64): values kept
printf '%s\n' '{"id":"s1","embedding":[ 0.5 ,0.25 , 0.125,1.0 ],"text_chunk":null,"metadata":null}' \
	'{"id":"s2","embedding":[0.75,0.5,0.25,0.125],"text_chunk":null,"metadata":null}' >"$T/spaced.jsonl"
expect_ok "$CV" import "$CHROMA_URL/spaced" -i "$T/spaced.jsonl" --create
expect_ok "$CV" export "$CHROMA_URL/spaced" -o "$T/spaced.out"
grep -q '"id":"s1","metadata":null,"embedding":\[0.5,0.25,0.125,1.0\]' "$T/spaced.out" ||
	fail "embedding changed on the way: $(cat "$T/spaced.out")"
echo "import round-trips and resumes"
