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
from .errors import Internal, InvalidArgument, from_server

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


# ---- writes (push, DESIGN §11) ----

EVENT_COLUMN = "event_timestamp"
# Columns push accepts and drops: WriteFeatures carries event times only
# (Feast's bodies and `featd-cli load` files carry a created time).
IGNORED_COLUMNS = ("created_timestamp", "created")

_INT_RANGE = {"int32": (-(1 << 31), (1 << 31) - 1), "int64": (-(1 << 63), (1 << 63) - 1)}
_LIST_FIELD = {"float_list": "float_list_val", "double_list": "double_list_val",
               "int64_list": "int64_list_val", "string_list": "string_list_val"}
_LIST_ELEM = {"float_list": "float", "double_list": "double", "int64_list": "int64",
              "string_list": "string"}


def time_to_us(v):
    """An event or timestamp value -> µs since the epoch: an int (µs), a
    datetime (naive = UTC; pandas Timestamps are datetimes), or an RFC 3339 /
    ISO-8601 string ("2026-12-01T10:00:00Z", "...+01:00", naive = UTC)."""
    if isinstance(v, datetime.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=UTC)
        return (v - EPOCH) // _US
    if isinstance(v, str):
        s = v.strip()
        if s.endswith(("Z", "z")):
            s = s[:-1] + "+00:00"
        try:
            d = datetime.datetime.fromisoformat(s)
        except ValueError:
            raise ValueError("not an RFC 3339 time like \"2026-12-01T10:00:00Z\"") from None
        return time_to_us(d)
    if isinstance(v, bool) or v is None:
        raise TypeError("expected a datetime, an RFC 3339 string or integer microseconds")
    if hasattr(v, "dtype") and v.dtype.kind == "M":     # numpy datetime64
        return int(v.astype("datetime64[us]").astype("int64"))
    return operator.index(v)


def _scalar(t, v):
    """(Value field, Python value) of non-null v as feature type t; raises
    TypeError / ValueError with the reason."""
    if t == "bool":
        if isinstance(v, bool) or (hasattr(v, "dtype") and v.dtype.kind == "b"):
            return "bool_val", bool(v)
        raise TypeError("expected a bool")
    if t in _INT_RANGE:
        if isinstance(v, bool):
            raise TypeError("expected an integer, got a bool")
        i = operator.index(v)
        lo, hi = _INT_RANGE[t]
        if not lo <= i <= hi:
            raise ValueError("%d is outside the %s range" % (i, t))
        return ("int32_val" if t == "int32" else "int64_val"), i
    if t in ("float", "double"):
        if isinstance(v, (bool, str, bytes)):
            raise TypeError("expected a number")
        return ("float_val" if t == "float" else "double_val"), float(v)
    if t == "string":
        if not isinstance(v, str):
            raise TypeError("expected a str")
        return "string_val", v
    if t == "bytes":
        if not isinstance(v, (bytes, bytearray, memoryview)):
            raise TypeError("expected bytes")
        return "bytes_val", bytes(v)
    if t == "timestamp":
        return "timestamp_us_val", time_to_us(v)
    raise TypeError("unknown feature type %r" % t)


def _fill_value(val, t, v):
    """Sets pb Value val to v (None = null) as feature type t."""
    if v is None:
        return
    field = _LIST_FIELD.get(t)
    if field is None:
        k, x = _scalar(t, v)
        setattr(val, k, x)
        return
    if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__"):
        raise TypeError("expected a list")
    et = _LIST_ELEM[t]
    items = []
    for x in v:
        if x is None:
            raise ValueError("lists cannot hold nulls")
        items.append(_scalar(et, x)[1])
    getattr(val, field).val.extend(items)
    getattr(val, field).SetInParent()      # an empty list is a list, not a null


