#!/usr/bin/env python3
"""tests/fuzz/seed_request.py DIR — seed inputs for fuzz_request (see its
header): a path byte 0 then a framed Request (ping, list views, server info,
lookups of every view of the harness's config with int64, string, composite
and null keys, every Value kind, deadlines, wildcards; a WriteFeatures), and
stream entries (path byte 96), hand-encoded here so that seeding needs no
protobuf package."""
import os, struct, sys

def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)

def fld(num, wt, v):
    if wt == 0:
        return varint(num << 3) + varint(v)
    if wt == 1:
        return varint(num << 3 | 1) + v
    if wt == 5:
        return varint(num << 3 | 5) + v
    return varint(num << 3 | 2) + varint(len(v)) + v

def value(kind, v):
    if kind == "int64": return fld(3, 0, v)
    if kind == "int32": return fld(2, 0, v)
    if kind == "string": return fld(6, 2, v.encode())
    if kind == "bool": return fld(1, 0, 1 if v else 0)
    if kind == "double": return fld(5, 1, struct.pack("<d", v))
    if kind == "float": return fld(4, 5, struct.pack("<f", v))
    if kind == "bytes": return fld(7, 2, v)
    if kind == "ts": return fld(8, 0, v)
    if kind == "fl": return fld(9, 2, fld(1, 2, b"".join(struct.pack("<f", x) for x in v)))
    if kind == "sl": return fld(12, 2, b"".join(fld(1, 2, s.encode()) for s in v))
    return b""          # null

def column(name, vals):
    return fld(1, 2, name.encode()) + b"".join(fld(2, 2, value(k, v)) for k, v in vals)

def lookup(rid, feats, cols, deadline=0):
    g = b"".join(fld(1, 2, f.encode()) for f in feats) + b"".join(fld(2, 2, c) for c in cols)
    if deadline:
        g += fld(3, 0, deadline)
    return fld(1, 0, rid) + fld(2, 2, g)

def frame(req):
    return b"\x00" + len(req).to_bytes(4, "big") + req

seeds = {
    "ping": frame(fld(1, 0, 1) + fld(3, 2, b"")),
    "views": frame(fld(1, 0, 2) + fld(4, 2, b"")),
    "info": frame(fld(1, 0, 3) + fld(5, 2, b"")),
    "all": frame(lookup(4, ["all:*"], [column("user_id", [("int64", i) for i in range(1, 20)])], 50)),
    "refs": frame(lookup(5, ["all:b", "all:sl", "ui:score", "nope:x", "all:"],
                         [column("user_id", [("int64", 1), ("null", None)]),
                          column("item_id", [("string", "a"), ("string", "")])])),
    "pair": frame(lookup(6, ["p:x"], [column("a", [("int64", -1)]), column("b", [("string", "s3:x")])])),
    "types": frame(lookup(7, ["all:i32"], [column("user_id", [("int32", 5), ("double", 1.5),
                                                              ("bytes", b"\xff"), ("ts", 1700000000000000),
                                                              ("fl", [1.0, 2.0]), ("sl", ["a", "b"]),
                                                              ("bool", True), ("float", 0.5)])])),
    "unknown_field": frame(fld(1, 0, 8) + fld(15, 2, b"x" * 40) + fld(3, 2, b"")),
    # WriteFeatures (Request.body 6): view, entity column, feature columns, event times
    "write": frame(fld(1, 0, 9) + fld(6, 2, fld(1, 2, b"all")
                   + fld(2, 2, column("user_id", [("int64", 1), ("int64", 2)]))
                   + fld(3, 2, column("d", [("double", 1.5), ("double", 20.0)]))
                   + fld(3, 2, column("s", [("string", "a"), ("null", None)]))
                   + fld(4, 2, varint(1700000000000000) + varint(1700000000000001)))),
    # stream entries (path byte 96): field NUL value NUL ...
    "stream": b"\x60" + b"\0".join([b"user_id", b"42", b"event_timestamp", b"2026-12-01T10:00:00Z",
                                     b"d", b"1.5", b"sl", b'["a","b"]', b"by", b"aGk=", b"ts", b"1700000000000000"]),
    "stream_bad": b"\x60" + b"\0".join([b"user_id", b"x", b"d", b"-1", b"zz", b"1"]),
}
d = sys.argv[1]
os.makedirs(d, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
print("seed_request: %d seeds in %s" % (len(seeds), d))
