"""Token authentication (DESIGN §14) from the Python client against a real
featd with an "auth" section: token= sends AuthRequest on every new
connection (sync and asyncio), a refused token raises Unauthenticated, a
view outside the token's raises PermissionDenied naming it, no token ->
Unauthenticated; featd-cli --token / FEATD_TOKEN / --token-file."""

import asyncio
import hashlib
import os

import pytest

import featd
from stack import Stack

RANKER = "ranker-secret-0123456789abcdef"
ALL = "all-views-secret-fedcba98765432"


@pytest.fixture(scope="module")
def auth_stack(tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("authstack"))
    s.auth = {"tokens": [
        {"name": "ranker", "token_sha256": hashlib.sha256(RANKER.encode()).hexdigest(),
         "views": ["stale"]},
        {"name": "all", "token_sha256": hashlib.sha256(ALL.encode()).hexdigest(),
         "views": ["*"]}]}
    s.start()
    yield s
    s.close()


def test_token_reads_its_views(auth_stack):
    with featd.Client("127.0.0.1", auth_stack.port, token=RANKER) as c:
        r = c.get_online_features(["stale:score"], {"customer_id": [2]})
        assert r.values("stale:score") == [0.25]
        assert c.principal == "ranker"
        assert [v["name"] for v in c.list_feature_views()] == ["stale"]
        with pytest.raises(featd.PermissionDenied, match='"alltypes"') as ei:
            c.get_online_features(["alltypes:*"], {"customer_id": [1]})
        assert ei.value.code == "PERMISSION_DENIED"
        # the connection survives the refusal
        assert c.get_online_features(["stale:score"], {"customer_id": [2]}).values(
            "stale:score") == [0.25]
    with featd.Client("127.0.0.1", auth_stack.port, token=ALL) as c:
        assert c.get_online_features(["alltypes:i32"], {"customer_id": [1]}).values(
            "alltypes:i32") == [-7]


def test_missing_and_wrong_token(auth_stack):
    with featd.Client("127.0.0.1", auth_stack.port) as c:
        with pytest.raises(featd.Unauthenticated, match="AuthRequest"):
            c.ping()
    with featd.Client("127.0.0.1", auth_stack.port, token="wrong-secret-000000000000") as c:
        with pytest.raises(featd.Unauthenticated) as ei:
            c.ping()
        assert ei.value.code == "UNAUTHENTICATED"


def test_async_token(auth_stack):
    async def run():
        async with featd.AsyncClient("127.0.0.1", auth_stack.port, token=RANKER) as a:
            r = await a.get_online_features(["stale:score"], {"customer_id": [2]})
            assert r.values("stale:score") == [0.25]
            assert a.principal == "ranker"
            with pytest.raises(featd.PermissionDenied):
                await a.get_online_features(["pair:amount"],
                                            {"customer_id": [1], "merchant_id": ["m1"],
                                             "country": ["FR"]})
        async with featd.AsyncClient("127.0.0.1", auth_stack.port, token="nope-nope-nope-nope") as a:
            with pytest.raises(featd.Unauthenticated):
                await a.ping()
    asyncio.run(run())


def test_cli_token(auth_stack, tmp_path):
    r = auth_stack.cli("ping", check=False)
    assert r.returncode != 0
    r = auth_stack.cli("--token", RANKER, "ping", check=False)
    assert r.returncode == 0, r.stderr
    tf = tmp_path / "tok"
    tf.write_text(RANKER + "\n")
    r = auth_stack.cli("--token-file", str(tf), "views", check=False)
    assert r.returncode == 0 and "stale" in r.stdout and "alltypes" not in r.stdout, r.stderr
    os.environ["FEATD_TOKEN"] = ALL
    try:
        r = auth_stack.cli("views", check=False)
    finally:
        del os.environ["FEATD_TOKEN"]
    assert r.returncode == 0 and "alltypes" in r.stdout, r.stderr
    r = auth_stack.cli("--token", "wrong-secret-0000000000", "ping", check=False)
    assert r.returncode != 0 and "authentication failed" in r.stderr
