"""A real redis-server and the real featd binary on free loopback ports, for
the Python client's tests (the Python twin of tests/e2e/harness.c).

Stack(tmpdir) writes a config with three views (every one of the 12 types,
a short-ttl view, a composite-key view), starts redis-server and featd,
loads rows with `featd-cli load`, and offers stop/pause/restart of either
process. FEATD_BUILD_DIR names the build (default: build, as `make test`).
Only processes this module started are ever signalled.
"""

import json
import os
import signal
import socket
import subprocess
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BUILD = os.path.join(ROOT, os.environ.get("FEATD_BUILD_DIR", "build"))
START_TIMEOUT = 20.0


def bin_path(name):
    return os.path.join(BUILD, name)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


NOW_US = int(time.time()) * 1000000
HOUR_US = 3600 * 1000000

TYPES = [("b", "bool"), ("i32", "int32"), ("i64", "int64"), ("f", "float"), ("d", "double"),
         ("s", "string"), ("by", "bytes"), ("ts", "timestamp"), ("fl", "float_list"),
         ("dl", "double_list"), ("il", "int64_list"), ("sl", "string_list")]


def config(port, admin_port, redis_port, data_dir):
    return {
        "server": {"listen": "127.0.0.1:%d" % port, "admin_listen": "127.0.0.1:%d" % admin_port,
                   "workers": 2, "request_timeout_ms": 2000, "shutdown_timeout_ms": 2000,
                   "max_entities_per_request": 1000, "data_dir": data_dir,
                   "log_level": "info"},
        "redis": {"url": "redis://127.0.0.1:%d/0" % redis_port, "key_prefix": "py",
                  "timeout_ms": 300},
        "entities": [
            {"name": "customer", "join_keys": [{"name": "customer_id", "type": "int64"}]},
            {"name": "merchant", "join_keys": [{"name": "merchant_id", "type": "string"},
                                               {"name": "country", "type": "string"}]},
        ],
        "feature_views": [
            {"name": "alltypes", "entities": ["customer"], "ttl_seconds": 0,
             "features": [{"name": n, "type": t} for n, t in TYPES]},
            {"name": "stale", "entities": ["customer"], "ttl_seconds": 60,
             "features": [{"name": "score", "type": "double"}]},
            {"name": "pair", "entities": ["customer", "merchant"], "ttl_seconds": 0,
             "features": [{"name": "amount", "type": "float"},
                          {"name": "tags", "type": "string_list"}]},
        ],
    }


ROWS = {
    "alltypes": [
        {"customer_id": 1, "event_timestamp": "2026-11-21T10:00:00Z", "b": True, "i32": -7,
         "i64": 9007199254740993, "f": 1.5, "d": 1234.5678901234567, "s": "héllo ☃",
         "by": {"base64": "AAH/gA=="}, "ts": "2026-11-20T18:01:00.123456Z",
         "fl": [0.1, -2.5, 3.4028234e38], "dl": [1e-300, -0.0, 2.5], "il": [-9223372036854775808, 0, 9223372036854775807],
         "sl": ["a", "", "ü,x"]},
        {"customer_id": 2, "event_timestamp": "2026-11-21T10:00:01Z"},   # every value null
        {"customer_id": 3, "event_timestamp": 1763719200000001, "b": False, "i32": 2147483647,
         "i64": -1, "f": "NaN", "d": "-Infinity", "s": "", "by": "plain",
         "ts": "1970-01-01T00:00:00Z", "fl": [], "dl": ["NaN", "Infinity"], "il": [], "sl": []},
        {"customer_id": -5, "event_timestamp": "2026-11-21T10:00:00.5Z", "b": True, "i32": 0,
         "i64": 0, "f": -0.0, "d": 0.1, "s": "x" * 300, "by": {"base64": ""},
         "ts": "2030-01-01T00:00:00Z", "fl": [1.0], "dl": [0.1], "il": [1], "sl": ["z"]},
    ],
    "stale": [
        {"customer_id": 1, "event_timestamp": NOW_US - HOUR_US, "score": 0.5},   # OUTSIDE_MAX_AGE
        {"customer_id": 2, "event_timestamp": NOW_US, "score": 0.25},
        {"customer_id": 3, "event_timestamp": NOW_US, "score": None},
    ],
    "pair": [
        {"customer_id": 1, "merchant_id": "m1", "country": "FR", "event_timestamp": NOW_US,
         "amount": 12.25, "tags": ["x", "y"]},
        {"customer_id": 1, "merchant_id": "m1", "country": "US", "event_timestamp": NOW_US,
         "amount": 3.0, "tags": []},
        {"customer_id": 2, "merchant_id": "m 2", "country": "FR", "event_timestamp": NOW_US,
         "amount": None, "tags": ["only"]},
    ],
}


