"""The requester's transport: talking to another peer's `zkreg serve` over HTTP (httpx). The workflows over it
(sync, pull and prove from a peer) are `zkreg.app.sync` and `zkreg.app.remote`.

Nothing a peer sends is trusted: every answer is read against a size cap and parsed once into a typed object
(`zkreg.peer.answers`), and a block is re-hashed against the CID we asked for before it is returned. A peer
that cannot be reached, times out or drops the connection is a `BackendUnavailable` (exit 6); an answer that
fails our checks is a `MalformedAnswer` (exit 4); an error the peer reports is a `RemoteError` that keeps the
peer's code, with our exit code for a code we know (else the peer's, if one of ours).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx

from zkreg import transport
from zkreg.errors import MalformedAnswer, RemoteError, exit_code_for_status
from zkreg.peer.answers import (
    MAX_ERROR_BYTES,
    MAX_FEED_PAGE_BYTES,
    MAX_JSON_ANSWER_BYTES,
    MAX_PROVE_ANSWER_BYTES,
    ErrorAnswer,
    FeedHeads,
    Head,
    Health,
    ManifestAnswer,
    ProveAnswer,
    PushReport,
    ReceiptAnswer,
    last_seq,
)
from zkreg.registry.car import MAX_BLOCK_BYTES
from zkreg.registry.cid import check_block
from zkreg.reputation.sync import read_car

DEFAULT_TIMEOUT_S = 30.0
CAR_TYPE = "application/vnd.ipld.car"
LAST_SEQ_HEADER = "x-zkreg-last-seq"


def _read_capped(response: httpx.Response, cap: int) -> bytes | None:
    """The body, or None as soon as it is known to exceed `cap` bytes (declared or decoded), unread beyond that."""
    declared = response.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and (len(declared) > 19 or int(declared) > cap):
        return None
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class PeerClient:
    def __init__(self, url: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.url = url.rstrip("/")
        self._target = transport.PeerApi(self.url)
        with transport.map_transport_errors(self._target):
            self._http = httpx.Client(base_url=self.url, timeout=httpx.Timeout(timeout_s, connect=10.0))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PeerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(
        self, method: str, path: str, max_bytes: int = MAX_JSON_ANSWER_BYTES, **kwargs: Any
    ) -> tuple[httpx.Response, bytes]:
        """The response and its body (at most `max_bytes`); an error answer is raised as a `RemoteError`."""
        with (
            transport.map_transport_errors(self._target, f"{method} {path}"),
            self._http.stream(method, path, **kwargs) as response,
        ):
            body = _read_capped(response, max_bytes if response.is_success else MAX_ERROR_BYTES)
        if response.is_success:
            if body is None:
                raise MalformedAnswer(f"{self._what(method, path)} is over {max_bytes} bytes")
            return response, body
        error = None if body is None else ErrorAnswer.from_bytes(body)
        status_exit = exit_code_for_status(response.status_code)
        if error is None:
            message = f"peer {self.url}: {response.status_code} {response.reason_phrase}"
            raise RemoteError("peer/error", message, exit_code=status_exit)
        message = f"peer {self.url}: {error.message}"
        exit_code = error.exit_code or status_exit
        raise RemoteError(error.code, message, exit_code=exit_code, hint=error.hint, fields=dict(error.extra))

    def _what(self, method: str, path: str) -> str:
        return f"peer {self.url}'s answer to {method} {path}"

    def health(self) -> Health:
        return Health.from_bytes(self._call("GET", "/healthz")[1], self._what("GET", "/healthz"))

    def heads(self) -> FeedHeads:
        path = "/v1/feeds/heads"
        return FeedHeads.from_bytes(self._call("GET", path)[1], self._what("GET", path))

    def feed(self, author: str, after: int) -> tuple[bytes, int]:
        """A page of `author`'s feed after seq `after`, as a CAR, and the seq of its last entry."""
        path = f"/v1/feeds/{author}"
        response, body = self._call("GET", path, MAX_FEED_PAGE_BYTES, params={"after": after})
        return body, last_seq(response.headers.get(LAST_SEQ_HEADER), after, self._what("GET", path))

    def push(self, car: bytes) -> PushReport:
        _, body = self._call("POST", "/v1/feeds", content=car, headers={"content-type": CAR_TYPE})
        return PushReport.from_bytes(body, self._what("POST", "/v1/feeds"))

    def manifest(self, ref: str) -> ManifestAnswer:
        path = f"/v1/manifests/{ref}"
        return ManifestAnswer.from_bytes(self._call("GET", path)[1], self._what("GET", path))

    def block(self, cid: str) -> bytes:
        data = self._call("GET", f"/v1/blocks/{cid}", MAX_BLOCK_BYTES)[1]
        check_block(cid, data)
        return data

    def prove(self, document: dict[str, Any]) -> ProveAnswer:
        _, body = self._call("POST", "/v1/prove", MAX_PROVE_ANSWER_BYTES, json=document)
        return ProveAnswer.from_bytes(body, self._what("POST", "/v1/prove"))

    def receipt(self, document: dict[str, Any]) -> ReceiptAnswer:
        _, body = self._call("POST", "/v1/receipts", json=document)
        return ReceiptAnswer.from_bytes(body, self._what("POST", "/v1/receipts"))


