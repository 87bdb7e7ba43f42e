"""TLS (tls= a CA file or an SSLContext) through a TLS-terminating proxy in
front of featd (featd's own TLS is issue #17), TLS failures -> Unavailable;
to_numpy / to_pandas when numpy / pandas are installed."""

import asyncio
import math
import shutil
import socket
import ssl
import subprocess
import threading

import pytest

import featd


def _pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class TlsProxy:
    def __init__(self, certfile, keyfile, backend_port):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(certfile, keyfile)
        self.backend = backend_port
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            try:
                raw.settimeout(5)
                tls = self.ctx.wrap_socket(raw, server_side=True)
                tls.settimeout(None)
            except (OSError, ssl.SSLError):
                raw.close()
                continue
            back = socket.create_connection(("127.0.0.1", self.backend))
            threading.Thread(target=_pump, args=(tls, back), daemon=True).start()
            threading.Thread(target=_pump, args=(back, tls), daemon=True).start()

    def close(self):
        self.sock.close()


@pytest.fixture(scope="module")
def tls_proxy(stack, tmp_path_factory):
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl not installed: cannot make a test certificate")
    d = tmp_path_factory.mktemp("tls")
    cert, key = str(d / "cert.pem"), str(d / "key.pem")
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    p = TlsProxy(cert, key, stack.port)
    yield p, cert
    p.close()


def test_tls_with_ca_file_and_context(tls_proxy):
    proxy, cert = tls_proxy
    with featd.Client("localhost", proxy.port, timeout=5.0, tls=cert) as c:
        r = c.get_online_features(["stale:score"], {"customer_id": [2]})
        assert r.values("stale:score") == [0.25]
    ctx = ssl.create_default_context(cafile=cert)

    async def run():
        async with featd.AsyncClient("localhost", proxy.port, timeout=5.0, tls=ctx) as a:
            rs = await asyncio.gather(*[a.get_online_features(["stale:score"],
                                                              {"customer_id": [2]})
                                        for _ in range(20)])
            return [r.values("stale:score") for r in rs]
    assert asyncio.run(run()) == [[0.25]] * 20


def test_tls_failures_are_unavailable(tls_proxy, stack):
    proxy, _ = tls_proxy
    # the system CAs do not trust the test certificate
    with pytest.raises(featd.Unavailable, match="TLS|certificate"):
        featd.Client("localhost", proxy.port, timeout=0.3, tls=True).ping()
    # TLS towards featd's plain protobuf port
    with pytest.raises((featd.Unavailable, featd.DeadlineExceeded)):
        featd.Client("127.0.0.1", stack.port, timeout=0.3, tls=True).ping()
    with pytest.raises(featd.InvalidArgument):
        featd.Client("127.0.0.1", stack.port, tls=42)


def test_to_numpy(stack):
    np = pytest.importorskip("numpy")
    with featd.Client("127.0.0.1", stack.port, timeout=5.0) as c:
        r = c.get_online_features(["alltypes:*", "stale:score"], {"customer_id": [1, 3, 2]})
    d = r.to_numpy("alltypes:d")
    assert d.dtype == np.float64 and d[0] == 1234.5678901234567 and d[1] == -np.inf \
        and math.isnan(d[2])
    f = r.to_numpy("alltypes:f")
    assert f.dtype == np.float32 and f[0] == 1.5 and math.isnan(f[1]) and math.isnan(f[2])
    assert r.to_numpy("alltypes:i64").dtype == object             # a null among ints
    ts = r.to_numpy("alltypes:ts")
    assert ts.dtype == np.dtype("datetime64[us]") and np.isnat(ts[2])
    assert ts[0] == np.datetime64("2026-11-20T18:01:00.123456")
    assert r.to_numpy("alltypes:by").dtype == object
    r2 = featd.Client("127.0.0.1", stack.port, timeout=5.0).get_online_features(
        ["alltypes:i64", "alltypes:il", "alltypes:b"], {"customer_id": [1, 1]})
    assert r2.to_numpy("alltypes:i64").dtype == np.int64
    assert r2.to_numpy("alltypes:b").dtype == np.bool_
    assert r2.to_numpy("alltypes:il").shape == (2, 3)


def test_to_pandas(stack):
    pd = pytest.importorskip("pandas")
    with featd.Client("127.0.0.1", stack.port, timeout=5.0) as c:
        r = c.get_online_features(["stale:score", "pair:amount"],
                                  {"customer_id": [1, 2], "merchant_id": ["m1", "m1"],
                                   "country": ["FR", "FR"]})
    df = r.to_pandas()
    assert list(df.columns) == ["customer_id", "merchant_id", "country", "stale:score",
                                "pair:amount"]
    assert isinstance(df, pd.DataFrame) and df["stale:score"].tolist() == [0.5, 0.25]
