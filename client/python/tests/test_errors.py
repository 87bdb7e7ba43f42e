"""Errors map to the typed exceptions of DESIGN §13, with .code and .message:
the server's refusals (same messages as libfeatd's), Redis stopped ->
Unavailable (after retrying within the timeout), a paused Redis with a tiny
timeout -> DeadlineExceeded, nothing listening -> Unavailable, an empty token
-> InvalidArgument (tokens: test_auth.py; push's errors: test_push.py)."""

import asyncio
import time

import pytest

import featd
from featd import errors
from stack import free_port


def cli_error(stack, features, entity_args):
    p = stack.cli("get", "-f", ",".join(features), *entity_args, check=False)
    assert p.returncode == 1
    prefix = "featd-cli get: server error INVALID_ARGUMENT: "
    line = p.stderr.strip().splitlines()[-1]
    assert line.startswith(prefix), line
    return line[len(prefix):]


@pytest.mark.parametrize("features,entities,cli_args", [
    (["nope:x"], {"customer_id": [1]}, ["-e", "customer_id:int=1"]),
    (["alltypes:nope"], {"customer_id": [1]}, ["-e", "customer_id:int=1"]),
    (["alltypes:b"], {"customer_id": ["1"]}, ["-e", "customer_id:str=1"]),       # mistyped key
    (["pair:amount"], {"customer_id": [1]}, ["-e", "customer_id:int=1"]),        # missing keys
    (["alltypes:b"], {"customer_id": [1], "typo": [1]},
     ["-e", "customer_id:int=1", "-e", "typo:int=1"]),                          # unused column
])
def test_invalid_argument_same_message_as_libfeatd(stack, features, entities, cli_args):
    with featd.Client("127.0.0.1", stack.port, timeout=5.0) as c:
        with pytest.raises(featd.InvalidArgument) as ei:
            c.get_online_features(features=features, entities=entities)
    e = ei.value
    assert isinstance(e, featd.FeatdError)
    assert e.code == "INVALID_ARGUMENT"
    assert e.message == cli_error(stack, features, cli_args)
    assert str(e) == "INVALID_ARGUMENT: " + e.message


def test_invalid_argument_limits(stack):
    with featd.Client("127.0.0.1", stack.port, timeout=5.0) as c:
        with pytest.raises(featd.InvalidArgument, match="unequal|length"):
            c.get_online_features(["pair:amount"], {"customer_id": [1, 2], "merchant_id": ["m1"],
                                                    "country": ["FR", "FR"]})
        with pytest.raises(featd.InvalidArgument):
            c.get_online_features(["alltypes:b"], {"customer_id": list(range(1001))})
        with pytest.raises(featd.InvalidArgument, match="no_colon"):   # featd-cli refuses it itself
            c.get_online_features(["no_colon"], {"customer_id": [1]})
        with pytest.raises(featd.InvalidArgument, match="customer_id"):
            c.get_online_features(["alltypes:b"], {"customer_id": [1.5]})       # client-side
        with pytest.raises(featd.InvalidArgument):
            c.get_online_features(["alltypes:b"], {"customer_id": 7})
        # the connection that carried the errors still serves
        assert c.get_online_features(["alltypes:b"], {"customer_id": [1]}).values("alltypes:b") \
            == [True]


def test_server_codes_map_to_classes():
    for code, cls, name in [(1, featd.InvalidArgument, "INVALID_ARGUMENT"),
                            (2, featd.Unavailable, "UNAVAILABLE"),
                            (3, featd.DeadlineExceeded, "DEADLINE_EXCEEDED"),
                            (4, featd.ResourceExhausted, "RESOURCE_EXHAUSTED"),
                            (5, featd.Internal, "INTERNAL"),
                            (6, featd.Unauthenticated, "UNAUTHENTICATED"),
                            (7, featd.PermissionDenied, "PERMISSION_DENIED")]:
        e = errors.from_server(code, "m%d" % code)
        assert type(e) is cls and e.code == name and e.message == "m%d" % code
        assert isinstance(e, featd.FeatdError)
    e = errors.from_server(99, "later")
    assert type(e) is featd.FeatdError and e.code == "ERROR_99"


def test_nothing_listening_is_unavailable_after_retrying():
    port = free_port()
    c = featd.Client("127.0.0.1", port, timeout=0.3)
    t0 = time.monotonic()
    with pytest.raises(featd.Unavailable) as ei:
        c.ping()
    assert 0.25 <= time.monotonic() - t0 < 2.0          # retried for the whole timeout
    assert "127.0.0.1:%d" % port in ei.value.message and ei.value.code == "UNAVAILABLE"

    async def run():
        async with featd.AsyncClient("127.0.0.1", port, timeout=0.3) as a:
            await a.ping()
    with pytest.raises(featd.Unavailable):
        asyncio.run(run())


def test_empty_token_is_refused(stack):
    with pytest.raises(featd.InvalidArgument):
        featd.Client("127.0.0.1", stack.port, token="")


def test_redis_stopped_is_unavailable(fresh_stack):
    c = featd.Client("127.0.0.1", fresh_stack.port, timeout=1.0)
    assert c.get_online_features(["stale:score"], {"customer_id": [2]}).values("stale:score") \
        == [0.25]
    fresh_stack.stop_redis()
    t0 = time.monotonic()
    with pytest.raises(featd.Unavailable) as ei:
        c.get_online_features(["stale:score"], {"customer_id": [2]})
    assert time.monotonic() - t0 >= 0.5                 # retried within the timeout
    assert ei.value.code == "UNAVAILABLE" and ei.value.message

    async def run():
        async with featd.AsyncClient("127.0.0.1", fresh_stack.port, timeout=0.5) as a:
            await a.get_online_features(["stale:score"], {"customer_id": [2]})
    with pytest.raises(featd.Unavailable):
        asyncio.run(run())
    c.ping()   # featd itself still answers
    c.close()


def test_paused_redis_tiny_deadline_is_deadline_exceeded(fresh_stack):
    c = featd.Client("127.0.0.1", fresh_stack.port, timeout=2.0)
    c.ping()
    fresh_stack.pause_redis()
    try:
        t0 = time.monotonic()
        with pytest.raises(featd.DeadlineExceeded) as ei:
            c.get_online_features(["stale:score"], {"customer_id": [2]}, timeout=0.05)
        assert time.monotonic() - t0 < 1.0
        assert ei.value.code == "DEADLINE_EXCEEDED"

        async def run():
            async with featd.AsyncClient("127.0.0.1", fresh_stack.port, timeout=0.05) as a:
                await a.ping()
                await a.get_online_features(["stale:score"], {"customer_id": [2]})
        with pytest.raises(featd.DeadlineExceeded):
            asyncio.run(run())
    finally:
        fresh_stack.resume_redis()
    # the same client recovers once Redis answers again
    assert c.get_online_features(["stale:score"], {"customer_id": [2]}).values("stale:score") \
        == [0.25]
    c.close()
