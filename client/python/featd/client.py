"""featd.client — Client, the blocking, thread-safe client (DESIGN §13).

A pool of TCP (or TLS) connections to one featd. A call takes an idle
connection (or opens one), sends one frame, reads frames until its own
request_id answers, and gives the connection back. Any thread may call any
method at any time; a connection is used by one call at a time.

Timeouts: each call is bounded as a whole by its timeout (the client's, or
the call's `timeout=`), connect and retries included; lookups also send the
time left as deadline_ms so featd gives up when the caller does.
Retries: UNAVAILABLE (connect refused, connection lost, featd's Redis down)
is retried with a short backoff while the timeout lasts; the last
Unavailable is raised when it runs out. A connection that timed out or
failed is closed, never reused: its stream position is unknown.
"""

import itertools
import socket
import ssl
import threading
import time

from . import featd_pb2 as pb
from . import wire
from .errors import DeadlineExceeded, FeatdError, InvalidArgument, Unavailable, Unimplemented
from .response import OnlineResponse

DEFAULT_PORT = 6566
_READ_CHUNK = 256 * 1024
_BACKOFF_FIRST = 0.005
_BACKOFF_MAX = 0.1


def tls_context(tls):
    """None/False -> None; True -> system CAs; str -> that CA file;
    ssl.SSLContext -> itself."""
    if tls is None or tls is False:
        return None
    if tls is True:
        return ssl.create_default_context()
    if isinstance(tls, str):
        return ssl.create_default_context(cafile=tls)
    if isinstance(tls, ssl.SSLContext):
        return tls
    raise InvalidArgument("tls must be None, True, a CA file path or an ssl.SSLContext")


def check_token(token):
    """A token is a non-empty str (DESIGN §14: sent as AuthRequest on every
    new connection)."""
    if token is None:
        return
    if not isinstance(token, str) or not token:
        raise InvalidArgument("token must be a non-empty str")
    if "auth" not in pb.Request.DESCRIPTOR.fields_by_name:
        raise Unimplemented("token authentication is not supported by this featd protocol "
                            "version (no AuthRequest; DESIGN §14)")


class _Conn:
    """One connection: its socket and the bytes read past the last frame.
    Used by one thread at a time (the pool hands it out)."""

    __slots__ = ("sock", "buf", "peer")

    def __init__(self, sock, peer):
        self.sock = sock
        self.buf = bytearray()
        self.peer = peer

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def call(self, data, request_id, deadline):
        """Send frame `data`, return the Response whose request_id matches.
        Responses to other ids (late answers) are dropped; an Error with id 0
        (the server could not decode a frame; it closes) is raised."""
        sock = self.sock
        sock.settimeout(_left(deadline, self.peer, "sending"))
        sock.sendall(data)
        buf = self.buf
        while True:
            if len(buf) >= 4:
                (n,) = wire.unpack_header(buf)
                wire.check_frame_len(n)
                if len(buf) >= 4 + n:
                    resp = wire.parse_response(bytes(buf[4:4 + n]))
                    del buf[:4 + n]
                    rid = resp.request_id
                    if rid == request_id:
                        return resp
                    if rid == 0 and resp.WhichOneof("body") == "error":
                        wire.body_of(resp, "ping")   # raises the server's error
                    continue
            sock.settimeout(_left(deadline, self.peer, "reading the response"))
            chunk = sock.recv(_READ_CHUNK)
            if not chunk:
                raise Unavailable("connection to %s closed by the server" % self.peer)
            buf += chunk


def _left(deadline, peer, what):
    """Seconds left before deadline (None: no deadline), or DeadlineExceeded."""
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise DeadlineExceeded("timeout %s from %s" % (what, peer))
    return left