class Stack:
    """redis-server + featd for one test module (or one test)."""

    def __init__(self, tmpdir):
        self.dir = str(tmpdir)
        self.redis = None
        self.featd = None
        self.redis_port = None
        self.port = None
        self.admin_port = None
        self.config_path = os.path.join(self.dir, "featd.json")

    # ---- redis ----

    def start_redis(self, port=None):
        for _ in range(5):
            self.redis_port = port or free_port()
            log = open(os.path.join(self.dir, "redis.log"), "ab")
            self.redis = subprocess.Popen(
                ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--dir", self.dir, "--daemonize", "no"],
                stdout=log, stderr=subprocess.STDOUT)
            log.close()
            end = time.monotonic() + START_TIMEOUT
            while time.monotonic() < end and self.redis.poll() is None:
                if port_accepts(self.redis_port):
                    return
                time.sleep(0.02)
            self._kill(self.redis)
            if port:
                time.sleep(0.2)
        raise RuntimeError("redis-server did not start (see %s/redis.log)" % self.dir)

    def stop_redis(self):
        self._kill(self.redis)
        self.redis = None

    def pause_redis(self):
        self.redis.send_signal(signal.SIGSTOP)

    def resume_redis(self):
        self.redis.send_signal(signal.SIGCONT)

    # ---- featd ----

    def write_config(self):
        self.port = self.port or free_port()
        self.admin_port = self.admin_port or free_port()
        cfg = config(self.port, self.admin_port, self.redis_port, os.path.join(self.dir, "data"))
        if getattr(self, "auth", None) is not None:
            cfg["auth"] = self.auth     # DESIGN §14 section, set before start()
        with open(self.config_path, "w") as f:
            json.dump(cfg, f, indent=1)

    def start_featd(self):
        """Start featd (same ports on a restart) and wait until it accepts."""
        log = open(os.path.join(self.dir, "featd.log"), "ab")
        self.featd = subprocess.Popen([bin_path("featd"), "--config", self.config_path],
                                      stdout=log, stderr=subprocess.STDOUT)
        log.close()
        end = time.monotonic() + START_TIMEOUT
        while time.monotonic() < end:
            if self.featd.poll() is not None:
                raise RuntimeError("featd exited with %s (log: %s)" % (self.featd.returncode,
                                                                       self.log()))
            if port_accepts(self.port):
                return
            time.sleep(0.02)
        raise RuntimeError("featd did not accept on %d (log: %s)" % (self.port, self.log()))

    def stop_featd(self):
        """SIGTERM and wait; returns the exit status."""
        p, self.featd = self.featd, None
        return self._kill(p)

    def log(self):
        try:
            with open(os.path.join(self.dir, "featd.log"), errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    # ---- data ----

    def load(self, view, rows):
        path = os.path.join(self.dir, view + ".jsonl")
        with open(path, "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
        subprocess.run([bin_path("featd-cli"), "load", "--config", self.config_path,
                        "--view", view, "--file", path], check=True, capture_output=True)

    def load_all(self):
        for view, rows in ROWS.items():
            self.load(view, rows)

    def cli(self, *args, check=True):
        """featd-cli against this featd; returns CompletedProcess."""
        return subprocess.run([bin_path("featd-cli"), "--port", str(self.port), "--timeout",
                               "5000"] + list(args), capture_output=True, text=True, check=check)

    def start(self):
        self.start_redis()
        self.write_config()
        self.load_all()
        self.start_featd()
        return self

    def close(self):
        self._kill(self.featd)
        self._kill(self.redis)
        self.featd = self.redis = None

    @staticmethod
    def _kill(p):
        if p is None or p.poll() is not None:
            return None if p is None else p.returncode
        p.send_signal(signal.SIGCONT)   # a paused process cannot act on SIGTERM
        p.terminate()
        try:
            return p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            return p.wait()
