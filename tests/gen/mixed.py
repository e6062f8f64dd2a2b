#!/usr/bin/env python3
"""A writer that adds, updates and deletes, and the check of a copy's state.

usage: mixed.py URL pad N            N more collections of 200 records each
                                     (more index folders: a longer copy)
       mixed.py URL write SECONDS    run the operations below on collection
                                     "mixed" (sync_threshold 10) until SECONDS
                                     pass; prints how many ran
       mixed.py URL check            get() of "mixed" equals the state after
                                     some prefix of the operations, count()
                                     agrees and query() finds no id get()
                                     lacks; prints the prefix's length

The operations, step s = 0, 1, ...: add batch s (10 records); update batch
s-3 to version s; delete the even records of batch s-6.
"""
import sys
import time

from chroma_api import Chroma, f32

DIM = 16


def vec(i, version):
    return [f32(((i * 31 + k * 7 + version * 13) % 997) / 97.0) for k in range(DIM)]


def batch(s):
    return [s * 10 + k for k in range(10)]


def rid(i):
    return f"rec-{i:06d}"


def operations():
    s = 0
    while True:
        yield ("add", s, 0)
        if s >= 3:
            yield ("update", s - 3, s)
        if s >= 6:
            yield ("delete", s - 6, 0)
        s += 1


def record(i, version):
    return (vec(i, version), f"doc {i} v{version}", {"i": i, "v": version})


def apply(state, op):
    kind, s, version = op
    for i in batch(s):
        if kind == "add" or (kind == "update" and rid(i) in state):
            state[rid(i)] = record(i, version)
        elif kind == "delete" and i % 2 == 0:
            state.pop(rid(i), None)


def send(c, cid, op):
    kind, s, version = op
    idx = batch(s)
    if kind == "delete":
        c.records(cid, "delete", ids=[rid(i) for i in idx if i % 2 == 0])
        return
    recs = [record(i, version) for i in idx]
    c.records(cid, kind, ids=[rid(i) for i in idx], embeddings=[r[0] for r in recs],
              documents=[r[1] for r in recs], metadatas=[r[2] for r in recs])


def pad(c, n):
    have = len(c.collections())
    for k in range(have, have + n):
        cid = c.create(f"pad{k:03d}", None, {"hnsw": {"space": "l2", "sync_threshold": 10}})
        for b in range(0, 200, 50):
            c.records(cid, "add", ids=[f"p{k}-{i}" for i in range(b, b + 50)],
                      embeddings=[vec(i + k, 0) for i in range(b, b + 50)])


def write(c, secs):
    cid = c.create("mixed", None, {"hnsw": {"space": "l2", "sync_threshold": 10}})
    deadline = time.time() + secs
    n = 0
    for op in operations():
        if time.time() >= deadline:
            break
        send(c, cid, op)
        n += 1
    print(n)


def served(c, cid):
    got = {}
    for r in c.get_all(cid):
        emb = [f32(x) for x in r["embedding"]] if r["embedding"] is not None else None
        got[r["id"]] = (emb, r["document"], r["metadata"])
    return got


def matching_prefix(got):
    state, n = {}, 0
    for op in operations():
        if state == got:
            return n
        if len(state) > len(got) + 40:  # only grows from here: no match
            return None
        apply(state, op)
        n += 1


def check(c):
    cols = [x for x in c.collections() if x["name"] == "mixed"]
    if not cols:
        print(0)
        return 0
    cid = cols[0]["id"]
    got = served(c, cid)
    n = matching_prefix(got)
    if n is None:
        print(f"get() returns {len(got)} records, the state after no prefix")
        return 1
    count = c.call("GET", f"{c.prefix}/collections/{cid}/count")
    if count != len(got):
        print(f"count() {count}, get() {len(got)}")
        return 1
    queries = [v[0] for v in list(got.values())[::max(1, len(got) // 40)]]
    if queries:
        r = c.records(cid, "query", query_embeddings=queries,
                      n_results=min(len(got), 100), include=["distances"])
        phantom = {x for row in r["ids"] for x in row if x not in got}
        if phantom:
            print(f"query() returns ids get() lacks: {sorted(phantom)[:5]}")
            return 1
    print(n)
    return 0


def main():
    c = Chroma(sys.argv[1])
    if sys.argv[2] == "pad":
        pad(c, int(sys.argv[3]))
        return 0
    if sys.argv[2] == "write":
        write(c, float(sys.argv[3]))
        return 0
    return check(c)


if __name__ == "__main__":
    sys.exit(main())