class Client:
    """Blocking client of one featd; thread-safe (see the module comment).

    Client(host, port, timeout=1.0, token=None, tls=None, pool_size=16)
    timeout: seconds per call, None = no bound. tls: None, True (system CAs),
    a CA file path or an ssl.SSLContext. token: DESIGN §14 authentication,
    sent as an AuthRequest on every new connection (a refused token raises
    Unauthenticated; a view outside the token's raises PermissionDenied).
    pool_size: idle connections kept for reuse (more are opened when more
    threads call at once, and closed after their call)."""

    def __init__(self, host="127.0.0.1", port=DEFAULT_PORT, timeout=1.0, token=None,
                 tls=None, pool_size=16):
        if timeout is not None and timeout <= 0:
            raise InvalidArgument("timeout must be > 0 seconds or None")
        check_token(token)
        self.host = host
        self.port = int(port)
        self.timeout = timeout
        self._ssl = tls_context(tls)
        self._pool_size = pool_size
        self._idle = []
        self._lock = threading.Lock()
        self._closed = False
        self._ids = itertools.count(1)
        self._peer = "%s:%d" % (host, self.port)
        self._token = token
        self.principal = None   # the server's name for the token, after the first connect
        self._views = {}        # push(): view name -> schema (list_feature_views)

    # ---- context manager ----

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "<featd.Client %s>" % self._peer

    def close(self):
        """Close idle connections; connections in use close when their call ends."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for c in idle:
            c.close()

    # ---- pool ----

    def _connect(self, deadline):
        left = _left(deadline, self._peer, "connecting")
        try:
            sock = socket.create_connection((self.host, self.port), timeout=left)
        except socket.timeout:
            raise DeadlineExceeded("timeout connecting to %s" % self._peer) from None
        except OSError as e:
            raise Unavailable("connect to %s: %s" % (self._peer, e.strerror or e)) from None
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._ssl is not None:
                sock.settimeout(_left(deadline, self._peer, "in the TLS handshake"))
                sock = self._ssl.wrap_socket(sock, server_hostname=self.host)
        except socket.timeout:
            sock.close()
            raise DeadlineExceeded("timeout in the TLS handshake with %s" % self._peer) from None
        except (OSError, ssl.SSLError) as e:
            sock.close()
            raise Unavailable("TLS handshake with %s: %s" % (self._peer, e)) from None
        conn = _Conn(sock, self._peer)
        if self._token is not None:
            self._authenticate(conn, deadline)
        return conn

    def _authenticate(self, conn, deadline):
        """AuthRequest on a new connection; raises Unauthenticated (closing it)."""
        rid = next(self._ids)
        req = wire.auth_request(self._token)
        req.request_id = rid
        try:
            resp = conn.call(wire.frame(req), rid, deadline)
            self.principal = wire.body_of(resp, "auth").principal
        except socket.timeout:
            conn.close()
            raise DeadlineExceeded("timeout authenticating to %s" % self._peer) from None
        except OSError as e:
            conn.close()
            raise Unavailable("connection to %s: %s" % (self._peer, e.strerror or e)) from None
        except BaseException:
            conn.close()
            raise

    def _get(self, deadline):
        with self._lock:
            if self._closed:
                raise FeatdError("client is closed", code="CANCELLED")
            if self._idle:
                return self._idle.pop()
        return self._connect(deadline)

    def _put(self, conn):
        with self._lock:
            if not self._closed and len(self._idle) < self._pool_size:
                self._idle.append(conn)
                return
        conn.close()

    def _drop_idle(self):
        """After a lost connection the idle ones are suspect too (featd restarted)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for c in idle:
            c.close()

    # ---- calls ----

    def _call(self, req, expect, timeout, is_lookup=False):
        """Send req (request_id set here), return its `expect` body; retries
        UNAVAILABLE until the deadline."""
        if timeout is None:
            timeout = self.timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        backoff = _BACKOFF_FIRST
        while True:
            try:
                return self._call_once(req, expect, deadline, is_lookup)
            except Unavailable:
                if deadline is not None and deadline - time.monotonic() <= backoff:
                    raise
                time.sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)

    def _call_once(self, req, expect, deadline, is_lookup):
        conn = self._get(deadline)
        rid = next(self._ids)
        req.request_id = rid
        if is_lookup:
            req.get_online_features.deadline_ms = wire.deadline_ms(
                None if deadline is None else deadline - time.monotonic())
        try:
            resp = conn.call(wire.frame(req), rid, deadline)
        except socket.timeout:
            conn.close()
            raise DeadlineExceeded("timeout waiting for the response from %s" % self._peer) \
                from None
        except OSError as e:   # refused, reset, broken pipe, TLS errors
            conn.close()
            self._drop_idle()
            raise Unavailable("connection to %s: %s" % (self._peer, e.strerror or e)) from None
        except Unavailable:
            conn.close()
            self._drop_idle()
            raise
        except BaseException:
            conn.close()
            raise
        self._put(conn)
        return wire.body_of(resp, expect)

    def get_online_features(self, features, entities, timeout=None):
        """Look up features ("view:feature" or "view:*") for entity rows given
        column-wise ({"customer_id": [1, 2, 3]}); returns an OnlineResponse."""
        req, cols = wire.lookup_request(features, entities)
        body = self._call(req, "get_online_features", timeout, is_lookup=True)
        return OnlineResponse(body, cols)

    def ping(self, timeout=None):
        """The server's wall clock (aware UTC datetime)."""
        body = self._call(wire.simple_request("ping"), "ping", timeout)
        return wire.ts_from_us(body.server_time_us)

    def list_feature_views(self, timeout=None):
        """The registry: a list of dicts (name, entities, join_keys, features,
        ttl_seconds, fingerprint, generation, materialization_mode, ...)."""
        body = self._call(wire.simple_request("list_feature_views"), "list_feature_views",
                          timeout)
        return [wire.to_dict(v) for v in body.views]

    def server_info(self, timeout=None):
        """ServerInfoResponse as a dict (version, uptime_seconds, workers, ...);
        fields a newer server adds appear once the proto is regenerated."""
        return wire.to_dict(self._call(wire.simple_request("server_info"), "server_info",
                                       timeout))

    def _view(self, feature_view, timeout, refresh=False):
        """The view's schema (list_feature_views' dict), cached per client;
        an unknown name refetches once, then raises InvalidArgument."""
        if not isinstance(feature_view, str):
            raise InvalidArgument("feature_view must be a str")
        v = None if refresh else self._views.get(feature_view)
        if v is None:
            self._views = {x["name"]: x for x in self.list_feature_views(timeout)}
            v = self._views.get(feature_view)
            if v is None:
                raise InvalidArgument("unknown feature view %r (views: %s)"
                                      % (feature_view, ", ".join(sorted(self._views))))
        return v

    def push(self, feature_view, df, timeout=None):
        """Write rows into a view (DESIGN §11), last-write-wins by event time.

        df: {column: [values]} (or a pandas DataFrame) with every join key,
        "event_timestamp" (datetime, RFC 3339 string or int µs; naive = UTC)
        and every feature of the view (None = null). Values are encoded as
        the view's schema types (fetched with list_feature_views, cached).
        Returns PushResult (rows_written, rows_stale); a refused request
        raises InvalidArgument and writes nothing. Idempotent, so UNAVAILABLE
        is retried like a lookup."""
        req = wire.write_request(self._view(feature_view, timeout), df)
        try:
            body = self._call(req, "write_features", timeout)
        except InvalidArgument:
            self._views.pop(feature_view, None)     # the schema may have changed
            raise
        return wire.push_result(body)


__all__ = ["Client", "DEFAULT_PORT"]
