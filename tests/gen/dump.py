#!/usr/bin/env python3
"""Dump every record a real Chroma server returns, for differential tests.

usage: dump.py URL > expected.jsonl
One object per record, sorted by (collection, id), keys collection, id,
embedding, document, metadata, uri: the shape of
shared/fixtures/real-world/*/expected.jsonl.
"""
import json
import sys

from chroma_api import Chroma


def main():
    c = Chroma(sys.argv[1])
    rows = []
    for coll in c.collections():
        for rec in c.get_all(coll["id"]):
            rec["collection"] = coll["name"]
            rows.append(rec)
    rows.sort(key=lambda r: (r["collection"], r["id"]))
    for r in rows:
        sys.stdout.write(json.dumps(r, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
