"""The Python client answers exactly what libfeatd answers: every value,
status and event time of the same lookups, compared with `featd-cli get
--json` (libfeatd + featd_value_format) on every one of the 12 types, nulls,
absent entities, several views and composite keys; and to_dict's shape."""

import asyncio
import base64
import datetime
import json
import math
import struct

import featd
from stack import TYPES

FTYPE = {"alltypes:" + n: t for n, t in TYPES}
FTYPE.update({"stale:score": "double", "pair:amount": "float", "pair:tags": "string_list"})

EPOCH_TEXT = "1970-01-01T00:00:00Z"


def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


def rfc3339(dt):
    if dt.microsecond:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def py_json(v, t):
    """A Python client value in featd's JSON encoding (docs/cli.md)."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
        return f32(v) if t.startswith("float") else v
    if isinstance(v, bytes):
        return base64.b64encode(v).decode()
    if isinstance(v, list):
        return [py_json(x, t) for x in v]
    return rfc3339(v)   # datetime


def cli_json(v, t):
    """featd-cli's JSON value, floats of float features rounded to float32."""
    if isinstance(v, list):
        return [cli_json(x, t) for x in v]
    if t.startswith("float") and isinstance(v, (int, float)) and not isinstance(v, bool):
        return f32(float(v))
    return v


def cli_lookup(stack, features, entities):
    args = ["get", "--json", "--full-feature-names", "-f", ",".join(features)]
    for k, vals in entities.items():
        kind = "int" if isinstance(vals[0], int) else "str"
        args += ["-e", "%s:%s=%s" % (k, kind, ",".join(str(v) for v in vals))]
    return json.loads(stack.cli(*args).stdout)


def assert_same(resp, doc, entities):
    names = doc["metadata"]["feature_names"]
    nkeys = len(entities)
    assert names[:nkeys] == list(entities)
    # featd-cli names features as the HTTP lookup does ("view__feature")
    assert [n.replace(":", "__", 1) for n in resp.feature_names] == names[nkeys:]
    for name, res in zip(resp.feature_names, doc["results"][nkeys:]):
        t = FTYPE[name]
        assert [py_json(v, t) for v in resp.values(name)] == \
            [cli_json(v, t) for v in res["values"]], name
        assert resp.statuses(name) == res["statuses"], name
        assert [EPOCH_TEXT if ts is None else rfc3339(ts)
                for ts in resp.event_timestamps(name)] == res["event_timestamps"], name
    # join-key columns first, then the features, in the answer's order
    d = resp.to_dict()
    assert list(d) == list(entities) + resp.feature_names
    for k, vals in entities.items():
        assert d[k] == vals


LOOKUPS = [
    # every type, nulls (2), edge values (3, -5), an absent entity (999)
    (["alltypes:*"], {"customer_id": [1, 2, 3, -5, 999]}),
    # several views, composite keys, OUTSIDE_MAX_AGE / NULL_VALUE / NOT_FOUND
    (["alltypes:i64", "stale:score", "pair:*", "alltypes:ts"],
     {"customer_id": [1, 2, 3, -5, 1, 2], "merchant_id": ["m1", "m1", "m 2", "x", "m1", "m 2"],
      "country": ["FR", "FR", "FR", "x", "US", "FR"]}),
    # features named one by one, in another order, repeated entities
    (["alltypes:sl", "alltypes:by", "alltypes:f", "alltypes:b", "stale:score"],
     {"customer_id": [3, 3, 1, 42]}),
]


def test_lookups_equal_libfeatd(stack):
    with featd.Client("127.0.0.1", stack.port, timeout=5.0) as c:
        for features, entities in LOOKUPS:
            resp = c.get_online_features(features=features, entities=entities)
            assert_same(resp, cli_lookup(stack, features, entities), entities)


def test_async_lookups_equal_libfeatd(stack):
    async def run():
        async with featd.AsyncClient("127.0.0.1", stack.port, timeout=5.0) as c:
            return await asyncio.gather(*[c.get_online_features(features=f, entities=e)
                                          for f, e in LOOKUPS])
    for resp, (features, entities) in zip(asyncio.run(run()), LOOKUPS):
        assert_same(resp, cli_lookup(stack, features, entities), entities)


def test_values_types(stack):
    """The Python types of each of the 12 feature types."""
    with featd.Client("127.0.0.1", stack.port, timeout=5.0) as c:
        r = c.get_online_features(["alltypes:*"], {"customer_id": [1]})
    row = {n.split(":")[1]: r.values(n)[0] for n in r.feature_names}
    assert row["b"] is True and row["i32"] == -7 and row["i64"] == 9007199254740993
    assert row["f"] == 1.5 and row["d"] == 1234.5678901234567 and row["s"] == "héllo ☃"
    assert row["by"] == b"\x00\x01\xff\x80"
    assert row["ts"] == datetime.datetime(2026, 11, 20, 18, 1, 0, 123456, datetime.timezone.utc)
    assert row["fl"] == [f32(0.1), -2.5, f32(3.4028234e38)]
    assert row["dl"] == [1e-300, -0.0, 2.5]
    assert row["il"] == [-(1 << 63), 0, (1 << 63) - 1]
    assert row["sl"] == ["a", "", "ü,x"]
    assert len(r) == 1 and r.join_keys == ["customer_id"]


def test_registry_and_info(stack):
    with featd.Client("127.0.0.1", stack.port, timeout=5.0) as c:
        t = c.ping()
        assert t.tzinfo is not None and t.year >= 2025
        views = {v["name"]: v for v in c.list_feature_views()}
        info = c.server_info()
    cli_views = json.loads(stack.cli("views", "--json").stdout)["feature_views"]
    assert sorted(views) == sorted(v["name"] for v in cli_views)
    for cv in cli_views:
        v = views[cv["name"]]
        for key in ("entities", "join_keys", "features", "ttl_seconds", "fingerprint",
                    "materialization_mode"):
            assert v[key] == cv[key], key
    assert views["alltypes"]["features"][0] == {"name": "b", "type": "bool"}
    assert info["feature_views"] == 3 and info["redis_connected"] is True
    assert info["max_entities_per_request"] == 1000 and info["workers"] == 2
