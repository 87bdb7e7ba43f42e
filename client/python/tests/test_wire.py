"""The wire layer without a featd: featd_pb2.py is what Debian's protoc
generates from proto/featd.proto today (fails when stale), answers carrying
fields and bodies this client does not know (a newer featd, e.g.
ServerInfoResponse fields 12-14) are decoded or refused cleanly, and a fake
server's odd frames (error with request_id 0, late answers, a huge length,
garbage) give the right exceptions."""

import asyncio
import os
import shutil
import socket
import struct
import subprocess
import threading

import pytest

import featd
from featd import featd_pb2 as pb
from featd import wire
from stack import ROOT

PKG = os.path.join(ROOT, "client", "python", "featd")


def test_generated_code_is_fresh(tmp_path):
    protoc = shutil.which("protoc")
    if protoc is None:
        pytest.skip("protoc not installed (Debian package protobuf-compiler; make deps installs it)")
    subprocess.run([protoc, "--proto_path=" + os.path.join(ROOT, "proto"),
                    "--python_out=" + str(tmp_path), os.path.join(ROOT, "proto", "featd.proto")],
                   check=True)
    with open(tmp_path / "featd_pb2.py", "rb") as f:
        fresh = f.read()
    with open(os.path.join(PKG, "featd_pb2.py"), "rb") as f:
        committed = f.read()
    assert committed == fresh, ("client/python/featd/featd_pb2.py is stale: regenerate it with "
                                "`protoc --proto_path=proto --python_out=client/python/featd "
                                "proto/featd.proto`")


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(num, wt, payload):
    return _varint(num << 3 | wt) + payload


def _len_field(num, data):
    return _field(num, 2, _varint(len(data)) + data)


def newer_server_info(rid):
    """A Response{server_info} with fields 12 (varint), 13 (string), 14 (a
    message) that this client's proto does not have."""
    info = pb.ServerInfoResponse(version="9.9.9", workers=3).SerializeToString()
    info += _field(12, 0, _varint(12345)) + _len_field(13, b"cluster") \
        + _len_field(14, _field(1, 0, _varint(1)))
    return _field(1, 0, _varint(rid)) + _len_field(6, info)


def test_unknown_fields_and_bodies():
    resp = wire.parse_response(newer_server_info(5))
    d = wire.to_dict(wire.body_of(resp, "server_info"))
    assert d["version"] == "9.9.9" and d["workers"] == 3
    assert set(d) == {f.name for f in pb.ServerInfoResponse.DESCRIPTOR.fields}
    # a body this client does not know (e.g. write_features = 7 of DESIGN §11)
    resp = wire.parse_response(_field(1, 0, _varint(6)) + _len_field(7, _field(1, 0, _varint(3))))
    with pytest.raises(featd.Internal, match="unexpected response body"):
        wire.body_of(resp, "ping")
    # ErrorCode 6 (DESIGN §14), not in this proto yet, still maps
    err = pb.Response(request_id=1, error=pb.Error(code=6, message="token?"))
    with pytest.raises(featd.Unauthenticated, match="token"):
        wire.body_of(wire.parse_response(err.SerializeToString()), "ping")
    with pytest.raises(featd.Internal, match="undecodable"):
        wire.parse_response(b"\xff\xff\xff")


class FakeServer:
    """Accepts connections; for each request frame calls answer(req) -> list
    of raw frame bodies (or bytes to send as they are, via `raw`)."""

    def __init__(self, answer):
        self.answer = answer
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        buf = b""
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                buf += data
                while len(buf) >= 4:
                    (n,) = struct.unpack(">I", buf[:4])
                    if len(buf) < 4 + n:
                        break
                    req = pb.Request.FromString(buf[4:4 + n])
                    buf = buf[4 + n:]
                    for out in self.answer(req):
                        conn.sendall(out if isinstance(out, Raw) else
                                     struct.pack(">I", len(out)) + out)

    def close(self):
        self.sock.close()


class Raw(bytes):
    pass


def ping_answer(rid):
    return pb.Response(request_id=rid, ping=pb.PingResponse(server_time_us=1)).SerializeToString()


