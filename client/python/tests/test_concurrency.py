"""8 threads sharing one Client, 200 concurrent AsyncClient lookups pipelined
on one connection, and reconnecting after a featd restart (sync and async),
including a call that outlasts the restart by retrying within its timeout."""

import asyncio
import threading
import time

import pytest

import featd

FEATURES = ["alltypes:i64", "alltypes:s", "stale:score"]
IDS = [1, 2, 3, -5, 999]


def expected(c):
    """customer id -> (i64, s, score) from one single-row lookup each."""
    out = {}
    for i in IDS:
        r = c.get_online_features(FEATURES, {"customer_id": [i]})
        out[i] = tuple(r.values(f)[0] for f in FEATURES)
    return out


def test_eight_threads_share_one_client(stack):
    c = featd.Client("127.0.0.1", stack.port, timeout=5.0)
    want = expected(c)
    errors = []
    barrier = threading.Barrier(8)

    def worker(n):
        try:
            barrier.wait()
            for k in range(150):
                ids = [IDS[(n + k + j) % len(IDS)] for j in range(1 + (n + k) % 4)]
                r = c.get_online_features(FEATURES, {"customer_id": ids})
                got = list(zip(*(r.values(f) for f in FEATURES)))
                assert got == [want[i] for i in ids], (n, k, ids)
                if k % 50 == 0:
                    c.ping()
        except BaseException as e:   # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert 1 <= len(c._idle) <= 8         # connections were reused, at most one per thread
    c.close()


def test_200_concurrent_async_lookups_on_one_connection(stack):
    with featd.Client("127.0.0.1", stack.port, timeout=5.0) as c:
        want = expected(c)
        before = c.server_info()["connections"]

    async def run():
        async with featd.AsyncClient("127.0.0.1", stack.port, timeout=5.0) as a:
            jobs = []
            for k in range(200):
                ids = [IDS[(k + j) % len(IDS)] for j in range(1 + k % 5)]
                jobs.append((ids, a.get_online_features(FEATURES, {"customer_id": ids})))
            results = await asyncio.gather(*(j for _, j in jobs))
            info = await a.server_info()
            return [ids for ids, _ in jobs], results, info

    all_ids, results, info = asyncio.run(run())
    assert len(results) == 200
    for ids, r in zip(all_ids, results):
        assert list(zip(*(r.values(f) for f in FEATURES))) == [want[i] for i in ids]
    # one pipelined connection: featd saw just it (plus, at most, the sync client's
    # connection still closing)
    assert info["connections"] <= before


def test_reconnect_after_featd_restart(fresh_stack):
    s = fresh_stack
    c = featd.Client("127.0.0.1", s.port, timeout=2.0)
    a_results = []

    async def async_round(a):
        r = await a.get_online_features(["stale:score"], {"customer_id": [2]})
        a_results.append(r.values("stale:score"))

    async def run():
        async with featd.AsyncClient("127.0.0.1", s.port, timeout=2.0) as a:
            await async_round(a)
            # the pool and the async connection now hold connections to the old featd
            for _ in range(4):
                threading.Thread(target=c.ping).start()
            await asyncio.sleep(0.2)
            s.stop_featd()
            with pytest.raises(featd.Unavailable):
                c.ping(timeout=0.2)
            with pytest.raises(featd.Unavailable):
                await a.ping(timeout=0.2)
            s.start_featd()
            await async_round(a)
            # featd goes away again; this call outlasts the restart by retrying
            s.stop_featd()
            threading.Timer(0.3, s.start_featd).start()
            t0 = time.monotonic()
            await asyncio.sleep(0)
            await async_round(a)
            return time.monotonic() - t0

    c.ping()
    waited = asyncio.run(run())
    assert waited >= 0.25
    assert a_results == [[0.25]] * 3
    assert c.get_online_features(["stale:score"], {"customer_id": [2]}).values("stale:score") \
        == [0.25]
    # and a sync call that outlasts a restart
    s.stop_featd()
    threading.Timer(0.3, s.start_featd).start()
    t0 = time.monotonic()
    assert c.get_online_features(["stale:score"], {"customer_id": [2]}).values("stale:score") \
        == [0.25]
    assert time.monotonic() - t0 >= 0.25
    c.close()
