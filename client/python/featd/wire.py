"""featd.wire — the wire format in one place (docs/protocol.md).

Framing (a 4-byte big-endian length, then one protobuf message), building
Request messages, turning Response bodies into results or exceptions, and
decoding Value columns into Python values. Client (sync) and AsyncClient
share all of it; they only move bytes.
"""

import datetime
import operator
import struct

from . import featd_pb2 as pb
from .errors import Internal, InvalidArgument, Unimplemented, from_server

# Largest response frame accepted (libfeatd's FEATD_DEFAULT_MAX_FRAME); a
# larger header means a broken stream, never an allocation.
MAX_FRAME = 64 * 1024 * 1024
# GetOnlineFeaturesRequest.deadline_ms is at most 600000 on the server.
MAX_DEADLINE_MS = 600000

_HDR = struct.Struct(">I")
header_size = _HDR.size
unpack_header = _HDR.unpack_from

UTC = datetime.timezone.utc
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=UTC)
_US = datetime.timedelta(microseconds=1)

STATUS_NAMES = ("INVALID", "PRESENT", "NULL_VALUE", "NOT_FOUND", "OUTSIDE_MAX_AGE")


def frame(req):
    """The bytes of one frame holding Request req."""
    body = req.SerializeToString()
    return _HDR.pack(len(body)) + body


def check_frame_len(n):
    if n > MAX_FRAME:
        raise Internal("response frame of %d bytes exceeds the client's limit (%d)"
                       % (n, MAX_FRAME))


def parse_response(body):
    try:
        return pb.Response.FromString(body)
    except Exception as e:   # DecodeError; the runtimes differ on the class
        raise Internal("undecodable response frame (%d bytes): %s" % (len(body), e)) from None


# ---- requests ----

def deadline_ms(remaining_s):
    """deadline_ms for a call with remaining_s seconds left (None = server default)."""
    if remaining_s is None:
        return 0
    ms = int(remaining_s * 1000)
    return 1 if ms < 1 else min(ms, MAX_DEADLINE_MS)


def _entity_column(col, key, vals):
    add = col.values.add
    try:
        for v in vals:
            t = type(v)
            if t is int:
                add(int64_val=v)
            elif t is str:
                add(string_val=v)
            elif v is None:
                add()
            elif t is bool:
                add(bool_val=v)          # the server refuses it, naming the key
            elif isinstance(v, (bytes, bytearray)):
                add(bytes_val=bytes(v))
            elif isinstance(v, str):
                add(string_val=str(v))
            else:
                add(int64_val=operator.index(v))   # numpy integers and friends
    except (TypeError, ValueError) as e:
        raise InvalidArgument("join key %r: value %r is not an int64 or a string (%s)"
                              % (key, v, e)) from None


def lookup_request(features, entities):
    """A Request (request_id and deadline unset) for get_online_features.

    features: iterable of "view:feature" / "view:*"; entities: mapping of
    join key -> sequence of values (int, str; None = null). Returns (request,
    entity columns as lists, in the mapping's order)."""
    if isinstance(features, str):
        features = [features]
    req = pb.Request()
    g = req.get_online_features
    try:
        g.features.extend(features)
    except TypeError as e:
        raise InvalidArgument("features must be strings \"view:feature\": %s" % e) from None
    cols = {}
    for key, vals in entities.items():
        if isinstance(vals, (str, bytes)) or not hasattr(vals, "__iter__"):
            raise InvalidArgument("entities[%r] must be a sequence of values, one per row" % (key,))
        vals = list(vals)
        col = g.entities.add()
        try:
            col.join_key = key
        except TypeError:
            raise InvalidArgument("join key names must be strings, got %r" % (key,)) from None
        _entity_column(col, key, vals)
        cols[key] = vals
    return req, cols


def simple_request(body):
    """A Request of a body without fields: "ping", "list_feature_views", "server_info"."""
    req = pb.Request()
    getattr(req, body).SetInParent()
    return req


def auth_request(token):
    """An AuthRequest carrying token (DESIGN §14)."""
    req = pb.Request()
    req.auth.token = token
    return req


