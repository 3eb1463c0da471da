"""The error tree: every stable code is one class in zkreg/errors.py, its exit code and HTTP status pinned (scripts
depend on them), a peer's code read back through the registry, and httpx failures mapped in one place (real
sockets on 127.0.0.1)."""

from __future__ import annotations

import gzip
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

import zkreg.errors as errors
from zkreg.errors import (
    BackendUnavailable,
    FeedRejected,
    IpfsMalformedAnswer,
    MalformedAnswer,
    PeerTimeout,
    PeerUnreachable,
    ProvingKeyNotFound,
    RemoteError,
    ReportedError,
    ZkregError,
    error_classes,
    exit_code_for_status,
    rebuild_error,
)
from zkreg.peer.client import PeerClient
from zkreg.serve.app import error_response
from zkreg.transport import IpfsApi, PeerApi, map_transport_errors

ROOT = Path(__file__).resolve().parent.parent


def test_codes_keep_their_exit_code_and_http_status() -> None:
    """tests/error_codes.tsv was generated from the code strings and status tables before errors became classes."""
    pinned = [line.split("\t") for line in (ROOT / "tests" / "error_codes.tsv").read_text().splitlines()[1:]]
    table = {code: (cls.exit_code, cls.http_status) for code, cls in error_classes().items()}
    assert table == {code: (int(exit_code), int(status)) for code, exit_code, status in pinned}


def test_every_code_is_a_class_of_errors_py_with_a_docstring() -> None:
    for code, cls in error_classes().items():
        assert cls.__module__ == "zkreg.errors", code
        assert cls.__dict__.get("__doc__"), f"{cls.__name__} says when it happens"


def test_no_code_strings_at_raise_sites() -> None:
    sources = {path: path.read_text() for path in (ROOT / "zkreg").rglob("*.py") if path.name != "errors.py"}
    assert [path for path, text in sources.items() if re.search(r'\bcode="|\.code ==|\.code =[^=]', text)] == []


def test_a_code_is_declared_once() -> None:
    with pytest.raises(TypeError, match="declared twice"):

        class Twin(errors.NotFound):
            code = "not-found/ref"

    assert error_classes()["not-found/ref"] is errors.RefNotFound


def test_serve_status_is_the_class_attribute() -> None:
    for cls in error_classes().values():
        if cls.__init__ is ZkregError.__init__:
            response = error_response(cls("m"))
            assert (response.status_code, cls.exit_code) == (cls.http_status, cls.exit_code)


def test_feed_error_details_are_in_its_json() -> None:
    body = FeedRejected("did:key:z6Mk", 7, "bad").to_json()["error"]
    assert body == {
        "code": "feed/invalid",
        "message": "feed did:key:z6Mk entry 7: bad",
        "author": "did:key:z6Mk",
        "seq": 7,
    }


def test_a_peer_cannot_choose_the_exit_code_of_a_code_we_know() -> None:
    known = RemoteError("not-found/ref", "peer x: no", exit_code=6, fields={"extra": 1})
    assert (known.code, known.exit_code) == ("not-found/ref", 3)
    assert known.to_json() == {"error": {"code": "not-found/ref", "message": "peer x: no", "extra": 1, "exit_code": 3}}
    unknown = RemoteError("their/own", "peer x: no", exit_code=5)
    assert (unknown.code, unknown.exit_code) == ("their/own", 5)


def test_exit_code_for_an_http_status_comes_from_the_classes() -> None:
    assert [exit_code_for_status(status) for status in (404, 408, 422, 429, 500, 504)] == [3, 6, 4, 5, 6, 6]


def test_rebuild_error_gives_back_the_class() -> None:
    assert type(rebuild_error("not-found/proving-key", "m", hint=None, exit_code=3)) is ProvingKeyNotFound
    custom = rebuild_error("policy/throttled", "m", hint="h", exit_code=5)  # takes more than a message: kept as data
    assert type(custom) is ReportedError
    assert (custom.code, custom.exit_code, custom.hint) == ("policy/throttled", 5, "h")


# ---- map_transport_errors, over real sockets --------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A listening socket that never answers (the kernel completes the handshake; nothing reads)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


class _BadGzip(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = gzip.compress(b'{"ok": true}')[:-12] + b"not gzip at all"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        del args


@pytest.fixture
def bad_gzip_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _BadGzip)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _get(url: str, target: PeerApi | IpfsApi, timeout: float = 5.0) -> None:
    with map_transport_errors(target, "GET /"), httpx.Client(timeout=timeout) as client:
        client.get(url).read()


def test_connection_refused_is_unreachable() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(PeerUnreachable) as peer:
        _get(url, PeerApi(url))
    assert (peer.value.code, peer.value.exit_code) == ("peer/unreachable", 6)
    with pytest.raises(BackendUnavailable) as node:
        _get(url, IpfsApi(url, hint="start it"))
    assert (type(node.value), node.value.hint) == (BackendUnavailable, "start it")


def test_a_silent_server_is_a_timeout(silent_url: str) -> None:
    with pytest.raises(PeerTimeout) as caught:
        _get(silent_url, PeerApi(silent_url), timeout=0.3)
    assert caught.value.code == "peer/timeout"


def test_a_body_that_does_not_decode_is_a_malformed_answer(bad_gzip_url: str) -> None:
    with pytest.raises(MalformedAnswer, match="does not decode"):
        PeerClient(bad_gzip_url).health()
    with pytest.raises(IpfsMalformedAnswer):
        _get(bad_gzip_url, IpfsApi(bad_gzip_url, hint=""))


def test_an_invalid_url_is_a_usage_error() -> None:
    with pytest.raises(errors.BadUrl) as caught:
        PeerClient("http://[::1")
    assert (caught.value.code, caught.value.exit_code) == ("usage/bad-url", 2)
