"""featd.errors — the typed exceptions of the Python client (DESIGN §13).

Every failure the client reports is a FeatdError (or a subclass) with
``.code`` (the server's ErrorCode name, e.g. "INVALID_ARGUMENT") and
``.message`` (what a person can act on). Client-side failures use the same
codes: a refused or lost connection is UNAVAILABLE, a call past its timeout is
DEADLINE_EXCEEDED, a response the client cannot decode is INTERNAL.
"""


class FeatdError(Exception):
    """Base class of every error the featd client raises."""

    code = "UNKNOWN"

    def __init__(self, message, code=None):
        if code is not None:
            self.code = code
        self.message = message
        super().__init__(message)

    def __str__(self):
        return "%s: %s" % (self.code, self.message)


class InvalidArgument(FeatdError):
    """Unknown view or feature, bad join key, unequal columns, too many rows."""
    code = "INVALID_ARGUMENT"


class Unavailable(FeatdError):
    """featd unreachable (refused, reset, closed) or its Redis is down."""
    code = "UNAVAILABLE"


class DeadlineExceeded(FeatdError):
    """The call's timeout expired, on the client or on the server."""
    code = "DEADLINE_EXCEEDED"


class ResourceExhausted(FeatdError):
    """A server limit was hit (frame size, connections, inflight requests)."""
    code = "RESOURCE_EXHAUSTED"


class Unauthenticated(FeatdError):
    """No valid token (DESIGN §14)."""
    code = "UNAUTHENTICATED"


class PermissionDenied(FeatdError):
    """The token may not read or write that view (DESIGN §14)."""
    code = "PERMISSION_DENIED"


class Internal(FeatdError):
    """An unexpected answer: from Redis on the server, or a bad frame here."""
    code = "INTERNAL"


class Unimplemented(FeatdError, NotImplementedError):
    """The call needs a server feature this protocol version does not have."""
    code = "UNIMPLEMENTED"


# featd.v1.ErrorCode numbers -> class. 6 and 7 are DESIGN §14's codes; an
# older proto (without them) still maps them, since enums arrive as ints.
_BY_NUMBER = {
    1: InvalidArgument,
    2: Unavailable,
    3: DeadlineExceeded,
    4: ResourceExhausted,
    5: Internal,
    6: Unauthenticated,
    7: PermissionDenied,
}


def from_server(code, message):
    """The exception for an Error{code, message} body (code: int)."""
    cls = _BY_NUMBER.get(code)
    if cls is None:
        return FeatdError(message, code="ERROR_%d" % code)
    return cls(message)
