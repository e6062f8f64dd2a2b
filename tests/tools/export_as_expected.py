#!/usr/bin/env python3
"""Rewrite a chromavault export as the dump format jsonl_compare.py reads
(one object per record with collection, id, embedding, document, metadata,
uri), so two exports can be compared record by record.

usage: export_as_expected.py EXPORT.jsonl > expected.jsonl
"""
import json
import sys

coll = None
for line in open(sys.argv[1], encoding="utf-8"):
    o = json.loads(line)
    if "_collection" in o:
        coll = o["_collection"]["name"]
        continue
    print(json.dumps({"collection": coll, "id": o["id"], "embedding": o["embedding"],
                      "document": o.get("text_chunk"), "metadata": o["metadata"],
                      "uri": o.get("uri")}, ensure_ascii=False))