def test_fake_server_frames():
    def answer(req):
        body = req.WhichOneof("body")
        if body == "server_info":                    # a late answer first, then ours
            return [ping_answer(req.request_id + 1000), newer_server_info(req.request_id)]
        if body == "list_feature_views":             # the server could not decode the frame
            return [pb.Response(request_id=0, error=pb.Error(
                code=4, message="frame too big")).SerializeToString()]
        if req.get_online_features.features[0] == "huge":
            return [Raw(struct.pack(">I", 100 * 1024 * 1024))]
        return [Raw(b"\x00\x00\x00\x02\xff\xff")]    # garbage

    srv = FakeServer(answer)
    try:
        with featd.Client("127.0.0.1", srv.port, timeout=1.0) as c:
            assert c.server_info()["version"] == "9.9.9"
            with pytest.raises(featd.ResourceExhausted, match="frame too big"):
                c.list_feature_views()
            with pytest.raises(featd.Internal, match="exceeds"):
                c.get_online_features(["huge"], {"k": [1]})
            with pytest.raises(featd.Internal, match="undecodable"):
                c.get_online_features(["x:y"], {"k": [1]})
            assert c.server_info()["workers"] == 3   # broken connections were not reused

        async def run():
            async with featd.AsyncClient("127.0.0.1", srv.port, timeout=1.0) as a:
                assert (await a.server_info())["version"] == "9.9.9"
                with pytest.raises(featd.ResourceExhausted):
                    await a.list_feature_views()
                with pytest.raises(featd.Internal, match="exceeds"):
                    await a.get_online_features(["huge"], {"k": [1]})
                assert (await a.server_info())["workers"] == 3
        asyncio.run(run())
    finally:
        srv.close()


def test_silent_server_is_deadline_exceeded():
    srv = FakeServer(lambda req: [])
    try:
        with featd.Client("127.0.0.1", srv.port, timeout=0.1) as c:
            with pytest.raises(featd.DeadlineExceeded):
                c.ping()

        async def run():
            async with featd.AsyncClient("127.0.0.1", srv.port, timeout=0.1) as a:
                await a.ping()
        with pytest.raises(featd.DeadlineExceeded):
            asyncio.run(run())
    finally:
        srv.close()


def test_deadline_ms_is_the_time_left():
    seen = []

    def answer(req):
        seen.append(req.get_online_features.deadline_ms)
        return [pb.Response(request_id=req.request_id,
                            get_online_features=pb.GetOnlineFeaturesResponse()).SerializeToString()]
    srv = FakeServer(answer)
    try:
        with featd.Client("127.0.0.1", srv.port, timeout=0.5) as c:
            r = c.get_online_features(["v:f"], {"k": [1, "a", None]})
            assert r.feature_names == [] and r.to_dict() == {"k": [1, "a", None]}
            c.get_online_features(["v:f"], {"k": [1]}, timeout=30)
        assert 400 <= seen[0] <= 500 and 29000 <= seen[1] <= 30000
    finally:
        srv.close()


def test_build_backend_wheel(tmp_path):
    """`pip install ./client/python` builds with featd_build (no setuptools):
    the wheel holds the package and agrees with pyproject.toml's version."""
    import importlib.util
    import re
    import zipfile
    here = os.path.join(ROOT, "client", "python")
    spec = importlib.util.spec_from_file_location("featd_build", os.path.join(here, "featd_build.py"))
    fb = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fb)
    with open(os.path.join(here, "pyproject.toml")) as f:
        version = re.search(r'^version = "([^"]+)"', f.read(), re.M).group(1)
    assert fb.VERSION == version == featd.__version__
    name = fb.build_wheel(str(tmp_path))
    with zipfile.ZipFile(tmp_path / name) as z:
        names = set(z.namelist())
        assert {"featd/__init__.py", "featd/featd_pb2.py", "featd/client.py"} <= names
        record = z.read("featd-%s.dist-info/RECORD" % version).decode()
        assert "featd/featd_pb2.py,sha256=" in record
        assert "Requires-Dist: protobuf" in z.read("featd-%s.dist-info/METADATA" % version).decode()
    assert fb.build_sdist(str(tmp_path)).endswith(".tar.gz")


def test_decode_column_paths():
    V = pb.Value
    vals = [V(double_val=1.5), V(), V(double_val=-2.0), V()]
    assert wire.decode_column(vals, [1, 2, 4, 3]) == [1.5, None, -2.0, None]
    assert wire.decode_column(vals[:1], [1]) == [1.5]
    assert wire.decode_column([V(), V()], [3, 0]) == [None, None]
    # a set status without a value, or lengths that disagree: per-value path
    assert wire.decode_column([V(), V(int64_val=3)], [1, 1]) == [None, 3]
    assert wire.decode_column([V(int64_val=3)], [1, 1]) == [3]
    ts = wire.decode_column([V(timestamp_us_val=1500000)], [1])[0]
    assert ts.isoformat() == "1970-01-01T00:00:01.500000+00:00"
    assert wire.decode_column([V(string_list_val=pb.StringList(val=["a"]))], [4]) == [["a"]]
