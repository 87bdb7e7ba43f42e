"""featd.response — OnlineResponse, the answer of get_online_features.

Wraps the decoded GetOnlineFeaturesResponse and the request's entity columns.
Columns are decoded on first use (one list comprehension per column) and
cached; nothing is converted that the caller does not ask for.
"""

from . import wire


class OnlineResponse:
    """feature_names, values(name), statuses(name), event_timestamps(name),
    to_dict() (join keys first, then features), to_numpy(name), to_pandas().

    Not meant to be shared between threads while it is first being read
    (columns are cached lazily); reading a cached column is safe."""

    __slots__ = ("_msg", "_entities", "_index", "_values", "feature_names")

    def __init__(self, msg, entities):
        self._msg = msg
        self._entities = entities
        self.feature_names = list(msg.feature_names)
        self._index = {n: i for i, n in enumerate(self.feature_names)}
        self._values = {}

    def __repr__(self):
        return "<featd.OnlineResponse %d rows, features %s>" % (len(self), self.feature_names)

    def __len__(self):
        """Number of entity rows."""
        for col in self._entities.values():
            return len(col)
        r = self._msg.results
        return len(r[0].statuses) if r else 0

    @property
    def join_keys(self):
        return list(self._entities)

    @property
    def proto(self):
        """The GetOnlineFeaturesResponse message itself."""
        return self._msg

    def _vector(self, name):
        i = self._index.get(name)
        if i is None:
            raise KeyError("feature %r is not in this response (it has %s)"
                           % (name, self.feature_names))
        return self._msg.results[i]

    def values(self, name):
        """Values of feature `name`, one per entity row; None where null or
        not found. OUTSIDE_MAX_AGE values are returned (check statuses)."""
        col = self._values.get(name)
        if col is None:
            vec = self._vector(name)
            col = wire.decode_column(vec.values, vec.statuses)
            self._values[name] = col
        return col

    def statuses(self, name):
        """"PRESENT", "NULL_VALUE", "NOT_FOUND", "OUTSIDE_MAX_AGE" (or "INVALID")."""
        names = wire.STATUS_NAMES
        st = self._vector(name).statuses
        try:
            return [names[s] for s in st]
        except IndexError:   # a status this client does not know yet
            return [names[s] if 0 <= s < len(names) else str(s) for s in st]

    def event_timestamps(self, name):
        """Event time of each value as an aware UTC datetime; None when the
        server sent 0 (NOT_FOUND)."""
        conv = wire.ts_from_us
        return [conv(us) if us else None for us in self._vector(name).event_timestamps_us]

    def event_timestamps_us(self, name):
        """The raw event times, µs since the epoch (0 = none)."""
        return list(self._vector(name).event_timestamps_us)

    def to_dict(self):
        """{join key: [...], ..., feature name: [...], ...}; join keys first."""
        out = {k: list(v) for k, v in self._entities.items()}
        cache = self._values
        for name, vec in zip(self.feature_names, self._msg.results):
            col = cache.get(name)
            if col is None:
                col = cache[name] = wire.decode_column(vec.values, vec.statuses)
            out[name] = col
        return out

    def to_numpy(self, name):
        """Feature `name` as a numpy array. Numbers and bools get their dtype
        (float/double nulls become NaN; an int or bool column with nulls is
        an object array), timestamps datetime64[us] (NaT for null), equal-
        length numeric lists a 2-D array; anything else an object array."""
        try:
            import numpy as np
        except ImportError:
            raise ImportError("to_numpy needs numpy (apt install python3-numpy)") from None
        vec = self._vector(name)
        vals = self.values(name)
        kind = None
        for v in vec.values:
            kind = v.WhichOneof("kind")
            if kind:
                break
        has_null = any(v is None for v in vals)
        if kind in ("double_val", "float_val"):
            dt = np.float64 if kind == "double_val" else np.float32
            return np.array([np.nan if v is None else v for v in vals], dtype=dt)
        if kind in ("int64_val", "int32_val", "bool_val"):
            if has_null:
                return np.array(vals, dtype=object)
            dt = {"int64_val": np.int64, "int32_val": np.int32, "bool_val": np.bool_}[kind]
            return np.array(vals, dtype=dt)
        if kind == "timestamp_us_val":
            us = [v.timestamp_us_val if v.HasField("timestamp_us_val") else None
                  for v in vec.values]
            return np.array([np.datetime64("NaT") if u is None else np.datetime64(u, "us")
                             for u in us], dtype="datetime64[us]")
        if kind in ("float_list_val", "double_list_val", "int64_list_val") and not has_null \
                and len({len(v) for v in vals}) == 1:
            dt = {"float_list_val": np.float32, "double_list_val": np.float64,
                  "int64_list_val": np.int64}[kind]
            return np.array(vals, dtype=dt)
        out = np.empty(len(vals), dtype=object)
        out[:] = vals
        return out

    def to_pandas(self):
        """A pandas DataFrame of to_dict() (join-key columns first)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("to_pandas needs pandas (apt install python3-pandas)") from None
        return pd.DataFrame(self.to_dict())