HeldAt = Callable[[str, int], "str | None"]
"""(author, seq) -> the CID of the entry held locally there, if any."""


MAX_FEED_PAGES_PER_SYNC = 1_000
"""Feed pages one sync fetches at most (10M entries at the server's 10,000 a page): a peer that claims a long feed
and hands it out an entry a page (or replays one entry with a growing last-seq header) cannot keep a sync going
without end; what is left is fetched by the next sync."""


def feeds_wanted(heads: Iterable[Head], known: dict[str, int], held_at: HeldAt) -> list[tuple[str, int, int]]:
    """(author, after, head seq) of each feed to fetch from a peer with these heads, given what we hold.

    A feed whose head the peer holds at a seq we also hold is fetched from there only if the entries differ (so
    two peers told different stories by an equivocating author both find out): `held_at` answers that. A feed the
    peer holds further is fetched from our last entry on, not after it: had the author told us a different story,
    its next entry would not link to ours and the import would refuse it, the fork unseen (one entry more a feed).
    """
    wanted: list[tuple[str, int, int]] = []
    for head in heads:
        author, seq = head.author, head.seq
        after = known.get(author, 0)
        if seq <= after:
            if not head.forked and held_at(author, seq) == head.head:
                continue
            after = seq - 1
        elif after:
            after -= 1  # overlap the last entry we hold: if the peer's differs there, the import finds the fork
        wanted.append((author, after, seq))
    return wanted


class HttpFeedTransport:
    """`FeedTransport` over `GET /v1/feeds`: the feeds the peer holds beyond `known` (`feeds_wanted`), page by page
    (at most `MAX_FEED_PAGES_PER_SYNC` pages)."""

    def __init__(self, client: PeerClient, held_at: HeldAt) -> None:
        self.client = client
        self.held_at = held_at

    def blocks(self, known: dict[str, int]) -> Iterator[bytes]:
        """Pages are fetched one ahead in a background thread, so the network overlaps the ledger's import."""
        wanted = feeds_wanted(self.client.heads().heads, known, self.held_at)
        with ThreadPoolExecutor(max_workers=1) as fetcher:

            def fetch(author: str, after: int) -> Future[tuple[bytes, int]]:
                return fetcher.submit(self.client.feed, author, after)

            queue = [(author, after, seq, fetch(author, after)) for author, after, seq in wanted[:1]]
            index = 1
            pages = 0
            while queue and pages < MAX_FEED_PAGES_PER_SYNC:
                author, after, seq, pending = queue.pop(0)
                car, last = pending.result()
                pages += 1
                if after < last < seq:  # more of this feed: the next page starts after this one's last entry
                    queue.append((author, last, seq, fetch(author, last)))
                elif index < len(wanted):
                    next_author, next_after, next_seq = wanted[index]
                    queue.append((next_author, next_after, next_seq, fetch(next_author, next_after)))
                    index += 1
                yield from read_car(car)
