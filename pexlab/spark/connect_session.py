"""Full Spark Connect sessions for pexlab's server-side clones.

pexlab makes each user session a server-side clone of a private base session that holds the PEX
(`cloneSession`: the server copies the base's artifacts and conf, so the PEX goes up once per
server).  The client's `cloneSession` returns an object made with `object.__new__`: its
`__init__` never ran, so in pyspark-client 4.2 it lacks `release_session_on_close` and
`stop()` raises AttributeError, and whatever a later client sets in `__init__` may be missing
too.

So pexlab only borrows the clone RPC: it asks the server for the clone under a session id of its
own choosing, closes the half-made client object's channel (closing a channel does not release
the server-side session), and attaches a session made through the public constructor,
`SparkSession(connection="sc://host:port/;...;session_id=<id>")`, to the cloned server-side
session.  That object is exactly what `SparkSession.builder.remote(url).create()` makes, bound to
the clone: `stop()` releases the clone's server-side state (its copy of the artifacts, conf,
views) and never the base session, which keeps the PEX for the next clone.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
import uuid
import weakref
from typing import Any
from urllib.parse import urlparse

SESSION_ID_PARAM = "session_id"  # pyspark's ChannelBuilder.PARAM_SESSION_ID


def url_with_session_id(remote: str, session_id: str) -> str:
    """`remote` (sc://host:port[/;k=v...]) with its `session_id` parameter set to `session_id`;
    the other parameters (user_id, token, use_ssl, ...) are kept as they are."""
    parsed = urlparse(remote)
    head = f"sc://{parsed.netloc}"
    params = [p for p in parsed.path.lstrip("/").split(";") if p]
    params = [p for p in params if p.split("=", 1)[0] != SESSION_ID_PARAM]
    params.append(f"{SESSION_ID_PARAM}={session_id}")
    return head + "/;" + ";".join(params)


def attach(session_class: Any, remote: str, session_id: str) -> Any:
    """A fully initialised client session bound to the existing server-side `session_id`."""
    return session_class(connection=url_with_session_id(remote, session_id))


def clone_full(base: Any, remote: str, session_class: Any) -> Any:
    """A server-side clone of `base` (its artifacts and conf copied on the server), as a session
    made by the public constructor.  Raises what `cloneSession` raises when the client or the
    server cannot clone (the caller falls back to a plain new session)."""
    new_id = str(uuid.uuid4())
    half = base.cloneSession(new_id)  # the server makes the clone now
    # Only the channel: the server-side clone stays, and the half-made object (no
    # `release_session_on_close` in some clients) is never stopped.  A channel that cannot
    # close holds nothing on the server.
    with contextlib.suppress(Exception):
        half.client.close()
    try:
        return attach(session_class, remote, new_id)
    except Exception:
        release(session_class, remote, new_id)
        raise


def release(session_class: Any, remote: str, session_id: str) -> None:
    """Release the server-side session `session_id` (best effort)."""
    with contextlib.suppress(Exception):
        attach(session_class, remote, session_id).stop()


_PRIVATE: weakref.WeakSet[Any] = weakref.WeakSet()
_PRIVATE_LOCK = threading.Lock()


def close_at_exit(session: Any) -> None:
    """Close `session`'s channel when the kernel exits (its server-side state stays: clones
    made from it are independent).  A private session left for the interpreter's final garbage
    collection can hang the exit for good inside gRPC's channel close (seen with
    pyspark-client 4.2 once a user session was stopped); closed from an atexit handler, it
    closes at once."""
    with _PRIVATE_LOCK:
        if not _PRIVATE:
            atexit.register(_close_private)
        _PRIVATE.add(session)


def _close_private() -> None:
    with _PRIVATE_LOCK:
        sessions = list(_PRIVATE)
        _PRIVATE.clear()
    for session in sessions:
        with contextlib.suppress(Exception):  # closing is best effort at exit
            session.client.close()


__all__ = ["attach", "clone_full", "close_at_exit", "release", "url_with_session_id"]