def write_request(feature_view, df):
    """push(): needs WriteFeaturesRequest (DESIGN §11) in proto/featd.proto."""
    if "write_features" not in pb.Request.DESCRIPTOR.fields_by_name:
        raise Unimplemented("push is not supported: this featd protocol has no WriteFeatures "
                            "request yet (DESIGN §11, issue #14); the server cannot accept writes")
    raise Unimplemented("push: the client does not encode WriteFeatures yet")


# ---- responses ----

def body_of(resp, expect):
    """The `expect` body of Response resp, or raise the Error it carries."""
    which = resp.WhichOneof("body")
    if which == expect:
        return getattr(resp, expect)
    if which == "error":
        raise from_server(resp.error.code, resp.error.message)
    raise Internal("unexpected response body %r to a %s request" % (which, expect))


def to_dict(msg):
    """A message as plain Python data, walking its descriptor: fields the
    generated code knows appear (with defaults), unknown fields from a newer
    server are ignored. Enums as names, nested messages as dicts."""
    out = {}
    for f in msg.DESCRIPTOR.fields:
        v = getattr(msg, f.name)
        if f.type == f.TYPE_MESSAGE:
            v = [to_dict(m) for m in v] if f.label == f.LABEL_REPEATED else to_dict(v)
        elif f.type == f.TYPE_ENUM:
            names = f.enum_type.values_by_number
            conv = (lambda n: names[n].name if n in names else n)
            v = [conv(n) for n in v] if f.label == f.LABEL_REPEATED else conv(v)
        elif f.label == f.LABEL_REPEATED:
            v = list(v)
        out[f.name] = v
    return out


def ts_from_us(us):
    """µs since the epoch -> aware UTC datetime."""
    return EPOCH + us * _US


def _conv_list(name):
    def conv(v):
        return list(getattr(v, name).val)
    return conv


def _conv_ts(v):
    return EPOCH + v.timestamp_us_val * _US


# Kinds whose Python value is not the field itself.
_CONVERTERS = {
    "timestamp_us_val": _conv_ts,
    "float_list_val": _conv_list("float_list_val"),
    "double_list_val": _conv_list("double_list_val"),
    "int64_list_val": _conv_list("int64_list_val"),
    "string_list_val": _conv_list("string_list_val"),
}


# kind -> function reading a set Value of that kind (no per-call attrgetter).
_GETTERS = {f.name: _CONVERTERS.get(f.name) or operator.attrgetter(f.name)
            for f in pb.Value.DESCRIPTOR.oneofs_by_name["kind"].fields}


def value_of(v):
    """One Value -> Python (None for null)."""
    k = v.WhichOneof("kind")
    if k is None:
        return None
    conv = _CONVERTERS.get(k)
    return conv(v) if conv else getattr(v, k)


# Statuses whose value is set (docs/protocol.md: PRESENT and OUTSIDE_MAX_AGE
# carry the value; NULL_VALUE, NOT_FOUND and INVALID carry none).
_PRESENT, _OUTSIDE = 1, 4


def decode_column(values, statuses):
    """One feature's repeated Value (and its statuses) -> list of Python values.

    A feature has one type, so a column holds one kind or nulls, and the
    statuses say which entries are set: the kind is read once (first set
    value) and that field is read from each set value with map() or one
    comprehension, with no per-value WhichOneof. Anything unexpected (a
    length mismatch, a set status without a value) takes the per-value path."""
    st = list(statuses)
    n = len(st)
    present = st.count(_PRESENT) + st.count(_OUTSIDE)
    if n != len(values) or present == 0:
        if n == len(values):
            return [None] * n
        return [value_of(v) for v in values]
    first = st.index(_PRESENT) if _PRESENT in st else st.index(_OUTSIDE)
    kind = values[first].WhichOneof("kind")
    if kind is None:
        return [value_of(v) for v in values]
    get = _GETTERS.get(kind) or operator.attrgetter(kind)
    if present == n:
        return list(map(get, values))
    return [get(v) if s == _PRESENT or s == _OUTSIDE else None for v, s in zip(values, st)]