def _columns(df):
    """A mapping column -> list: dicts as they are, pandas DataFrames by column."""
    if hasattr(df, "columns") and hasattr(df, "__getitem__") and not isinstance(df, dict):
        return {c: list(df[c]) for c in df.columns}
    if not hasattr(df, "items"):
        raise InvalidArgument("push needs columns: a dict {column: [values]} or a DataFrame")
    out = {}
    for k, vals in df.items():
        if isinstance(vals, (str, bytes)) or not hasattr(vals, "__iter__"):
            raise InvalidArgument("column %r must be a sequence of values, one per row" % (k,))
        out[k] = list(vals)
    return out


def write_request(view, df):
    """A Request (request_id unset) writing the rows of df into a view.

    view: the view's description as list_feature_views returns it (name,
    join_keys and features with their types): values are encoded as the
    schema's types (an int for a double feature becomes a double). df:
    column -> values, one per row: every join key, "event_timestamp"
    (datetime, RFC 3339 string or int µs) and the features (None = null).
    Raises InvalidArgument naming the column and row for a value that does
    not fit, an unknown column, a missing event time or unequal lengths;
    a missing feature or join key is left to the server to refuse."""
    cols = _columns(df)
    name = view["name"]
    keys = {k["name"]: k["type"] for k in view.get("join_keys", [])}
    feats = {f["name"]: f["type"] for f in view.get("features", [])}
    if EVENT_COLUMN not in cols:
        raise InvalidArgument("push to %s: no %r column (one event time per row)"
                              % (name, EVENT_COLUMN))
    lens = {k: len(v) for k, v in cols.items() if k not in IGNORED_COLUMNS}
    if len(set(lens.values())) > 1:
        raise InvalidArgument("push to %s: columns of unequal length: %s" % (
            name, ", ".join("%s=%d" % kv for kv in sorted(lens.items()))))
    req = pb.Request()
    w = req.write_features
    w.feature_view = name
    for col, vals in cols.items():
        if col == EVENT_COLUMN or col in IGNORED_COLUMNS:
            continue
        if col in keys:
            ec = w.entities.add()
            ec.join_key = col
            t = keys[col]
            add = ec.values.add
            for i, v in enumerate(vals):
                try:
                    if v is None:
                        add()
                    elif t == "int64":
                        add(int64_val=_scalar("int64", v)[1])
                    else:
                        add(string_val=_scalar("string", v)[1])
                except (TypeError, ValueError) as e:
                    raise InvalidArgument("push to %s: join key %r row %d: %r: %s (%s key)"
                                          % (name, col, i, v, e, t)) from None
        elif col in feats:
            fc = w.features.add()
            fc.name = col
            t = feats[col]
            add = fc.values.add
            for i, v in enumerate(vals):
                try:
                    _fill_value(add(), t, v)
                except (TypeError, ValueError) as e:
                    raise InvalidArgument("push to %s: feature %r row %d: %r: %s (%s)"
                                          % (name, col, i, v, e, t)) from None
        else:
            raise InvalidArgument("push to %s: unknown column %r (not a join key, feature or "
                                  "event_timestamp of the view)" % (name, col))
    ts = []
    for i, v in enumerate(cols[EVENT_COLUMN]):
        try:
            ts.append(time_to_us(v))
        except (TypeError, ValueError) as e:
            raise InvalidArgument("push to %s: event_timestamp row %d: %r: %s"
                                  % (name, i, v, e)) from None
    w.event_timestamps_us.extend(ts)
    return req


class PushResult(tuple):
    """push()'s answer: (rows_written, rows_stale), also as attributes.
    rows_stale: rows strictly older than the stored pushed row (skipped)."""

    __slots__ = ()

    def __new__(cls, rows_written, rows_stale):
        return tuple.__new__(cls, (rows_written, rows_stale))

    rows_written = property(operator.itemgetter(0))
    rows_stale = property(operator.itemgetter(1))

    def __repr__(self):
        return "PushResult(rows_written=%d, rows_stale=%d)" % self


def push_result(body):
    return PushResult(body.rows_written, body.rows_stale)


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
