"""featd.aio — AsyncClient, the asyncio client (DESIGN §13).

One connection per AsyncClient, every call pipelined on it: a call writes its
frame and waits on a future keyed by its request_id; one reader task reads
frames and completes the matching futures (featd answers in completion
order). Use it from one event loop (the one that first calls it).

Timeouts and retries as in Client: a call is bounded by its timeout; on
UNAVAILABLE (connect refused, connection lost, Redis down) it retries with a
short backoff while time is left, reconnecting when the connection died.
A call that times out forgets its id; a late answer is dropped.
"""

import asyncio
import itertools
import time

from . import wire
from .client import DEFAULT_PORT, check_token, tls_context
from .errors import DeadlineExceeded, FeatdError, InvalidArgument, Unavailable
from .response import OnlineResponse

_BACKOFF_FIRST = 0.005
_BACKOFF_MAX = 0.1
# Above this many unsent bytes a call waits for the socket to drain.
_DRAIN_ABOVE = 1 << 20


class _AConn:
    """One pipelined connection: writer, reader task, pending futures."""

    def __init__(self, reader, writer, peer):
        self.reader = reader
        self.writer = writer
        self.peer = peer
        self.pending = {}        # request_id -> future
        self.error = None        # set once the connection is dead
        self.task = asyncio.get_running_loop().create_task(self._read_loop())

    async def _read_loop(self):
        reader = self.reader
        try:
            while True:
                hdr = await reader.readexactly(4)
                (n,) = wire.unpack_header(hdr)
                wire.check_frame_len(n)
                resp = wire.parse_response(await reader.readexactly(n))
                fut = self.pending.pop(resp.request_id, None)
                if fut is not None:
                    if not fut.done():
                        fut.set_result(resp)
                elif resp.request_id == 0 and resp.WhichOneof("body") == "error":
                    try:
                        wire.body_of(resp, "ping")
                    except FeatdError as e:
                        self._fail(e)
                        return
        except asyncio.IncompleteReadError:
            self._fail(Unavailable("connection to %s closed by the server" % self.peer))
        except OSError as e:
            self._fail(Unavailable("connection to %s: %s" % (self.peer, e.strerror or e)))
        except FeatdError as e:
            self._fail(e)
        except asyncio.CancelledError:
            self._fail(FeatdError("client closed", code="CANCELLED"))
            raise

    def _fail(self, err):
        """Mark dead, fail every pending call with err, close the socket."""
        if self.error is None:
            self.error = err
        pending, self.pending = self.pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(err)
        self.writer.close()

    async def close(self):
        self.task.cancel()
        try:
            await self.task
        except BaseException:
            pass
        self._fail(FeatdError("client closed", code="CANCELLED"))


def _on_timeout(fut):
    if not fut.done():
        fut.set_exception(DeadlineExceeded("timeout waiting for the response"))


