#!/usr/bin/env python3
"""A fault-injecting HTTP proxy for tests, on loopback only.

usage: faulty_proxy.py LISTEN_PORT UPSTREAM_URL

Forwards requests to UPSTREAM_URL, except: every 3rd request gets a 503,
every 5th a 429, every 7th has its connection dropped without an answer
(counted over all requests). Bounded: it exits after 100,000 requests.
Environment: PROXY_FAULTS=0 forwards everything; PROXY_DELAY=SECONDS waits
that long before forwarding each request (a slow link); PROXY_REJECT=TEXT
answers 400, as a server refusing a record, to every request whose body
holds TEXT; PROXY_GONE_AFTER=N answers 404, as for a collection deleted
meanwhile, to every add or upsert after the first N; PROXY_PAGE_CAP=N
answers at most N records to a get, whatever its limit asks;
PROXY_NULL_VECTOR=ID answers the record ID of a get without its vector;
PROXY_BUSY=N answers the first N requests 503 with Retry-After: 2;
PROXY_IGNORE_OFFSET=1 asks every get for its first page;
PROXY_LIST_CAP=N answers at most N collections to a listing of them;
PROXY_LIST_IGNORE_OFFSET=1 answers every listing of collections its first page;
PROXY_LIST_BYTES=N answers a listing of collections as many as fit in N
bytes of JSON (at least one);
PROXY_NOT_FOUND=TEXT answers 404 to every request whose path holds TEXT;
PROXY_HOLD=TEXT with PROXY_HOLD_DIR=DIR holds the first request whose body
or path holds TEXT: it creates DIR/held1, then forwards the request once
DIR/release1 exists (at most 60 s later), so a test can change the data in
between; TEXT@N holds the N-th such request instead, and TEXT|TEXT... holds
one request for each, the K-th with DIR/heldK and DIR/releaseK.
"""
import http.server
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

UPSTREAM = sys.argv[2].rstrip("/")
FAULTS = os.environ.get("PROXY_FAULTS", "1") != "0"
DELAY = float(os.environ.get("PROXY_DELAY", "0"))
REJECT = os.environ.get("PROXY_REJECT", "").encode()
GONE_AFTER = int(os.environ.get("PROXY_GONE_AFTER", "-1"))
PAGE_CAP = int(os.environ.get("PROXY_PAGE_CAP", "0"))
NULL_VECTOR = os.environ.get("PROXY_NULL_VECTOR", "")
BUSY = int(os.environ.get("PROXY_BUSY", "0"))
IGNORE_OFFSET = os.environ.get("PROXY_IGNORE_OFFSET", "") == "1"
LIST_CAP = int(os.environ.get("PROXY_LIST_CAP", "0"))
LIST_IGNORE_OFFSET = os.environ.get("PROXY_LIST_IGNORE_OFFSET", "") == "1"
NOT_FOUND = os.environ.get("PROXY_NOT_FOUND", "")
LIST_BYTES = int(os.environ.get("PROXY_LIST_BYTES", "0"))
HOLD = [h.rsplit("@", 1) if "@" in h else [h, "1"]
        for h in os.environ.get("PROXY_HOLD", "").split("|") if h]
HOLD = [(text.encode(), int(nth)) for text, nth in HOLD]
HOLD_DIR = os.environ.get("PROXY_HOLD_DIR", "")
matched = [0] * len(HOLD)
lock = threading.Lock()
count = 0
adds = 0


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def fault(self):
        global count
        with lock:
            count += 1
            n = count
        if n > 100000:
            raise SystemExit
        if n <= BUSY:
            return "busy"
        if not FAULTS:
            return None
        if n % 7 == 0:
            return "drop"
        if n % 5 == 0:
            return 429
        if n % 3 == 0:
            return 503
        return None

    def gone(self):
        global adds
        if GONE_AFTER < 0 or not self.path.endswith(("/add", "/upsert")):
            return False
        with lock:
            adds += 1
            return adds > GONE_AFTER

    def hold(self, body):
        k = 0
        with lock:
            for i, (text, nth) in enumerate(HOLD):
                if text in body or text in self.path.encode():
                    matched[i] += 1
                    if matched[i] == nth:
                        k = i + 1
        if not k:
            return
        open(os.path.join(HOLD_DIR, f"held{k}"), "w").close()
        for _ in range(600):
            if os.path.exists(os.path.join(HOLD_DIR, f"release{k}")):
                return
            time.sleep(0.1)

    def handle_any(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        f = self.fault()
        time.sleep(DELAY)
        self.hold(body)
        if REJECT and REJECT in body:
            f = 400
        if self.gone():
            f = 404
        if (PAGE_CAP or IGNORE_OFFSET) and self.path.endswith("/get") and body:
            q = json.loads(body)
            if PAGE_CAP:
                q["limit"] = min(q.get("limit") or PAGE_CAP, PAGE_CAP)
            if IGNORE_OFFSET:
                q["offset"] = 0
            body = json.dumps(q).encode()
        path = self.path
        if (LIST_CAP or LIST_IGNORE_OFFSET) and "/collections?" in path:
            u = urllib.parse.urlsplit(path)
            q = dict(urllib.parse.parse_qsl(u.query))
            if LIST_CAP:
                q["limit"] = str(min(int(q.get("limit") or LIST_CAP), LIST_CAP))
            if LIST_IGNORE_OFFSET:
                q.pop("offset", None)
            path = urllib.parse.urlunsplit(u._replace(query=urllib.parse.urlencode(q)))
        if NOT_FOUND and NOT_FOUND in path:
            f = 404
        if f == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if f:
            msg = b'{"error":"injected","message":"injected fault"}'
            self.send_response(503 if f == "busy" else f)
            if f == "busy":
                self.send_header("Retry-After", "2")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(msg)))
            self.end_headers()
            self.wfile.write(msg)
            return
        req = urllib.request.Request(UPSTREAM + path, data=body or None,
                                     method=self.command,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=300) as r:
                status, data = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, data = e.code, e.read()
        if NULL_VECTOR and status == 200 and self.path.endswith("/get"):
            page = json.loads(data)
            if NULL_VECTOR in page["ids"] and page.get("embeddings"):
                page["embeddings"][page["ids"].index(NULL_VECTOR)] = None
                data = json.dumps(page).encode()
        if LIST_BYTES and status == 200 and "/collections?" in path:
            page = json.loads(data)
            k = 1
            while k < len(page) and len(json.dumps(page[:k + 1])) <= LIST_BYTES:
                k += 1
            data = json.dumps(page[:k]).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = do_PUT = handle_any


class Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # a client that hung up (its request was abandoned) is not news
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
