#!/usr/bin/env python3
"""check_metrics.py — every metric the deploy files use exists.

Usage: check_metrics.py BUILD_DIR

Starts a private redis-server and the real featd (BUILD_DIR/featd) on free
loopback ports with a view materializing tests/fixtures/quality, scrapes its
/metrics, and checks that every featd_* name in deploy/prometheus/
featd-alerts.yml and in the expressions of deploy/grafana/
featd-dashboard.json is exported (histograms: also _bucket/_sum/_count) or
is one of the DESIGN §12 serving metrics another part builds (SECTION_12,
below). Also checks the dashboard is a well-formed Grafana dashboard.
Exit 0 when all is well; prints every problem otherwise.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RULES = os.path.join(ROOT, "deploy", "prometheus", "featd-alerts.yml")
DASHBOARD = os.path.join(ROOT, "deploy", "grafana", "featd-dashboard.json")
# DESIGN §12 metrics (name -> type) that may not be exported yet by this build
SECTION_12 = {
    "featd_snapshot_violations_total": "counter",
    "featd_view_held": "gauge",
    "featd_feature_psi": "gauge",
    "featd_value_age_seconds": "histogram",
    "featd_lookup_values_total": "counter",
    "featd_lookup_coverage_total": "counter",
    "featd_serving_log_dropped_total": "counter",
}
NAME = re.compile(r"\bfeatd_[a-z0-9_]+\b")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(build):
    """The metric families (name -> type) of a running featd."""
    tmp = tempfile.mkdtemp(prefix="featd-deploy-")
    rport, port, aport = free_port(), free_port(), free_port()
    redis = featd = None
    try:
        redis = subprocess.Popen(["redis-server", "--port", str(rport), "--bind", "127.0.0.1",
                                  "--save", "", "--appendonly", "no", "--dir", tmp],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cfg = {
            "server": {"listen": f"127.0.0.1:{port}", "admin_listen": f"127.0.0.1:{aport}"},
            "redis": {"url": f"redis://127.0.0.1:{rport}/0", "key_prefix": "deploy"},
            "entities": [{"name": "customer",
                          "join_keys": [{"name": "customer_id", "type": "int64"}]}],
            "feature_views": [{
                "name": "scores", "entities": ["customer"],
                "features": [{"name": "x", "type": "double"}, {"name": "y", "type": "double"}],
                "source": {"path": os.path.join(ROOT, "tests", "fixtures", "quality"),
                           "event_timestamp_column": "event_ts"},
                "materialization": {"mode": "snapshot", "interval_seconds": 1},
                "quality": {"max_psi": 0.2}}],
        }
        cpath = os.path.join(tmp, "featd.json")
        with open(cpath, "w") as f:
            json.dump(cfg, f)
        featd = subprocess.Popen([os.path.join(build, "featd"), "--config", cpath,
                                  "--log-level", "warn"], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        page, deadline = "", time.time() + 20
        while time.time() < deadline:
            try:
                # /readyz reads Redis's INFO (featd_redis_evicted_keys* appear after it)
                urllib.request.urlopen(f"http://127.0.0.1:{aport}/readyz", timeout=2).read()
            except OSError:
                pass
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{aport}/metrics",
                                              timeout=2).read().decode()
                if 'result="applied"' in page and "featd_redis_evicted_keys_since_start" in page:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        if "featd_up" not in page:
            sys.exit("check_metrics: featd's /metrics did not answer")
        return {m.group(1): m.group(2)
                for m in re.finditer(r"^# TYPE (\S+) (\S+)$", page, re.M)}
    finally:
        for p in (featd, redis):
            if p is not None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def known_names(families):
    names = set()
    for name, typ in list(families.items()) + list(SECTION_12.items()):
        names.add(name)
        if typ == "histogram":
            names.update(name + s for s in ("_bucket", "_sum", "_count"))
    return names


def dashboard_exprs(problems):
    with open(DASHBOARD) as f:
        d = json.load(f)
    for key in ("title", "uid", "panels", "schemaVersion"):
        if key not in d:
            problems.append(f"dashboard: no \"{key}\"")
    exprs, ids = [], set()
    for p in d.get("panels", []):
        if p.get("id") in ids:
            problems.append(f"dashboard: panel id {p.get('id')} twice")
        ids.add(p.get("id"))
        if p.get("type") == "row":
            continue
        for k in ("title", "type", "gridPos", "targets"):
            if k not in p:
                problems.append(f"dashboard panel {p.get('title')!r}: no \"{k}\"")
        for t in p.get("targets", []):
            if not t.get("expr"):
                problems.append(f"dashboard panel {p.get('title')!r}: a target without expr")
            exprs.append((p.get("title"), t.get("expr", "")))
    return exprs


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    problems = []
    names = known_names(scrape(build))
    exprs = dashboard_exprs(problems)
    for title, e in exprs:
        for n in NAME.findall(e):
            if n not in names:
                problems.append(f"dashboard panel {title!r}: unknown metric {n}")
    with open(RULES) as f:
        for lineno, line in enumerate(f, 1):
            for n in NAME.findall(line):
                if n not in names:
                    problems.append(f"featd-alerts.yml:{lineno}: unknown metric {n}")
    for p in problems:
        print(p)
    print(f"check_metrics: {len(exprs)} dashboard queries, {len(names)} known names: "
          f"{'ok' if not problems else str(len(problems)) + ' problems'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
