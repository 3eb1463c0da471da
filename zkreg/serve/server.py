"""Running the app: uvicorn on a socket bound here, so `--port 0` can report the port it got."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from zkreg.peer.provider import Provider
from zkreg.serve.app import create_app

if TYPE_CHECKING:
    import uvicorn


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)  # connections made before uvicorn is up wait in the backlog instead of being refused
    return sock


def make_server(provider: Provider) -> uvicorn.Server:
    """A uvicorn server for `provider`; `.run(sockets=[sock])` serves until `.should_exit` is set."""
    import uvicorn

    config = uvicorn.Config(
        create_app(provider),
        log_level="warning",
        timeout_keep_alive=5,
        # uvicorn's own bound on connections in flight; the proving gate is the finer one behind it.
        limit_concurrency=64,
    )
    return uvicorn.Server(config)
