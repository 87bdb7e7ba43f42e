#!/usr/bin/env python3
"""bench/stream/gen.py — event->servable latency of featd's stream source
(issue 14; driven by bench/stream/run.sh). Python 3 standard library only.

One process XADDs entries to a view's Redis Stream at a steady rate over one
raw RESP connection (a batch every --tick seconds, as many entries as are due;
replies read by a second thread). Every --probe-every-th entry is a *probe*:
its entity is one of --probe-pool dedicated ids (above the bulk range), its
feature f0 is the send time in µs since the run's base (exact as a JSON
double) and its event time is the send time. A forked prober receives
(entity, send time) over a pipe and looks the outstanding probes up on
featd's serving port (POST /get-online-features, keep-alive, one request for
all outstanding probes, every --poll-gap s) until f0 shows the probe's value:
latency = time seen - send time. A third thread samples featd's /metrics
(featd_stream_lag_entries and featd_stream_entries_total of the view).
Prints one JSON object: offered/achieved rate, latency percentiles, lost
probes, the prober's lookup round trip (the measurement floor) and the lag.

  gen.py --redis-port P --key ev:bench --http-port H --admin-port A \
         --view bench --rate 10000 --seconds 10
"""
import argparse
import http.client
import json
import os
import random
import select
import socket
import threading
import time


def resp(*args):
    """One RESP command (bytes) from str/bytes arguments."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if not isinstance(a, bytes):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def now_us():
    return time.time_ns() // 1000


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))]


class ReplyReader(threading.Thread):
    """Reads and counts the XADD replies (bulk ids or errors) of the socket."""

    def __init__(self, sock):
        super().__init__(daemon=True)
        self.sock, self.ok, self.err, self.first_err = sock, 0, 0, None
        self.done = False

    def run(self):
        buf = b""
        while not self.done:
            try:
                data = self.sock.recv(1 << 16)
            except OSError:
                return
            if not data:
                return
            buf += data
            while True:             # XADD replies: $N\r\nID\r\n or -ERR ...\r\n
                i = buf.find(b"\r\n")
                if i < 0:
                    break
                if buf[:1] == b"$":
                    n = int(buf[1:i])
                    if len(buf) < i + 2 + n + 2:
                        break
                    buf = buf[i + 2 + n + 2:]
                    self.ok += 1
                else:
                    if self.first_err is None:
                        self.first_err = buf[:i].decode(errors="replace")
                    self.err += 1
                    buf = buf[i + 2:]


def metrics_sampler(a, out, stop):
    """Samples the view's stream lag and written entries every 0.25 s."""
    lag_name = 'featd_stream_lag_entries{view="%s"}' % a.view
    ent_name = 'featd_stream_entries_total{view="%s",result="written"}' % a.view
    while not stop.is_set():
        try:
            c = http.client.HTTPConnection("127.0.0.1", a.admin_port, timeout=2)
            c.request("GET", "/metrics")
            body = c.getresponse().read().decode()
            c.close()
            lag = written = None
            for line in body.splitlines():
                if line.startswith(lag_name):
                    lag = float(line.split()[-1])
                elif line.startswith(ent_name):
                    written = float(line.split()[-1])
            out.append((time.time(), lag, written))
        except OSError:
            pass
        stop.wait(0.25)


