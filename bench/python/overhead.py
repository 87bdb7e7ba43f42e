#!/usr/bin/env python3
"""bench/python/overhead.py — the Python client's own cost per call and per
value, against a real featd on loopback.

Starts redis-server and featd (BUILD/featd, like the client's tests), loads
N entities × 50 double features with featd-cli, then times, one call at a
time on one connection (closed loop, single thread):

  raw      the same request's frame, pre-serialized, sent over a plain
           socket and its response frame read back (no protobuf at all):
           featd + Redis + loopback + the minimum Python socket work;
  call     featd.Client.get_online_features (encode, send, receive, parse,
           wrap; columns not yet decoded);
  to_dict  call + r.to_dict() (every value decoded into Python objects);
  async    AsyncClient, the same call awaited one at a time.

client overhead = call - raw (per call) and (to_dict - raw) for the
decoded case; per value = the 100×50 overhead minus the 1×10 overhead,
divided by the extra values. featd-bench -c 1 -t 1 gives C's figure.

  /usr/bin/python3 bench/python/overhead.py [--build build] [--seconds 3]
"""

import argparse
import asyncio
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "client", "python"))
sys.path.insert(0, os.path.join(ROOT, "client", "python", "tests"))

import featd  # noqa: E402
from featd import wire  # noqa: E402

NFEAT = 50
NENT = 10000


def setup(build, tmp):
    os.environ["FEATD_BUILD_DIR"] = build
    import stack as st
    st.BUILD = os.path.join(ROOT, build)
    s = st.Stack(tmp)
    s.start_redis()
    s.port, s.admin_port = st.free_port(), st.free_port()
    cfg = st.config(s.port, s.admin_port, s.redis_port, os.path.join(tmp, "data"))
    cfg["server"]["log_level"] = "warn"
    cfg["feature_views"] = [{"name": "bench", "entities": ["customer"], "ttl_seconds": 0,
                             "features": [{"name": "f%d" % i, "type": "double"}
                                          for i in range(NFEAT)]}]
    with open(s.config_path, "w") as f:
        json.dump(cfg, f)
    rows = []
    for i in range(1, NENT + 1):
        r = {"customer_id": i, "event_timestamp": 1763719200000000}
        r.update({"f%d" % k: i * 0.5 + k for k in range(NFEAT)})
        rows.append(r)
    s.load("bench", rows)
    s.start_featd()
    return s


def time_loop(fn, seconds):
    """Median and p99 µs of fn() over `seconds` (after a short warm-up)."""
    end = time.perf_counter() + 0.3
    while time.perf_counter() < end:
        fn()
    samples = []
    end = time.perf_counter() + seconds
    while True:
        t0 = time.perf_counter()
        fn()
        t1 = time.perf_counter()
        samples.append((t1 - t0) * 1e6)
        if t1 >= end:
            break
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99)], len(samples)


class Raw:
    """Pre-serialized frame over a plain socket; reads one response frame."""

    def __init__(self, port, frame_bytes):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.frame = frame_bytes
        self.buf = bytearray()

    def __call__(self):
        self.sock.sendall(self.frame)
        buf = self.buf
        while True:
            if len(buf) >= 4:
                (n,) = struct.unpack_from(">I", buf)
                if len(buf) >= 4 + n:
                    body = bytes(buf[4:4 + n])
                    del buf[:4 + n]
                    return body
            buf += self.sock.recv(1 << 18)


