"""Running the app: uvicorn on a socket bound here, so `--port 0` can report the port it got.

uvicorn times out idle keep-alive connections, but not a client that sends its headers a byte at a time: every
byte restarts the keep-alive timer, and the first request of a connection has no timer at all. `GuardedH11Protocol`
(uvicorn's h11 protocol with two additions) closes a connection whose request head is not complete within
`Limits.header_timeout_s`, and closes at once any connection beyond `Limits.max_connections_per_client` from one
address. Bodies have their own time limit (`zkreg.serve.app.read_body`).
"""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from zkreg.app.provider import Provider
from zkreg.peer.limits import Limits
from zkreg.serve.app import create_app


class GuardedH11Protocol(H11Protocol):
    """One connection; `limits` and `open_by_address` are set per server by `make_server`."""

    limits: Limits
    open_by_address: Counter[str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._address: str | None = None
        self._head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        address = self.client[0] if self.client else "unknown"
        if self.open_by_address[address] >= self.limits.max_connections_per_client:
            transport.close()
            return
        self._address = address
        self.open_by_address[address] += 1
        self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        if self._address is not None:
            self.open_by_address[self._address] -= 1
            if self.open_by_address[self._address] <= 0:
                del self.open_by_address[self._address]
            self._address = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._head_deadline is not None and self.cycle is not None and not self._waiting_for_head():
            self._cancel_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._await_head()  # the next request's head has the same time limit

    def _waiting_for_head(self) -> bool:
        return self.conn.their_state is h11.IDLE

    def _await_head(self) -> None:
        self._cancel_deadline()
        self._head_deadline = self.loop.call_later(self.limits.header_timeout_s, self._head_timed_out)

    def _cancel_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        if self._waiting_for_head() and not self.transport.is_closing():
            self.transport.close()


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)  # connections made before uvicorn is up wait in the backlog instead of being refused
    return sock


def make_server(provider: Provider) -> uvicorn.Server:
    """A uvicorn server for `provider`; `.run(sockets=[sock])` serves until `.should_exit` is set."""
    protocol = type(
        "GuardedH11Protocol",
        (GuardedH11Protocol,),
        {"limits": provider.limits, "open_by_address": Counter()},
    )
    config = uvicorn.Config(
        create_app(provider),
        log_level="warning",
        http=protocol,
        timeout_keep_alive=5,
        # uvicorn's own bound on connections in flight; the proving gate is the finer one behind it.
        limit_concurrency=64,
    )
    return uvicorn.Server(config)
