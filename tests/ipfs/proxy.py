"""A tiny HTTP proxy in front of the real node, to cause faults a healthy node never shows on its own.

It forwards every request to the node and can flip a byte of a response (a node that lies), pad a response with
megabytes (a node that sends too much), hold a response back (a node too slow to answer), or run a callback once
a given number of request bytes went through (to kill the node in the middle of an upload). Everything else is
the real node's answer.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.flip_byte_in: str | None = None
        """Flip the middle byte of every response to requests whose path contains this text."""
        self.pad_response_in: str | None = None
        """Append 8 MiB to every response to requests whose path contains this text (a node sending too much)."""
        self.delay_s = 0.0
        self.after_upload_bytes: tuple[int, Callable[[], None]] | None = None
        self.flipped = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                proxy._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def api(self) -> str:
        return f"/ip4/127.0.0.1/tcp/{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        forwarded = 0
        trigger = self.after_upload_bytes

        def body() -> Iterator[bytes]:
            nonlocal forwarded, trigger
            remaining = length
            while remaining:
                piece = request.rfile.read(min(65536, remaining))
                if not piece:
                    return
                remaining -= len(piece)
                forwarded += len(piece)
                yield piece
                if trigger is not None and forwarded >= trigger[0]:
                    trigger[1]()
                    trigger = None

        headers = {"Content-Type": request.headers.get("Content-Type", ""), "Content-Length": str(length)}
        try:
            with httpx.Client(timeout=120, trust_env=False) as client:
                answer = client.post(self.upstream + request.path, content=body(), headers=headers)
        except httpx.HTTPError:
            request.close_connection = True  # the node is gone: hang up without an answer, as the node did
            return
        data = answer.content
        if self.flip_byte_in and self.flip_byte_in in request.path and data:
            middle = len(data) // 2
            data = data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :]
            self.flipped += 1
        if self.pad_response_in and self.pad_response_in in request.path:
            data += bytes(8 * 1024 * 1024)
        if self.delay_s:
            time.sleep(self.delay_s)
        request.send_response(answer.status_code)
        request.send_header("Content-Type", answer.headers.get("Content-Type", "application/octet-stream"))
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        with contextlib.suppress(OSError):
            request.wfile.write(data)