def featd_bench(build, port, batch, nfeat, seconds):
    refs = ",".join("bench:f%d" % i for i in range(nfeat))
    p = subprocess.run([os.path.join(ROOT, build, "featd-bench"), "--port", str(port), "-c", "1",
                        "-t", "1", "-d", str(seconds), "-w", "1", "-b", str(batch), "-n",
                        str(NENT), "-f", refs, "--json"], capture_output=True, text=True)
    try:
        d = json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None
    lat = d.get("latency_us") or d
    return lat.get("p50")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("FEATD_BUILD_DIR", "build"))
    ap.add_argument("--seconds", type=float, default=3.0)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="featd-pybench-")
    s = setup(a.build, tmp)
    try:
        c = featd.Client("127.0.0.1", s.port, timeout=5.0, pool_size=1)
        ac = featd.AsyncClient("127.0.0.1", s.port, timeout=5.0)
        loop = asyncio.new_event_loop()
        print("protobuf runtime: %s (%s)" % (
            __import__("google.protobuf").protobuf.__version__,
            __import__("google.protobuf.internal.api_implementation",
                       fromlist=["Type"]).Type()))
        print("%-8s %-8s %10s %10s %10s %10s %10s %12s" % (
            "shape", "", "raw µs", "call µs", "to_dict µs", "async µs", "C p50 µs",
            "overhead µs"))
        results = {}
        for nent, nfeat in ((1, 10), (100, 50)):
            feats = ["bench:f%d" % i for i in range(nfeat)]
            ents = {"customer_id": list(range(1, nent + 1))}
            req, _ = wire.lookup_request(feats, ents)
            req.request_id = 1
            raw = Raw(s.port, wire.frame(req))
            body = raw()
            assert wire.parse_response(body).WhichOneof("body") == "get_online_features"

            def call():
                return c.get_online_features(feats, ents)

            def call_dict():
                return c.get_online_features(feats, ents).to_dict()

            async def acall_loop(seconds):
                """time_loop for the coroutine, inside one running loop."""
                end = time.perf_counter() + 0.3
                while time.perf_counter() < end:
                    await ac.get_online_features(feats, ents)
                samples = []
                end = time.perf_counter() + seconds
                while True:
                    t0 = time.perf_counter()
                    await ac.get_online_features(feats, ents)
                    t1 = time.perf_counter()
                    samples.append((t1 - t0) * 1e6)
                    if t1 >= end:
                        break
                samples.sort()
                return statistics.median(samples), samples[int(len(samples) * 0.99)], len(samples)

            r_raw = time_loop(raw, a.seconds)
            r_call = time_loop(call, a.seconds)
            r_dict = time_loop(call_dict, a.seconds)
            r_async = loop.run_until_complete(acall_loop(a.seconds))
            cp50 = featd_bench(a.build, s.port, nent, nfeat, max(1, int(a.seconds)))
            # in-process pieces: parse + decode of the captured answer
            msg = wire.parse_response(body).get_online_features
            t0 = time.perf_counter()
            n = 0
            while time.perf_counter() - t0 < 0.5:
                featd.OnlineResponse(wire.parse_response(body).get_online_features,
                                     ents).to_dict()
                n += 1
            parse_decode = (time.perf_counter() - t0) / n * 1e6
            over = r_call[0] - r_raw[0]
            over_d = r_dict[0] - r_raw[0]
            results[(nent, nfeat)] = (over, over_d)
            print("%-8s %-8s %10.1f %10.1f %10.1f %10.1f %10s %6.1f / %.1f" % (
                "%d×%d" % (nent, nfeat), "median", r_raw[0], r_call[0], r_dict[0], r_async[0],
                "-" if cp50 is None else cp50, over, over_d))
            print("%-8s %-8s %10.1f %10.1f %10.1f %10.1f" % (
                "", "p99", r_raw[1], r_call[1], r_dict[1], r_async[1]))
            print("%-8s parse+to_dict of the answer alone: %.1f µs (%d values, %d bytes)" % (
                "", parse_decode, nent * nfeat, len(body)))
            del msg
        (o1, d1), (o2, d2) = results[(1, 10)], results[(100, 50)]
        extra = 100 * 50 - 10
        print("client overhead per call (1×10, call - raw): %.1f µs; with to_dict: %.1f µs" % (o1, d1))
        print("client overhead per value (100×50 vs 1×10): %.3f µs undecoded, %.3f µs decoded"
              % ((o2 - o1) / extra, (d2 - d1) / extra))
        loop.run_until_complete(ac.close())
        c.close()
    finally:
        s.close()


if __name__ == "__main__":
    main()
