"""TCP checks shared by the session layer (is the master there?) and the local clusters."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port nothing listens on at 127.0.0.1 right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def unreachable(host: str, port: int | str, timeout: float = 3.0) -> str | None:
    """Why nothing accepts a TCP connection at host:port (None when something does).

    Asked before a Spark client is started: Spark's own clients retry for a minute or more
    before they report a dead address."""
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return None
    except (OSError, ValueError) as exc:
        return str(getattr(exc, "strerror", None) or exc)
