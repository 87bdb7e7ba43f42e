#!/usr/bin/env python3
"""examples/python-service/service.py — a small inference service on featd.

A fraud-style logistic score for a (customer, merchant) pair, computed from
features fetched from featd with the Python client (`import featd`), served
by Python's http.server (one thread per request, one shared featd.Client:
the client is thread-safe and pools its connections).

    POST /score  {"customer_id": 1, "merchant_id": "m002", "country": "FR"}
             or  {"rows": [{...}, {...}]}      -> {"scores": [...], ...}
    GET  /score?customer_id=1&merchant_id=m002&country=FR
    GET  /healthz                              -> featd's ping

featd errors become HTTP errors: InvalidArgument 400, Unavailable and
DeadlineExceeded 503. Run it against `make run`'s featd (README.md here).
"""

import argparse
import json
import math
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "client", "python"))   # the source tree

import featd  # noqa: E402

# The example registry's features (config/featd.json).
FEATURES = [
    "customer_stats:revenue_30d", "customer_stats:order_count_30d",
    "customer_stats:avg_basket", "customer_stats:is_vip", "customer_stats:last_order_at",
    "merchant_profile:rating_count", "customer_merchant:txn_count_7d",
]

# The "model": standardised inputs, weights and bias of a logistic regression
# (made up for the example; a real service would load them from a file).
MODEL = {
    "bias": -1.2,
    "inputs": [   # (name, mean, scale, weight, value when missing)
        ("customer_stats:revenue_30d", 1000.0, 600.0, -0.6, 0.0),
        ("customer_stats:order_count_30d", 30.0, 20.0, -0.4, 0.0),
        ("customer_stats:avg_basket", 60.0, 30.0, 0.5, 60.0),
        ("customer_stats:is_vip", 0.0, 1.0, -0.8, 0.0),
        ("days_since_last_order", 2.0, 5.0, 0.7, 30.0),
        ("merchant_profile:rating_count", 50.0, 40.0, -0.3, 0.0),
        ("customer_merchant:txn_count_7d", 2.0, 2.0, -0.9, 0.0),
    ],
}


def score_rows(client, rows, timeout=None):
    """Fetch the features of every row in one featd call and score them.
    rows: [{"customer_id": int, "merchant_id": str, "country": str}, ...]."""
    entities = {k: [r[k] for r in rows] for k in ("customer_id", "merchant_id", "country")}
    resp = client.get_online_features(features=FEATURES, entities=entities, timeout=timeout)
    cols = resp.to_dict()
    status = {name: resp.statuses(name) for name in FEATURES}
    now = featd.wire.EPOCH.now(featd.wire.UTC)
    out = []
    for i in range(len(rows)):
        x = {name: cols[name][i] for name in FEATURES}
        last = x.pop("customer_stats:last_order_at")
        x["days_since_last_order"] = None if last is None else (now - last).total_seconds() / 86400
        z = MODEL["bias"]
        missing = []
        for name, mean, scale, weight, default in MODEL["inputs"]:
            v = x.get(name)
            if v is None:
                missing.append(name)
                v = default
            z += weight * (float(v) - mean) / scale
        out.append({
            "score": 1.0 / (1.0 + math.exp(-z)),
            "missing": missing,
            "stale": [n for n in FEATURES if status[n][i] == "OUTSIDE_MAX_AGE"],
        })
    return out


def parse_rows(body):
    rows = body.get("rows", [body]) if isinstance(body, dict) else None
    if not isinstance(rows, list) or not rows:
        raise ValueError('expected {"customer_id", "merchant_id", "country"} or {"rows": [...]}')
    clean = []
    for r in rows:
        try:
            clean.append({"customer_id": int(r["customer_id"]), "merchant_id": str(r["merchant_id"]),
                          "country": str(r["country"])})
        except (KeyError, TypeError, ValueError):
            raise ValueError("each row needs customer_id (int), merchant_id and country") from None
    return clean


class Handler(BaseHTTPRequestHandler):
    client = None            # set by make_server
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):   # quiet; errors are answered
        pass

    def _send(self, code, doc):
        data = json.dumps(doc).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _score(self, rows):
        try:
            self._send(200, {"scores": score_rows(self.client, parse_rows(rows))})
        except ValueError as e:
            self._send(400, {"error": str(e)})
        except featd.InvalidArgument as e:
            self._send(400, {"error": e.message, "code": e.code})
        except (featd.Unavailable, featd.DeadlineExceeded) as e:
            self._send(503, {"error": e.message, "code": e.code})
        except featd.FeatdError as e:
            self._send(502, {"error": e.message, "code": e.code})

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/healthz":
            try:
                self._send(200, {"featd_time": self.client.ping().isoformat()})
            except featd.FeatdError as e:
                self._send(503, {"error": str(e)})
        elif url.path == "/score":
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            self._score(q)
        else:
            self._send(404, {"error": "no such path"})

    def do_POST(self):
        if urlparse(self.path).path != "/score":
            self._send(404, {"error": "no such path"})
            return
        n = int(self.headers.get("Content-Length") or 0)
        if n > 1 << 20:
            self._send(413, {"error": "body too large"})
            return
        try:
            body = json.loads(self.rfile.read(n) or b"null")
        except ValueError:
            self._send(400, {"error": "body is not JSON"})
            return
        self._score(body)


def make_server(listen_port, featd_host, featd_port, timeout=0.5):
    """A ThreadingHTTPServer on 127.0.0.1:listen_port (0 = any free port)
    scoring with a featd.Client of featd_host:featd_port."""
    client = featd.Client(featd_host, featd_port, timeout=timeout)
    handler = type("BoundHandler", (Handler,), {"client": client})
    srv = ThreadingHTTPServer(("127.0.0.1", listen_port), handler)
    srv.daemon_threads = True
    srv.featd_client = client
    return srv


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--featd", default="127.0.0.1:6566", help="featd host:port")
    ap.add_argument("--port", type=int, default=8080, help="HTTP port (127.0.0.1)")
    ap.add_argument("--timeout", type=float, default=0.5, help="featd call timeout, s")
    a = ap.parse_args()
    host, _, port = a.featd.rpartition(":")
    srv = make_server(a.port, host or "127.0.0.1", int(port), a.timeout)
    print("scoring on http://127.0.0.1:%d/score with featd at %s" % (srv.server_port, a.featd))
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.featd_client.close()


if __name__ == "__main__":
    threading.current_thread().name = "main"
    main()
