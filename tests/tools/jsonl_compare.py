#!/usr/bin/env python3
"""Compare a chromavault export with a dump of what a real Chroma server returns.

usage: jsonl_compare.py EXPORT.jsonl EXPECTED.jsonl [--ulps N] [--collection NAME]

EXPORT is chromavault's format (header lines + cdp records); EXPECTED has one
object per record with keys collection, id, embedding, document, metadata, uri
(tests/gen/dump.mjs, shared/fixtures/real-world/*/expected.jsonl). Documents,
URIs and metadata must be equal with types kept (an int is not a float, a bool
is not an int); embeddings equal as float32, within N ulps (default 0) for
cosine collections. Prints the first differences; exits 1 if any.
"""
import json
import struct
import sys


def f32_bits(x):
    return struct.unpack("<i", struct.pack("<f", x))[0]


def ulps(a, b):
    ia, ib = f32_bits(a), f32_bits(b)
    if ia < 0:
        ia = -2**31 - ia
    if ib < 0:
        ib = -2**31 - ib
    return abs(ia - ib)


def same_typed(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_typed(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_typed(x, y) for x, y in zip(a, b))
    return a == b


def load_export(path, only):
    recs, spaces, coll = {}, {}, only
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            o = json.loads(line)
            if "_collection" in o:
                coll = o["_collection"]["name"]
                spaces[coll] = o["_collection"]["space"]
                continue
            key = (coll, o["id"])
            if key in recs:
                raise SystemExit(f"{path}:{n}: duplicate record {key}")
            recs[key] = {"embedding": o["embedding"], "document": o.get("text_chunk"),
                         "metadata": o["metadata"], "uri": o.get("uri")}
    return recs, spaces


def load_expected(path, only):
    recs = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            o = json.loads(line)
            if only and o["collection"] != only:
                continue
            recs[(o["collection"], o["id"])] = o
    return recs


def compare_one(key, got, exp, tol):
    errs = []
    for k in ("document", "uri"):
        if got[k] != exp.get(k):
            errs.append(f"{key}: {k} {got[k]!r} != {exp.get(k)!r}")
    gm, em = got["metadata"] or None, exp.get("metadata") or None
    if not same_typed(gm, em):
        errs.append(f"{key}: metadata {gm!r} != {em!r}")
    ge, ee = got["embedding"], exp.get("embedding")
    if (ge is None) != (ee is None) or (ge and len(ge) != len(ee)):
        errs.append(f"{key}: embedding shape differs")
    elif ge:
        worst = max(ulps(a, b) for a, b in zip(ge, ee))
        if worst > tol:
            errs.append(f"{key}: embedding differs by {worst} ulps")
    return errs


def main():
    args = sys.argv[1:]
    tol, only = 0, None
    if "--ulps" in args:
        i = args.index("--ulps")
        tol = int(args[i + 1])
        del args[i:i + 2]
    if "--collection" in args:
        i = args.index("--collection")
        only = args[i + 1]
        del args[i:i + 2]
    got, spaces = load_export(args[0], only)
    exp = load_expected(args[1], only)
    errs = []
    for key in sorted(set(got) | set(exp)):
        if key not in got:
            errs.append(f"{key}: missing from the export")
        elif key not in exp:
            errs.append(f"{key}: not returned by the server")
        else:
            t = tol if spaces.get(key[0], "cosine") == "cosine" else 0
            errs.extend(compare_one(key, got[key], exp[key], t))
    for e in errs[:20]:
        print(e)
    print(f"compared {len(exp)} records: {len(errs)} differences")
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
