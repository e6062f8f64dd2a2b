#!/usr/bin/env bash
# The harness itself: a real Chroma server starts, takes a collection and 3
# records over HTTP, gives them back, and stops, leaving its data on disk.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
setup --no-cv

api() { # api METHOD PATH [JSON]
	curl -fsS -X "$1" -H 'content-type: application/json' ${3:+-d "$3"} \
		"$CHROMA_URL/api/v2/tenants/default_tenant/databases/default_database$2"
}

start_chroma "$T/data"
coll=$(api POST /collections '{"name":"t000","metadata":{"k":"v"}}') || fail "create collection"
id=$(jq -r .id <<<"$coll")
[[ $id =~ ^[0-9a-f-]{36}$ ]] || fail "no collection id in $coll"
api POST "/collections/$id/add" '{"ids":["a","b","c"],
	"embeddings":[[1,2,3],[4,5,6],[0.5,0.25,-1]],
	"documents":["first","second",null],
	"metadatas":[{"n":1},{"s":"x"},null]}' >/dev/null || fail "add"
got=$(api POST "/collections/$id/get" '{"include":["embeddings","documents","metadatas"]}') ||
	fail "get"
jq -c '[.ids, .embeddings, .documents, .metadatas] | transpose | sort_by(.[0])[]' \
	<<<"$got" >"$T/got"
cat >"$T/want" <<'JSON'
["a",[1,2,3],"first",{"n":1}]
["b",[4,5,6],"second",{"s":"x"}]
["c",[0.5,0.25,-1],null,null]
JSON
test_cmp "$T/want" "$T/got"
[ "$(api GET "/collections/$id/count")" = 3 ] || fail "count is not 3"

pid=$CHROMA_PID
stop_chroma
! kill -0 "$pid" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$pid/stat")" = Z ] ||
	fail "server $pid still running"
[ -f "$T/data/chroma.sqlite3" ] || fail "no chroma.sqlite3 in the persist directory"
echo "server harness ok"
