"""A tiny HTTP proxy in front of the real node, to cause faults a healthy node never shows on its own.

It forwards every request to the node and can flip a byte of a response (a node that lies), pad a response with
megabytes (a node that sends too much), hold a response back (a node too slow to answer), or run a callback once
a given number of request bytes went through (to kill the node in the middle of an upload). With
`stream_answers`, answers are forwarded as they arrive (chunked), kept for the test to inspect, and a callback can
run once a given number of answer bytes went through (to kill the node in the middle of a download): the client
then sees the answer cut short, as from a node that died. Everything else is the real node's answer.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx


class FaultProxy:
    def __init__(self, upstream: str, *, stream_answers: bool = False) -> None:
        self.upstream = upstream.rstrip("/")
        self.stream_answers = stream_answers
        self.after_answer_bytes: tuple[int, Callable[[], None]] | None = None
        self.answers: list[tuple[str, bytes]] = []
        """(request path, answer bytes forwarded) of every request, with `stream_answers`."""
        self.flip_byte_in: str | None = None
        """Flip the middle byte of every response to requests whose path contains this text."""
        self.pad_response_in: str | None = None
        """Append 8 MiB to every response to requests whose path contains this text (a node sending too much)."""
        self.delay_s = 0.0
        self.after_upload_bytes: tuple[int, Callable[[], None]] | None = None
        self.flipped = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if stream_answers else "HTTP/1.0"  # chunked answers need 1.1

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
        if self.stream_answers:
            self._stream_answer(request, body(), headers)
            return
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

    def _stream_answer(self, request: BaseHTTPRequestHandler, body: Iterator[bytes], headers: dict[str, str]) -> None:
        """Forward the node's answer piece by piece as a chunked body; if the node dies (or is killed here) in the
        middle, hang up without the final chunk, so the client sees an incomplete answer."""
        forwarded = bytearray()
        with httpx.Client(timeout=120, trust_env=False) as client:
            try:
                with client.stream("POST", self.upstream + request.path, content=body, headers=headers) as answer:
                    request.send_response(answer.status_code)
                    request.send_header("Content-Type", answer.headers.get("Content-Type", "application/octet-stream"))
                    request.send_header("Transfer-Encoding", "chunked")
                    request.end_headers()
                    for piece in answer.iter_raw():
                        request.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                        forwarded += piece
                        trigger = self.after_answer_bytes
                        if trigger is not None and len(forwarded) >= trigger[0]:
                            self.after_answer_bytes = None
                            trigger[1]()
                request.wfile.write(b"0\r\n\r\n")
            except (httpx.HTTPError, OSError):
                request.close_connection = True
            finally:
                self.answers.append((request.path, bytes(forwarded)))
