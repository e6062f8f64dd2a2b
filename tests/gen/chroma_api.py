"""A minimal client for Chroma's v2 HTTP API, for test-data generation and dumps.

Standard library only. Python's json keeps 64-bit integers exact, which the
tests need to compare metadata type-exactly.
"""
import json
import struct
import urllib.error
import urllib.request

BASE = "/api/v2/tenants/{t}/databases/{d}"


class Chroma:
    def __init__(self, url, tenant="default_tenant", database="default_database"):
        self.url = url.rstrip("/")
        self.prefix = BASE.format(t=tenant, d=database)

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=300) as r:
                text = r.read()
        except urllib.error.HTTPError as e:
            raise SystemExit(f"{method} {path}: {e.code} {e.read()[:300]!r}")
        return json.loads(text) if text else None

    def create(self, name, metadata=None, configuration=None):
        body = {"name": name}
        if metadata:
            body["metadata"] = metadata
        if configuration:
            body["configuration"] = configuration
        return self.call("POST", self.prefix + "/collections", body)["id"]

    def delete_collection(self, name):
        self.call("DELETE", self.prefix + "/collections/" + name)

    def collections(self):
        return self.call("GET", self.prefix + "/collections?limit=100000")

    def records(self, cid, op, **body):
        return self.call("POST", f"{self.prefix}/collections/{cid}/{op}", body)

    def get_all(self, cid, page=1000):
        out, offset = [], 0
        while True:
            r = self.records(cid, "get", limit=page, offset=offset,
                             include=["embeddings", "documents", "metadatas", "uris"])
            n = len(r["ids"])
            for i in range(n):
                out.append({"id": r["ids"][i],
                            "embedding": r["embeddings"][i] if r.get("embeddings") else None,
                            "document": r["documents"][i] if r.get("documents") else None,
                            "metadata": r["metadatas"][i] if r.get("metadatas") else None,
                            "uri": r["uris"][i] if r.get("uris") else None})
            if n < page:
                return out
            offset += n


def f32(x):
    """The double that equals float32(x), so the server stores x exactly."""
    return struct.unpack("<f", struct.pack("<f", x))[0]
