#!/usr/bin/env python3
"""Fill a real Chroma server with test data through its HTTP API.

usage: populate.py URL diff          every write path the reader must replay
       populate.py URL sample        the small demo database
       populate.py URL bench N DIM   N records of DIM floats, cosine, 4 metadata keys
       populate.py URL bench-more N DIM START   N more, ids from START
"""
import random
import sys

from chroma_api import Chroma, f32

FLUSH = {"sync_threshold": 50, "batch_size": 50}
WORDS = ("vector index backup restore chroma record shard page query cosine "
         "distance metadata embedding document collection tenant database "
         "snapshot archive river mountain quiet signal copy verify").split()

ODD_STRINGS = ["plain", "quote \" and backslash \\", "tab\tnewline\nreturn\r",
               "ctrl \u0001\u001f end", "\u4f60\u597d\u4e16\u754c", "emoji \U0001F600",
               "", "nul-free \u00e9\u00e8", "line\u2028sep"]
INTS = [0, 1, -1, 42, 2**31, 2**53 + 1, -(2**63), 2**63 - 1]
FLOATS = [2.0, 0.1, 1e-300, -1.5e10, 3.141592653589793, 1e21, 0.5]


def vec(rng, dim):
    return [f32(rng.uniform(-1, 1)) for _ in range(dim)]


def meta(rng, i):
    m = {"i": INTS[i % len(INTS)], "f": FLOATS[i % len(FLOATS)],
         "s": ODD_STRINGS[i % len(ODD_STRINGS)], "b": i % 3 == 0}
    if i % 4 == 0:
        m["ia"] = [i, i + 1, -i]
        m["fa"] = [0.25, 2.0]
        m["sa"] = ["x", ODD_STRINGS[i % len(ODD_STRINGS)]]
        m["ba"] = [True, False]
    if i % 11 == 0:
        return None
    return m


def doc(rng, i):
    if i % 9 == 0:
        return None
    return f"doc {i}: " + " ".join(rng.choice(WORDS) for _ in range(8)) + \
        " " + ODD_STRINGS[i % len(ODD_STRINGS)]


def add(c, cid, rng, ids, dim, op="add", step=37):
    for k in range(0, len(ids), step):
        part = ids[k:k + step]
        nums = [int(x.split("-")[-1]) for x in part]
        body = {"ids": part, "embeddings": [vec(rng, dim) for _ in part],
                "documents": [doc(rng, n) for n in nums],
                "metadatas": [meta(rng, n) for n in nums]}
        if nums[0] % 2 == 0:
            body["uris"] = [f"s3://bucket/{x}" if n % 3 else None for x, n in zip(part, nums)]
        c.records(cid, op, **body)


def churn(c, cid, rng, dim, n):
    """Updates of each kind, upserts of old and new ids, deletes, re-adds."""
    ids = lambda a, b: [f"id-{k}" for k in range(a, b)]
    c.records(cid, "update", ids=ids(0, 20), embeddings=[vec(rng, dim) for _ in range(20)])
    c.records(cid, "update", ids=ids(20, 40),
              metadatas=[{"s": None, "new": k, "f": 2.0} for k in range(20)])
    c.records(cid, "update", ids=ids(40, 50), documents=[f"updated {k}" for k in range(10)])
    c.records(cid, "upsert", ids=ids(50, 65) + ids(n, n + 15),
              embeddings=[vec(rng, dim) for _ in range(30)],
              metadatas=[{"up": k, "s": None} for k in range(30)],
              documents=[f"upserted {k}" for k in range(30)])
    c.records(cid, "delete", ids=ids(65, 90))
    add(c, cid, rng, ids(70, 75), dim)
    c.records(cid, "update", ids=ids(n - 5, n), embeddings=[vec(rng, dim) for _ in range(5)],
              metadatas=[{"late": True} for _ in range(5)])


def scenario_diff(c):
    rng = random.Random(20261124)
    for space, dim in (("l2", 12), ("cosine", 8), ("ip", 5)):
        cid = c.create(f"{space}-coll", {"space": space, "owner": "tests", "n": 3},
                       {"hnsw": dict(FLUSH, space=space)})
        add(c, cid, rng, [f"id-{k}" for k in range(300)], dim)
        churn(c, cid, rng, dim, 300)
    cid = c.create("wal-only", {"note": "below sync_threshold"})
    add(c, cid, rng, [f"id-{k}" for k in range(30)], 6)
    churn(c, cid, rng, 6, 120)
    c.create("empty-coll")
    cid = c.create("gone-coll", None, {"hnsw": FLUSH})
    add(c, cid, rng, [f"id-{k}" for k in range(120)], 4)
    c.delete_collection("gone-coll")


def scenario_sample(c):
    rng = random.Random(7)
    topics = ["backups", "recipes", "astronomy", "gardening"]
    cid = c.create("articles", {"description": "sample articles"},
                   {"hnsw": {"space": "cosine", "sync_threshold": 100}})
    for k in range(0, 150, 50):
        ids = [f"article-{i:03d}" for i in range(k, k + 50)]
        c.records(cid, "add", ids=ids, embeddings=[vec(rng, 16) for _ in ids],
                  documents=[f"Article {i} about {topics[i % 4]}: " +
                             " ".join(rng.choice(WORDS) for _ in range(12)) for i in range(k, k + 50)],
                  metadatas=[{"topic": topics[i % 4], "year": 2020 + i % 6, "score": i / 8,
                              "published": i % 5 != 0} for i in range(k, k + 50)])
    c.records(cid, "update", ids=["article-001"], documents=["Article 1, revised."])
    c.records(cid, "delete", ids=["article-002", "article-003"])
    cid = c.create("images")
    ids = [f"img-{i}" for i in range(40)]
    c.records(cid, "add", ids=ids, embeddings=[vec(rng, 16) for _ in ids],
              uris=[f"file:///photos/{i}.jpg" for i in ids],
              metadatas=[{"camera": rng.choice(["a", "b"]), "tags": ["x", "y"]} for _ in ids])


def scenario_bench(c, n, dim, start=0):
    rng = random.Random(1 + start)
    if start:
        cid = [x for x in c.collections() if x["name"] == "bench"][0]["id"]
    else:
        cid = c.create("bench", None, {"hnsw": {"space": "cosine"}})
    step = 1000
    for k in range(start, start + n, step):
        m = min(step, start + n - k)
        ids = [f"rec-{i:08d}" for i in range(k, k + m)]
        c.records(cid, "add", ids=ids,
                  embeddings=[[round(rng.gauss(0, 0.05), 7) for _ in range(dim)] for _ in ids],
                  documents=[" ".join(rng.choice(WORDS) for _ in range(60)) for _ in ids],
                  metadatas=[{"source": f"file-{i % 97}.pdf", "page": i % 500,
                              "score": rng.random(), "reviewed": i % 2 == 0}
                             for i in range(k, k + m)])


def main():
    c = Chroma(sys.argv[1])
    what = sys.argv[2]
    if what == "diff":
        scenario_diff(c)
    elif what == "sample":
        scenario_sample(c)
    elif what == "bench":
        scenario_bench(c, int(sys.argv[3]), int(sys.argv[4]))
    elif what == "bench-more":
        scenario_bench(c, int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
