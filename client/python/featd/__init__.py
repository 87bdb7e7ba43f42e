"""featd — Python client of featd, the online feature server (docs/python.md).

    import featd
    with featd.Client("127.0.0.1", 6566, timeout=1.0) as c:
        r = c.get_online_features(features=["customer_stats:revenue_30d"],
                                  entities={"customer_id": [1, 2, 3]})
        r.to_dict()

Client is blocking and thread-safe (a pool of connections); AsyncClient is
the asyncio flavour (pipelined on one connection). The wire format lives in
featd.wire; featd_pb2 is generated from proto/featd.proto by protoc.
"""

from .aio import AsyncClient
from .client import DEFAULT_PORT, Client
from .errors import (DeadlineExceeded, FeatdError, Internal, InvalidArgument, PermissionDenied,
                     ResourceExhausted, Unauthenticated, Unavailable, Unimplemented)
from .response import OnlineResponse
from .wire import PushResult

__version__ = "0.1.0"

__all__ = [
    "AsyncClient", "Client", "DEFAULT_PORT", "OnlineResponse", "PushResult",
    "FeatdError", "InvalidArgument", "Unavailable", "DeadlineExceeded", "ResourceExhausted",
    "Unauthenticated", "PermissionDenied", "Internal", "Unimplemented",
]
