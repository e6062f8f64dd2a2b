#!/usr/bin/env bash
# TLS and auth through a real nginx in front of the server on loopback: a
# self-signed certificate is verified with --cacert and refused without it;
# basic auth from the URL and a token header are both required; wrong
# credentials give a clear error that never shows the secrets.
. "$(dirname "$0")/lib.sh"
setup
command -v nginx >/dev/null || fail "nginx is not installed (scripts/install-deps.sh installs it)"

start_chroma "$T/data"
expect_ok python3 "$ROOT/tests/gen/populate.py" "$CHROMA_URL" sample

mkdir -p "$T/nginx/logs"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
	-addext "subjectAltName=IP:127.0.0.1" -keyout "$T/key.pem" -out "$T/cert.pem" \
	>/dev/null 2>&1 || fail "openssl"
printf 'alice:%s\n' "$(openssl passwd -apr1 's3cret-pw')" >"$T/htpasswd"
printf 'bob:%s\n' "$(openssl passwd -apr1 'p@ss/w:rd')" >>"$T/htpasswd"
port=$(free_port)
# workers read files in the private test dir: as root, keep them root
[ "$(id -u)" -eq 0 ] && user_line="user root;" || user_line=
cat >"$T/nginx.conf" <<CONF
$user_line
daemon off;
pid $T/nginx/nginx.pid;
error_log $T/nginx/logs/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $T/nginx/body;
  proxy_temp_path $T/nginx/proxy;
  fastcgi_temp_path $T/nginx/fcgi;
  uwsgi_temp_path $T/nginx/uwsgi;
  scgi_temp_path $T/nginx/scgi;
  client_max_body_size 64m;
  server {
    listen 127.0.0.1:$port ssl;
    ssl_certificate $T/cert.pem;
    ssl_certificate_key $T/key.pem;
    auth_basic "chroma";
    auth_basic_user_file $T/htpasswd;
    location / {
      if (\$http_x_chroma_token != "tok-123") { return 403 '{"error":"Forbidden","message":"bad token"}'; }
      proxy_pass $CHROMA_URL;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
CONF
nginx -c "$T/nginx.conf" -p "$T/nginx" &
ngx=$!
trap 'kill $ngx 2>/dev/null; cleanup' EXIT
for i in $(seq 50); do curl -ks "https://127.0.0.1:$port/" >/dev/null 2>&1 && break; sleep 0.1; done

url="https://alice:s3cret-pw@127.0.0.1:$port"
expect_ok "$CV" export "$url/articles" --cacert "$T/cert.pem" --token tok-123 -o "$T/tls.jsonl"
expect_ok "$CV" export "$CHROMA_URL/articles" -o "$T/plain.jsonl"
test_cmp "$T/plain.jsonl" "$T/tls.jsonl"
CHROMA_API_KEY=tok-123 expect_ok "$CV" export "$url/articles" --insecure -o "$T/insecure.jsonl"

# no CA: the certificate is refused
expect_fail 2 "$CV" export "$url/articles" --token tok-123
grep -qi "certificate" "$T/stderr" || fail "no certificate error: $(cat "$T/stderr")"
# wrong password, wrong token
expect_fail 2 "$CV" export "https://alice:wrong-pw@127.0.0.1:$port/articles" \
	--cacert "$T/cert.pem" --token tok-123
grep -q "HTTP 401" "$T/stderr" || fail "no 401: $(cat "$T/stderr")"
expect_fail 2 "$CV" export "$url/articles" --cacert "$T/cert.pem" --token bad-tok-999
grep -q "HTTP 403: bad token" "$T/stderr" || fail "no 403: $(cat "$T/stderr")"
for secret in s3cret-pw wrong-pw tok-123 bad-tok-999; do
	grep -rq -- "$secret" "$T/stderr" "$T/stdout" && fail "a secret was printed"
done

# a password holding '@', '/' and ':', typed as is or percent-encoded
for pw in 'p@ss/w:rd' 'p%40ss%2Fw%3Ard'; do
	expect_ok "$CV" export "https://bob:$pw@127.0.0.1:$port/articles" \
		--cacert "$T/cert.pem" --token tok-123 -o "$T/bob.jsonl"
	test_cmp "$T/plain.jsonl" "$T/bob.jsonl"
done
# messages about such a URL never show it, nor a part of it
expect_fail 1 "$CV" export "https://bob:p@ss/w:rd@127.0.0.1:$port/articles/extra"
cat "$T/stderr" >"$T/said"
expect_fail 2 "$CV" export "https://bob:p@ss/w:rd-wrong@127.0.0.1:$port/articles" \
	--cacert "$T/cert.pem" --token tok-123
grep -q "HTTP 401" "$T/stderr" || fail "no 401 for bob: $(cat "$T/stderr")"
cat "$T/stderr" >>"$T/said"
expect_fail 1 "$CV" import "https://bob:p@ss/w:rd@127.0.0.1:$port/a/b" -i "$T/plain.jsonl"
cat "$T/stderr" "$T/stdout" >>"$T/said"
# a '?' typed in a password (it starts a query): refused, nothing of it shown
expect_fail 1 "$CV" export "https://bob:p@ss?w:rd@127.0.0.1:$port/articles"
cat "$T/stderr" >>"$T/said"
expect_fail 1 "$CV" export "https://bob:p@ss?tenant=w:rd@127.0.0.1:$port/articles"
cat "$T/stderr" >>"$T/said"
grep -q "https://\*\*\*@127.0.0.1" "$T/said" || fail "the URL is not named: $(cat "$T/said")"
for secret in 'p@ss' 'ss/w' 'w:rd' 'rd-wrong'; do
	grep -q -- "$secret" "$T/said" && fail "a part of a password was printed: $(cat "$T/said")"
done

# import through the same front
grep -v '^{"_collection"' "$T/plain.jsonl" >"$T/records.jsonl"
expect_ok "$CV" import "$url/copied" -i "$T/records.jsonl" --create --space cosine \
	--cacert "$T/cert.pem" --token tok-123
expect_ok "$CV" export "$CHROMA_URL/copied" -o "$T/copied.jsonl"
[ "$(wc -l <"$T/copied.jsonl")" -eq "$(wc -l <"$T/records.jsonl")" ] || fail "import via TLS lost records"
echo "TLS and auth enforced"
