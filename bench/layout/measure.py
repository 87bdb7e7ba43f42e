#!/usr/bin/env python3
"""
measure.py — measures candidate online-tier layouts against each other on a
private redis-server (docs/online-layout.md has the results and the choice).

For each layout it loads the same data (N entities x V views x 10 doubles,
each row the packed size featd's codec gives it) and reports:
  bytes/value   used_memory growth / (N * V * 10)
  lookup        Redis CPU (INFO used_cpu_user+sys) per 100-entity x V-view
                lookup, and the same per single-entity lookup
  write         Redis CPU per row written (the materializer's commands)
  reclaim       Redis CPU per entity to remove one view's old generation
Redis CPU is read from Redis itself, so the speed of this Python client does
not enter the figures.

Usage: bench/layout/measure.py [--entities N] [--views V] [--lookups L]
"""
import argparse
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

FEATURES = 10
BATCH = 100


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, int):
            a = str(a).encode()
        elif isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    """A pipelining RESP2 connection with a minimal reply parser."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.pos = 0

    def _fill(self):
        d = self.s.recv(1 << 20)
        if not d:
            raise EOFError("redis closed the connection")
        self.buf = self.buf[self.pos:] + d
        self.pos = 0

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                ln = self.buf[self.pos:i]
                self.pos = i + 2
                return ln
            self._fill()

    def reply(self):
        ln = self._line()
        t, rest = ln[:1], ln[1:]
        if t in (b"+", b":"):
            return rest
        if t == b"-":
            raise RuntimeError(rest.decode())
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) - self.pos < n + 2:
                self._fill()
            v = self.buf[self.pos:self.pos + n]
            self.pos += n + 2
            return v
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise RuntimeError("bad reply %r" % ln)

    def pipeline(self, cmds):
        self.s.sendall(b"".join(cmds))
        return [self.reply() for _ in cmds]

    def call(self, *args):
        return self.pipeline([resp(*args)])[0]

    def info(self, section):
        txt = self.call("INFO", section).decode()
        d = {}
        for ln in txt.splitlines():
            if ":" in ln:
                k, v = ln.split(":", 1)
                d[k] = v
        return d

    def cpu(self):
        i = self.info("cpu")
        return float(i["used_cpu_user"]) + float(i["used_cpu_sys"])

    def mem(self):
        return int(self.info("memory")["used_memory"])


def send_chunked(c, cmds, chunk=2000):
    for i in range(0, len(cmds), chunk):
        c.pipeline(cmds[i:i + chunk])


def row(header, rnd):
    """A packed row: header bytes (version + event ts [+ created ts]),
    a 2-byte null bitmap, 10 doubles."""
    return (b"\x01" * header + b"\x00\x00" +
            struct.pack("<10d", *[rnd.random() for _ in range(FEATURES)]))


# ---- layouts ---------------------------------------------------------------
# Each: name, description, write(c, ents, view, gen) -> commands,
# lookup(ents, gens) -> commands, reclaim(c, view, gen) -> runs it.

PTR = ["f:v2:{view%d}:current" % v for v in range(64)]


class KeyPerRow:
    """(a) today's one key per (view, generation, entity), SET PXAT, with an
    entity hash tag: P:{E}:V:F:g<G>."""
    name = "a: key per row, hash-tagged"
    header = 17

    def key(self, e, v, g):
        return "f:v2:{i%d}:view%d:0123456789abcdef:g%d" % (e, v, g)

    def write(self, ents, v, g, rows, at):
        return [resp("SET", self.key(e, v, g), rows[e], "PXAT", at) for e in ents]

    def lookup(self, ents, views, gens):
        keys = [PTR[v] for v in views]
        keys += [self.key(e, v, gens[v]) for v in views for e in ents]
        return [resp("MGET", *keys)]

    def reclaim(self, c, v, g):
        cur = b"0"
        while True:
            cur, keys = c.call("SCAN", cur, "MATCH", "f:v2:{*}:view%d:*:g%d" % (v, g),
                               "COUNT", 1000)
            if keys:
                c.call("UNLINK", *keys)
            if cur == b"0":
                break


class HashPerEntity:
    """(b) one hash per entity, one field per (view, generation)."""

    def __init__(self, header, field, name):
        self.header = header
        self.fieldfn = field
        self.name = name

    def key(self, e):
        return "f:v2:{i%d}" % e

    def write(self, ents, v, g, rows, at):
        f = self.fieldfn(v, g)
        out = []
        for e in ents:
            k = self.key(e)
            out.append(resp("HSET", k, f, rows[e]))
            out.append(resp("PEXPIREAT", k, at, "NX"))
            out.append(resp("PEXPIREAT", k, at, "GT"))
        return out

    def lookup(self, ents, views, gens):
        fields = [self.fieldfn(v, gens[v]) for v in views]
        out = [resp("MGET", *[PTR[v] for v in views])]
        out += [resp("HMGET", self.key(e), *fields) for e in ents]
        return out

    def reclaim(self, c, v, g):
        f = self.fieldfn(v, g)
        cur = b"0"
        while True:
            cur, keys = c.call("SCAN", cur, "MATCH", "f:v2:{*}", "COUNT", 1000)
            if keys:
                c.pipeline([resp("HDEL", k, f) for k in keys])
            if cur == b"0":
                break


def field_ms(v, g):
    return str(1764800000000 + v * 1000 + g)      # a ms timestamp: int64 in a listpack


def field_ds(v, g):
    return str(290000000 + v * 10 + g)             # tenths of a second since 2026 (v2): int32


def field_hex(v, g):
    return "%x" % (1764800000000 + v * 1000 + g)   # 11 hex chars: a string


LAYOUTS = [
    ("a", KeyPerRow(), {}),
    ("b-hashtable", HashPerEntity(9, field_ds, "b: hash per entity, Redis default "
                                  "hash-max-listpack-value 64 (hashtable encoding)"), {}),
    ("b-ms", HashPerEntity(9, field_ms, "b: hash per entity, listpack, "
                           "millisecond generation field (int64)"),
     {"hash-max-listpack-value": "1024"}),
    ("b-hex", HashPerEntity(9, field_hex, "b: hash per entity, listpack, "
                            "hex generation field (string)"),
     {"hash-max-listpack-value": "1024"}),
    ("b-17", HashPerEntity(17, field_ds, "b: hash per entity, listpack, "
                           "17-byte row header (v1 codec)"),
     {"hash-max-listpack-value": "1024"}),
    ("b", HashPerEntity(9, field_ds, "**b (chosen): hash per entity, listpack, "
                        "9-byte header, 4-byte generation field (int32)**"),
     {"hash-max-listpack-value": "1024"}),
]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start_redis(tmp):
    port = free_port()
    p = subprocess.Popen(["redis-server", "--port", str(port), "--save", "",
                          "--appendonly", "no", "--dir", tmp, "--bind", "127.0.0.1"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            c = Conn(port)
            c.call("PING")
            return p, c
        except (OSError, EOFError):
            time.sleep(0.05)
    raise SystemExit("redis-server did not start")


def measure(c, lay, cfg, n, nviews, nlookups):
    c.call("FLUSHALL")
    c.call("CONFIG", "SET", "hash-max-listpack-value", cfg.get("hash-max-listpack-value", "64"))
    time.sleep(0.2)
    rnd = random.Random(7)
    ents = list(range(n))
    at = int(time.time() * 1000) + 86400000
    m0 = c.mem()
    cpu0 = c.cpu()
    gens = {}
    for v in range(nviews):
        gens[v] = 1
        c.call("SET", PTR[v], 1)
        rows = [row(lay.header, rnd) for _ in ents]
        send_chunked(c, lay.write(ents, v, 1, rows, at))
    cpu_w = (c.cpu() - cpu0) / (n * nviews)
    mem = c.mem() - m0
    enc = c.call("OBJECT", "ENCODING", lay.key(0) if isinstance(lay, HashPerEntity)
                 else lay.key(0, 0, 1)).decode()
    # batch lookups: 100 random entities x all views
    views = list(range(nviews))
    reqs = [lay.lookup(rnd.sample(ents, BATCH), views, gens) for _ in range(nlookups)]
    cpu0 = c.cpu()
    for r in reqs:
        c.pipeline(r)
    cpu_batch = (c.cpu() - cpu0) / nlookups
    reqs = [lay.lookup([rnd.randrange(n)], views, gens) for _ in range(nlookups * 20)]
    cpu0 = c.cpu()
    for i in range(0, len(reqs), 50):       # 50 in flight, like 50 connections
        c.pipeline([x for r in reqs[i:i + 50] for x in r])
    cpu_single = (c.cpu() - cpu0) / len(reqs)
    # reclaim: write generation 2 of view 0, then remove generation 1
    rows = [row(lay.header, rnd) for _ in ents]
    send_chunked(c, lay.write(ents, 0, 2, rows, at))
    c.call("SET", PTR[0], 2)
    cpu0 = c.cpu()
    lay.reclaim(c, 0, 1)
    cpu_rec = (c.cpu() - cpu0) / n
    keys = int(c.info("keyspace").get("db0", "keys=0").split(",")[0].split("=")[1])
    return {
        "bytes_per_value": mem / (n * nviews * FEATURES),
        "encoding": enc,
        "write_us_per_row": cpu_w * 1e6,
        "batch_us": cpu_batch * 1e6,
        "single_us": cpu_single * 1e6,
        "reclaim_us_per_entity": cpu_rec * 1e6,
        "keys_after": keys,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--entities", type=int, default=100000)
    ap.add_argument("--views", type=int, default=5)
    ap.add_argument("--lookups", type=int, default=2000)
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    if shutil.which("redis-server") is None:
        raise SystemExit("measure.py: redis-server not found (apt-get install redis-server)")
    tmp = tempfile.mkdtemp(prefix="featd-layout-")
    proc, c = start_redis(tmp)
    try:
        ver = c.info("server")["redis_version"]
        print("# redis %s, %d entities x %d views x %d doubles, %d batch lookups of %d x %d"
              % (ver, a.entities, a.views, FEATURES, a.lookups, BATCH, a.views))
        print("| layout | encoding | B/value | Redis CPU µs per %dx%d lookup | per 1x%d lookup "
              "| µs per row written | reclaim µs per entity |" % (BATCH, a.views, a.views))
        print("|---|---|---|---|---|---|---|")
        for tag, lay, cfg in LAYOUTS:
            if a.only and tag not in a.only.split(","):
                continue
            r = measure(c, lay, cfg, a.entities, a.views, a.lookups)
            print("| %s | %s | %.1f | %.0f | %.1f | %.2f | %.2f |" % (
                lay.name, r["encoding"], r["bytes_per_value"], r["batch_us"],
                r["single_us"], r["write_us_per_row"], r["reclaim_us_per_entity"]))
            sys.stdout.flush()
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
