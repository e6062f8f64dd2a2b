#!/usr/bin/env python3
"""A writer for hot-backup tests, and the check of what a restore holds.

usage: live.py URL write N SECONDS    add records rec-000000.. in batches of 10
                                      until N are written or SECONDS pass
       live.py URL check              the collection holds exactly a prefix
                                      rec-0..k-1, each as written; prints k
"""
import struct
import sys
import time

from chroma_api import Chroma, f32

DIM = 8


def record(i):
    vec = [struct.unpack("<f", struct.pack("<f", (i * 31 + k) % 997 / 97.0))[0]
           for k in range(DIM)]
    return f"rec-{i:06d}", vec, f"document {i}", {"i": i, "even": i % 2 == 0}


def write(c, n, secs):
    cid = c.create("live", None, {"hnsw": {"space": "l2", "sync_threshold": 20}})
    deadline = time.time() + secs
    i = 0
    while i < n and time.time() < deadline:
        batch = [record(k) for k in range(i, min(n, i + 10))]
        c.records(cid, "add", ids=[b[0] for b in batch],
                  embeddings=[b[1] for b in batch],
                  documents=[b[2] for b in batch], metadatas=[b[3] for b in batch])
        i += len(batch)
    print(i)


def check(c):
    cols = [x for x in c.collections() if x["name"] == "live"]
    if not cols:
        print(0)
        return 0
    recs = sorted(c.get_all(cols[0]["id"]), key=lambda r: r["id"])
    for k, r in enumerate(recs):
        rid, vec, doc, meta = record(k)
        emb = [f32(x) for x in r["embedding"]] if r["embedding"] else None
        got = (r["id"], emb, r["document"], r["metadata"])
        if got != (rid, vec, doc, meta):
            print(f"record {k}: got {got!r}, wrote {(rid, vec, doc, meta)!r}")
            return 1
    print(len(recs))
    return 0


def main():
    c = Chroma(sys.argv[1])
    if sys.argv[2] == "write":
        write(c, int(sys.argv[3]), float(sys.argv[4]))
        return 0
    return check(c)


if __name__ == "__main__":
    sys.exit(main())
