#!/usr/bin/env bash
# import of whole exports: each collection goes to the tenant and database
# its header names (made when missing), so same-named collections of two
# databases stay apart; two headers bound for one collection are refused
# before anything is sent; the index settings and embedding function a
# header carries (a directory's schema, a server's configuration) are the
# new collection's; an existing collection with another space is refused.
. "$(dirname "$0")/lib.sh"
setup

python3 - "$T/twodb.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for db, word in (("dbx1", "one"), ("dbx2", "two")):
        f.write(json.dumps({"_collection": {"format": 1, "name": "same", "tenant": "tenx",
                                            "database": db, "dimension": 2,
                                            "space": "l2", "metadata": None}}) + "\n")
        for i in range(3):
            f.write(json.dumps({"id": f"k{i}", "embedding": [i, 1.0], "text_chunk": word,
                                "metadata": None}) + "\n")
PY
start_chroma "$T/data"
expect_ok "$CV" import "$CHROMA_URL" -i "$T/twodb.jsonl" --json
grep -q '"sent":6,' "$T/stdout" || fail "$(cat "$T/stdout")"
for db in dbx1:one dbx2:two; do
	expect_ok "$CV" export "$CHROMA_URL/same?tenant=tenx&database=${db%:*}" -o "$T/${db%:*}.jsonl"
	[ "$(grep -c "\"text_chunk\":\"${db#*:}\"" "$T/${db%:*}.jsonl")" -eq 3 ] ||
		fail "database ${db%:*}: $(cat "$T/${db%:*}.jsonl")"
done

# --check counts the collections; a second import into them is warned of
expect_ok "$CV" import "$CHROMA_URL" -i "$T/twodb.jsonl" --check --json
grep -q '"collections":2,' "$T/stdout" || fail "$(cat "$T/stdout")"
expect_ok "$CV" import "HTTP://127.0.0.1:$CHROMA_PORT" -i "$T/twodb.jsonl"
grep -q 'warning: collection "same" already holds 3 records' "$T/stderr" || fail "$(cat "$T/stderr")"
# a space or a name Chroma refuses is found by the check
sed '1s/"space": "l2"/"space": "hamming"/' "$T/twodb.jsonl" >"$T/bad-space.jsonl"
expect_fail 3 "$CV" import "$CHROMA_URL" -i "$T/bad-space.jsonl" --check
grep -q 'bad-space.jsonl:1: space that Chroma' "$T/stderr" || fail "$(cat "$T/stderr")"
sed '1s/"name": "same"/"name": "-x"/' "$T/twodb.jsonl" >"$T/bad-name.jsonl"
expect_fail 3 "$CV" import "$CHROMA_URL" -i "$T/bad-name.jsonl" --check
grep -q 'bad-name.jsonl:1: collection name that Chroma refuses' "$T/stderr" || fail "$(cat "$T/stderr")"
# database and tenant names: the check refuses exactly what the server does
# (asked directly, for each name)
server_takes() { # server_takes tenants|databases NAME
	local path=/api/v2/tenants
	[ "$1" = databases ] && path=$path/default_tenant/databases
	curl -s -o /dev/null -w '%{http_code}' -X POST -H 'content-type: application/json' \
		-d "{\"name\": \"$2\"}" "$CHROMA_URL$path" | grep -Eq '^(200|409)$' # 409: it exists
}
for kind in databases tenants; do
	for name in abc x.y 1.2.3 999.1.1.1 01.2.3.4 ab a..b 1.2.3.4 -ab ab_ "a b" "é-ü" aß.c; do
		field=${kind%s}
		python3 - "$T/place.jsonl" "$field" "$name" <<'PY'
import json, sys
h = {"format": 1, "name": "same", "dimension": 2, "space": "l2", "metadata": None}
h[sys.argv[2]] = sys.argv[3]
open(sys.argv[1], "w").write(json.dumps({"_collection": h}) + "\n")
PY
		if server_takes "$kind" "$name"; then
			expect_ok "$CV" import "$CHROMA_URL" -i "$T/place.jsonl" --check
		else
			expect_fail 3 "$CV" import "$CHROMA_URL" -i "$T/place.jsonl" --check
			grep -q "place.jsonl:1: $field \"$name\": Chroma takes" "$T/stderr" ||
				fail "$field $name: $(cat "$T/stderr")"
		fi
	done
done
expect_fail 1 "$CV" import "$CHROMA_URL?database=a..b" -i "$T/twodb.jsonl" --check
grep -q 'database "a..b": Chroma takes' "$T/stderr" || fail "$(cat "$T/stderr")"

# both bound for one database: refused, nothing sent
expect_fail 3 "$CV" import "$CHROMA_URL?tenant=tenx&database=dbx1" -i "$T/twodb.jsonl"
grep -q 'twodb.jsonl:5: collection "same" again (first at line 1)' "$T/stderr" ||
	fail "$(cat "$T/stderr")"
expect_ok "$CV" export "$CHROMA_URL/same?tenant=tenx&database=dbx1" -o "$T/again.jsonl"
test_cmp "$T/dbx1.jsonl" "$T/again.jsonl"