class AsyncClient:
    """asyncio client of one featd: the methods of Client as coroutines, all
    calls pipelined on one connection. `async with AsyncClient(...) as c:`."""

    def __init__(self, host="127.0.0.1", port=DEFAULT_PORT, timeout=1.0, token=None,
                 tls=None):
        if timeout is not None and timeout <= 0:
            raise InvalidArgument("timeout must be > 0 seconds or None")
        check_token(token)
        self.host = host
        self.port = int(port)
        self.timeout = timeout
        self._ssl = tls_context(tls)
        self._conn = None
        self._connecting = None
        self._closed = False
        self._ids = itertools.count(1)
        self._peer = "%s:%d" % (host, self.port)
        self._token = token
        self.principal = None   # the server's name for the token, after the first connect
        self._views = {}        # push(): view name -> schema (list_feature_views)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()

    def __repr__(self):
        return "<featd.AsyncClient %s>" % self._peer

    async def close(self):
        self._closed = True
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    async def _open(self, deadline):
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise DeadlineExceeded("timeout connecting to %s" % self._peer)
        kw = {}
        if self._ssl is not None:
            kw = {"ssl": self._ssl, "server_hostname": self.host}
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port, **kw), left)
        except asyncio.TimeoutError:
            raise DeadlineExceeded("timeout connecting to %s" % self._peer) from None
        except OSError as e:
            raise Unavailable("connect to %s: %s" % (self._peer, e.strerror or e)) from None
        conn = _AConn(reader, writer, self._peer)
        if self._token is not None:
            try:
                body = await self._call_on(conn, wire.auth_request(self._token), "auth", deadline)
            except BaseException:
                await conn.close()
                raise
            self.principal = body.principal
        return conn

    async def _get(self, deadline):
        """The live connection; concurrent first calls share one connect."""
        if self._closed:
            raise FeatdError("client is closed", code="CANCELLED")
        conn = self._conn
        if conn is not None and conn.error is None:
            return conn
        if self._connecting is None:
            self._connecting = asyncio.get_running_loop().create_task(self._open(deadline))
        task = self._connecting
        try:
            conn = await asyncio.shield(task)
        finally:
            if self._connecting is task and task.done():
                self._connecting = None
        self._conn = conn
        return conn

    async def _call(self, req, expect, timeout, is_lookup=False):
        if timeout is None:
            timeout = self.timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        backoff = _BACKOFF_FIRST
        while True:
            try:
                return await self._call_once(req, expect, deadline, is_lookup)
            except Unavailable:
                if deadline is not None and deadline - time.monotonic() <= backoff:
                    raise
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)

    async def _call_once(self, req, expect, deadline, is_lookup):
        conn = await self._get(deadline)
        return await self._call_on(conn, req, expect, deadline, is_lookup)

    async def _call_on(self, conn, req, expect, deadline, is_lookup=False):
        """One request on conn; its `expect` body (or the server's error)."""
        rid = next(self._ids)
        req.request_id = rid
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise DeadlineExceeded("timeout before sending to %s" % self._peer)
        if is_lookup:
            req.get_online_features.deadline_ms = wire.deadline_ms(left)
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        conn.pending[rid] = fut
        conn.writer.write(wire.frame(req))
        handle = None if left is None else loop.call_later(left, _on_timeout, fut)
        try:
            if conn.writer.transport.get_write_buffer_size() > _DRAIN_ABOVE:
                await conn.writer.drain()
            resp = await fut
        except (OSError, ConnectionError) as e:
            conn._fail(Unavailable("connection to %s: %s" % (self._peer, e)))
            raise conn.error from None
        finally:
            if handle is not None:
                handle.cancel()
            conn.pending.pop(rid, None)
        return wire.body_of(resp, expect)

    async def get_online_features(self, features, entities, timeout=None):
        req, cols = wire.lookup_request(features, entities)
        body = await self._call(req, "get_online_features", timeout, is_lookup=True)
        return OnlineResponse(body, cols)

    async def ping(self, timeout=None):
        body = await self._call(wire.simple_request("ping"), "ping", timeout)
        return wire.ts_from_us(body.server_time_us)

    async def list_feature_views(self, timeout=None):
        body = await self._call(wire.simple_request("list_feature_views"),
                                "list_feature_views", timeout)
        return [wire.to_dict(v) for v in body.views]

    async def server_info(self, timeout=None):
        return wire.to_dict(await self._call(wire.simple_request("server_info"),
                                             "server_info", timeout))

    async def _view(self, feature_view, timeout):
        """Client._view's twin: the view's schema, cached per client."""
        if not isinstance(feature_view, str):
            raise InvalidArgument("feature_view must be a str")
        v = self._views.get(feature_view)
        if v is None:
            self._views = {x["name"]: x for x in await self.list_feature_views(timeout)}
            v = self._views.get(feature_view)
            if v is None:
                raise InvalidArgument("unknown feature view %r (views: %s)"
                                      % (feature_view, ", ".join(sorted(self._views))))
        return v

    async def push(self, feature_view, df, timeout=None):
        """Client.push as a coroutine (pipelined with the other calls)."""
        req = wire.write_request(await self._view(feature_view, timeout), df)
        try:
            body = await self._call(req, "write_features", timeout)
        except InvalidArgument:
            self._views.pop(feature_view, None)
            raise
        return wire.push_result(body)
