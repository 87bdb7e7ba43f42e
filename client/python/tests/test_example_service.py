"""examples/python-service against a featd serving the example registry
(config/featd.json's entities and views, rows from examples/rows/*.jsonl
loaded with featd-cli): scores, missing features, batch, 400 and 503."""

import importlib.util
import json
import os
import threading
import urllib.error
import urllib.request

import pytest

from stack import ROOT, Stack, free_port


class ExampleStack(Stack):
    def write_config(self):
        with open(os.path.join(ROOT, "config", "featd.json")) as f:
            cfg = json.load(f)
        self.port, self.admin_port = free_port(), free_port()
        cfg["server"].update({"listen": "127.0.0.1:%d" % self.port,
                              "admin_listen": "127.0.0.1:%d" % self.admin_port,
                              "data_dir": os.path.join(self.dir, "data"), "log_level": "warn"})
        cfg["redis"].update({"url": "redis://127.0.0.1:%d/0" % self.redis_port})
        for v in cfg["feature_views"]:          # rows come from featd-cli load, not Parquet
            v.pop("source", None)
            v.pop("materialization", None)
        with open(self.config_path, "w") as f:
            json.dump(cfg, f)

    def load_all(self):
        for view in ("customer_stats", "merchant_profile", "customer_merchant"):
            with open(os.path.join(ROOT, "examples", "rows", view + ".jsonl")) as f:
                self.load(view, [json.loads(line) for line in f if line.strip()])


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    s = ExampleStack(tmp_path_factory.mktemp("example")).start()
    spec = importlib.util.spec_from_file_location(
        "service", os.path.join(ROOT, "examples", "python-service", "service.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    srv = mod.make_server(0, "127.0.0.1", s.port, timeout=1.0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield s, "http://127.0.0.1:%d" % srv.server_port
    srv.shutdown()
    srv.featd_client.close()
    s.close()


def get(url, body=None):
    req = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode())
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_scores(service):
    _, base = service
    code, doc = get(base + "/score?customer_id=1&merchant_id=m002&country=FR")
    assert code == 200 and len(doc["scores"]) == 1
    s = doc["scores"][0]
    assert 0.0 < s["score"] < 1.0 and s["missing"] == [] and s["stale"] == []
    code, doc = get(base + "/score", {"rows": [
        {"customer_id": 1, "merchant_id": "m002", "country": "FR"},
        {"customer_id": 999, "merchant_id": "zzz", "country": "FR"}]})
    assert code == 200
    assert doc["scores"][0]["score"] == pytest.approx(s["score"], abs=1e-6)   # "now" moved
    assert len(doc["scores"][1]["missing"]) == 7          # nothing known: the defaults
    assert get(base + "/healthz")[0] == 200


def test_errors(service):
    s, base = service
    assert get(base + "/score", {"rows": [{"customer_id": "x"}]})[0] == 400
    assert get(base + "/nope")[0] == 404
    s.stop_featd()
    try:
        code, doc = get(base + "/score?customer_id=1&merchant_id=m002&country=FR")
        assert code == 503 and doc["code"] == "UNAVAILABLE"
    finally:
        s.start_featd()
    assert get(base + "/score?customer_id=1&merchant_id=m002&country=FR")[0] == 200