# a directory's export (index settings in its schema): the settings arrive
expect_ok "$CV" export "$ROOT/sample/chroma-data" -o "$T/sample.jsonl"
expect_ok "$CV" import "$CHROMA_URL" -i "$T/sample.jsonl"
hnsw() {
	PYTHONPATH="$ROOT/tests/gen" python3 - "$CHROMA_URL" "$1" <<'PY'
import json, sys
from chroma_api import Chroma
c = Chroma(sys.argv[1])
c = c.call("GET", c.prefix + "/collections/" + sys.argv[2])["configuration_json"]
print(json.dumps(c["hnsw"], sort_keys=True))
print(json.dumps(c.get("embedding_function"), sort_keys=True))
PY
}
want=$(python3 - "$T/sample.jsonl" <<'PY'
import json, sys
h = json.loads(open(sys.argv[1]).readline())["_collection"]
v = h["schema"]["keys"]["#embedding"]["float_list"]["vector_index"]["config"]["hnsw"]
print(v["sync_threshold"], v["ef_construction"], v["max_neighbors"], h["space"])
PY
)
got=$(hnsw articles | head -1 | python3 -c 'import json, sys; h = json.load(sys.stdin); print(h["sync_threshold"], h["ef_construction"], h["max_neighbors"], h["space"])')
[ "$got" = "$want" ] || fail "index settings: want $want, got $got"

# Chroma 1.0 to 1.2 directories keep them in configuration.vector_index; a
# DEST naming the collection puts it in DEST's (here the default) database
python3 - "$T/v1.jsonl" <<'PY'
import json, sys
cfg = {"vector_index": {"hnsw": {"space": "l2", "ef_construction": 321, "ef_search": 77,
                                 "max_neighbors": 33, "sync_threshold": 444,
                                 "resize_factor": 1.3}}, "embedding_function": None}
with open(sys.argv[1], "w") as f:
    f.write(json.dumps({"_collection": {"format": 1, "name": "v1", "tenant": "tenv",
                                        "database": "dbv", "dimension": 2, "space": "l2",
                                        "metadata": None, "configuration": cfg}}) + "\n")
    f.write(json.dumps({"id": "a", "embedding": [1.0, 2.0], "text_chunk": None,
                        "metadata": None}) + "\n")
PY
expect_ok "$CV" import "$CHROMA_URL/v1-renamed" -i "$T/v1.jsonl"
hnsw v1-renamed | head -1 | grep -q '"ef_construction": 321, "ef_search": 77, "max_neighbors": 33, "resize_factor": 1.3, "space": "l2", "sync_threshold": 444' ||
	fail "1.0-1.2 settings: $(hnsw v1-renamed)"

# a server's export: settings and embedding function carried to another server
PYTHONPATH="$ROOT/tests/gen" python3 - "$CHROMA_URL" <<'PY'
import sys
from chroma_api import Chroma
Chroma(sys.argv[1]).create("rich", configuration={
    "hnsw": {"space": "ip", "ef_construction": 123, "ef_search": 77, "max_neighbors": 21,
             "sync_threshold": 555, "resize_factor": 1.5},
    "embedding_function": {"type": "known", "name": "openai",
                           "config": {"model_name": "text-embedding-3-small",
                                      "api_key_env_var": "OPENAI_API_KEY"}}})
PY
expect_ok "$CV" export "$CHROMA_URL/rich" --with-collection -o "$T/rich.jsonl"
before=$(hnsw rich)
start_chroma "$T/data2"
expect_ok "$CV" import "$CHROMA_URL" -i "$T/rich.jsonl"
[ "$(hnsw rich)" = "$before" ] || fail "configuration changed: $before -> $(hnsw rich)"

# NUL in ids, documents and metadata strings, and doubles in metadata: the
# same after export, import and export again (doubles sent in their
# shortest form, which the server reads back exactly)
PYTHONPATH="$ROOT/tests/gen" python3 - "$CHROMA_URL" <<'PY'
import random, sys
from chroma_api import Chroma
c = Chroma(sys.argv[1])
cid = c.create("odd-values")
random.seed(7)
metas = [{"s": "a\x00b", "f": 0.1}] + [
    {"f": round(random.random(), 2), "g": random.uniform(-1e6, 1e6), "h": random.random()}
    for i in range(300)]
c.records(cid, "add", ids=["nul\x00id"] + [f"r{i}" for i in range(300)],
          embeddings=[[1.0, float(i)] for i in range(301)], metadatas=metas,
          documents=["doc\x00nul"] + [None] * 300)
PY
expect_ok "$CV" export "$CHROMA_URL/odd-values" --with-collection -o "$T/odd.jsonl"
grep -q 'nul\\u0000id' "$T/odd.jsonl" || fail "NUL id not exported: $(head -c 300 "$T/odd.jsonl")"
sed 's/"name":"odd-values"/"name":"odd-values-2"/' "$T/odd.jsonl" >"$T/odd2.jsonl"
expect_ok "$CV" import "$CHROMA_URL" -i "$T/odd2.jsonl"
expect_ok "$CV" export "$CHROMA_URL/odd-values-2" -o "$T/odd-back.jsonl"
grep -v '^{"_collection"' "$T/odd.jsonl" >"$T/odd-records.jsonl"
test_cmp "$T/odd-records.jsonl" "$T/odd-back.jsonl"

# an existing collection indexed with another space
sed 's/"space":"ip"/"space":"cosine"/' "$T/rich.jsonl" >"$T/rich-cos.jsonl"
expect_fail 1 "$CV" import "$CHROMA_URL" -i "$T/rich-cos.jsonl"
grep -q 'collection "rich" exists with space ip, the file.s is cosine' "$T/stderr" ||
	fail "$(cat "$T/stderr")"
echo "whole exports import into their own databases, with their settings"