def prober(a, rfd, base, result_fd):
    """Child process: looks up outstanding probes until their value shows."""
    conn = http.client.HTTPConnection("127.0.0.1", a.http_port, timeout=5)
    outstanding = {}            # entity -> send µs since base
    lat, rtts, lost, seen = [], [], 0, 0
    buf = b""
    eof = False
    while not (eof and not outstanding):
        r, _, _ = select.select([rfd] if not eof else [], [], [], 0 if outstanding else 0.05)
        if r:
            data = os.read(rfd, 1 << 16)
            if not data:
                eof = True
            buf += data
            *lines, buf = buf.split(b"\n")
            for ln in lines:
                e, s = ln.split()
                outstanding[int(e)] = int(s)
        if not outstanding:
            continue
        ents = list(outstanding)
        body = json.dumps({"features": ["%s:f0" % a.view], "entities": {a.join_key: ents}})
        t0 = time.perf_counter()
        conn.request("POST", "/get-online-features", body, {"Content-Type": "application/json"})
        ans = json.loads(conn.getresponse().read())
        rtts.append((time.perf_counter() - t0) * 1e6)
        t = now_us() - base
        vals = ans["results"][-1]["values"]
        for e, v in zip(ents, vals):
            s = outstanding[e]
            if v is not None and int(v) == s:
                lat.append(t - s)
                seen += 1
                del outstanding[e]
            elif t - s > a.probe_timeout * 1e6:
                lost += 1
                del outstanding[e]
        if a.poll_gap > 0:
            time.sleep(a.poll_gap)
    os.write(result_fd, json.dumps({"lat": lat, "rtt": rtts, "lost": lost, "seen": seen}).encode())
    os.close(result_fd)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--redis-port", type=int, required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--http-port", type=int, required=True)
    ap.add_argument("--admin-port", type=int, required=True)
    ap.add_argument("--view", default="bench")
    ap.add_argument("--join-key", default="customer_id")
    ap.add_argument("--features", type=int, default=10, help="doubles f0..fN-1 of the view")
    ap.add_argument("--rate", type=float, default=10000)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--entities", type=int, default=100000, help="bulk entities 1..N")
    ap.add_argument("--probe-every", type=int, default=100, help="every Nth entry is a probe")
    ap.add_argument("--probe-pool", type=int, default=1000)
    ap.add_argument("--probe-timeout", type=float, default=5.0)
    ap.add_argument("--poll-gap", type=float, default=0.0002, help="seconds between prober lookups")
    ap.add_argument("--tick", type=float, default=0.005)
    a = ap.parse_args()

    base = now_us()
    rfd, wfd = os.pipe()
    res_r, res_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(wfd)
        os.close(res_r)
        try:
            prober(a, rfd, base, res_w)
        finally:
            os._exit(0)
    os.close(rfd)
    os.close(res_w)

    sock = socket.create_connection(("127.0.0.1", a.redis_port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = ReplyReader(sock)
    reader.start()
    samples, stop = [], threading.Event()
    sampler = threading.Thread(target=metrics_sampler, args=(a, samples, stop), daemon=True)
    sampler.start()

    rnd = random.Random(1)
    key = a.key.encode()
    pad = [b"f%d" % f for f in range(a.features)]
    sent = probes = 0
    lags = []                   # how late each batch went out (µs)
    t0 = time.perf_counter()
    end = t0 + a.seconds
    nxt = t0
    while True:
        now = time.perf_counter()
        if now >= end:
            break
        if now < nxt:
            time.sleep(nxt - now)
            now = time.perf_counter()
        lags.append((now - nxt) * 1e6)
        nxt += a.tick
        due = int((min(now, end) - t0) * a.rate) - sent
        if due <= 0:
            continue
        ts = now_us()
        s_rel = ts - base
        cmds, notes = [], []
        for _ in range(due):
            sent += 1
            if sent % a.probe_every == 0:
                probes += 1
                ent = a.entities + 1 + probes % a.probe_pool
                vals = [str(s_rel).encode()] + [b"0"] * (a.features - 1)
                notes.append(b"%d %d\n" % (ent, s_rel))
            else:
                ent = rnd.randint(1, a.entities)
                vals = [b"%.4f" % (rnd.random() * 1000) for _ in range(a.features)]
            args = [b"XADD", key, b"*", a.join_key.encode(), str(ent).encode(),
                    b"event_timestamp", str(ts).encode()]
            for f, v in zip(pad, vals):
                args += [f, v]
            cmds.append(resp(*args))
        sock.sendall(b"".join(cmds))
        if notes:
            os.write(wfd, b"".join(notes))
    elapsed = time.perf_counter() - t0
    os.close(wfd)
    deadline = time.time() + 10
    while reader.ok + reader.err < sent and time.time() < deadline:
        time.sleep(0.01)
    res = b""
    while True:
        d = os.read(res_r, 1 << 20)
        if not d:
            break
        res += d
    os.waitpid(pid, 0)
    stop.set()
    sampler.join()
    pr = json.loads(res)
    lat, rtt = pr["lat"], pr["rtt"]
    lag_vals = [s[1] for s in samples if s[1] is not None]
    written = [s for s in samples if s[2] is not None]
    wrate = None
    if len(written) >= 2:
        wrate = (written[-1][2] - written[0][2]) / max(written[-1][0] - written[0][0], 1e-9)
    print(json.dumps({
        "rate_offered": a.rate, "entries_sent": sent, "seconds": round(elapsed, 3),
        "rate_achieved": round(sent / elapsed, 1),
        "xadd_ok": reader.ok, "xadd_errors": reader.err, "xadd_first_error": reader.first_err,
        "tick_lag_us": {"p50": pct(lags, 50), "p99": pct(lags, 99)},
        "probes_sent": probes, "probes_seen": pr["seen"], "probes_lost": pr["lost"],
        "latency_us": {"p50": pct(lat, 50), "p90": pct(lat, 90), "p99": pct(lat, 99),
                       "max": max(lat) if lat else None},
        "probe_rtt_us": {"p50": round(pct(rtt, 50) or 0), "p99": round(pct(rtt, 99) or 0), "n": len(rtt)},
        "lag_entries": {"max": max(lag_vals) if lag_vals else None,
                        "mean": round(sum(lag_vals) / len(lag_vals), 1) if lag_vals else None,
                        "samples": len(lag_vals)},
        "written_per_s": round(wrate, 1) if wrate is not None else None,
    }))


if __name__ == "__main__":
    main()
