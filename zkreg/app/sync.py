"""Syncing with a peer: its feeds pulled, ours pushed, then the evidence proof-gated scoring needs.

Nothing the peer sends is trusted: feeds go through the ledger's import rules (entries that do not verify stop
their author's feed and fail the sync, exit 4, after everything else was done), manifests are verified
(signature, canonical form, schema) and blocks re-hashed against the CIDs asked for before they are stored, and a
peer's evidence that fails our checks is refused and counted, never an error of the whole sync. What one sync
fetches is bounded (feed pages, manifests and proofs per author and per sync), so a hostile peer costs a few
requests, not an endless sync.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from zkreg.app.provider import evidence_sections
from zkreg.app.remote import copy_dag, fetch_manifest
from zkreg.errors import FeedsRejected, IntegrityError, NotFound, RemoteError, UsageError
from zkreg.peer.answers import Head
from zkreg.peer.client import DEFAULT_TIMEOUT_S, HttpFeedTransport, PeerClient
from zkreg.peer.store import PEER_DB, PeerStore
from zkreg.registry.car import car_stream
from zkreg.reputation.ledger import ImportReport, Ledger, Named, now_ms
from zkreg.reputation.sync import pull as pull_feeds

if TYPE_CHECKING:
    from zkreg.app.repo import Repo
    from zkreg.peer.store import Peer

PUSH_CHUNK_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class SyncRequest:
    url: str
    """The peer's `zkreg serve` URL."""
    timeout_s: float = DEFAULT_TIMEOUT_S
    """Per HTTP request."""


@dataclass
class SyncReport:
    url: str
    pulled: ImportReport
    pushed: dict[str, Any] = field(default_factory=dict)
    manifests: int = 0
    proofs: int = 0
    refused: int = 0
    """Manifests and proofs the peer answered with bytes that fail our checks: left unheld, so they count for
    nothing, and tried again on the next sync."""

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "pulled": self.pulled.to_json(),
            "pushed": self.pushed,
            "fetched": {"manifests": self.manifests, "proofs": self.proofs, "refused": self.refused},
        }


def _push_sections(ledger: Ledger, remote: dict[str, Head]) -> Iterator[tuple[str, bytes]]:
    for state in ledger.heads():
        theirs = remote.get(state.author)
        after = theirs.seq if theirs else 0
        if theirs and 0 < after <= state.seq and ledger.held_at(state.author, after) != theirs.head:
            after -= 1  # the peer holds another entry at its head: send ours, it will see the equivocation
        for _, cid, block in ledger.blocks(state.author, after):
            yield cid, block
        if state.forked and not (theirs and theirs.forked):
            yield from evidence_sections(ledger, state.author)


def push(repo: Repo, client: PeerClient) -> dict[str, Any]:
    """Send the peer every entry (and equivocation evidence) it lacks, in CAR chunks of at most 8 MiB."""
    ledger = repo.ledger
    remote = client.heads().by_author()
    totals = {"sent": 0, "accepted": 0, "duplicates": 0}
    chunk: list[tuple[str, bytes]] = []
    size = 0

    def flush() -> None:
        nonlocal chunk, size
        if chunk:
            report = client.push(b"".join(car_stream([], chunk)))
            totals["sent"] += len(chunk)
            totals["accepted"] += report.accepted
            totals["duplicates"] += report.duplicates
        chunk, size = [], 0

    for cid, block in _push_sections(ledger, remote):
        chunk.append((cid, block))
        size += len(block) + 40
        if size >= PUSH_CHUNK_BYTES:
            flush()
    flush()
    return totals


MAX_FETCHES_PER_AUTHOR = 32
"""Manifests named by one author's `use` entries, or proofs named by one author's receipts, that one sync fetches
at most: an author who names thousands of things nobody holds costs a few requests per sync, not one each."""
MAX_FETCHES_PER_SYNC = 512


def _bounded(rows: list[Named], held: Callable[[str], bool]) -> Iterator[str]:
    """The CIDs of `rows` (author, cid; newest first) not held here, at most `MAX_FETCHES_PER_AUTHOR` per author
    and `MAX_FETCHES_PER_SYNC` in all."""
    per_author: dict[str, int] = {}
    total = 0
    for row in rows:
        author, cid = row
        if total >= MAX_FETCHES_PER_SYNC:
            return
        if per_author.get(author, 0) >= MAX_FETCHES_PER_AUTHOR or held(cid):
            continue
        per_author[author] = per_author.get(author, 0) + 1
        total += 1
        yield cid


def fetch_evidence(repo: Repo, client: PeerClient) -> tuple[int, int, int]:
    """Manifests named by `use` entries and proof bundles named by receipts that this peer lacks, from the peer
    (whatever it does not have is skipped): what proof-gated scoring needs. (manifests, proofs) fetched.

    Only receipts that pair with a `use` can ever count, so only their proofs are fetched; newest first, and
    bounded per naming author and per sync (`MAX_FETCHES_PER_AUTHOR`): what is left is tried on the next sync.
    An answer that fails our checks is refused and counted (the third number), not an error of the whole sync:
    the feeds were applied, and a peer must not be able to fail every sync by serving bad evidence.
    """
    ledger, store = repo.ledger, repo.store
    manifests = proofs = refused = 0
    for cid in _bounded(ledger.used_manifests(), store.has):
        try:
            fetch_manifest(store, client, cid, files=False)
            manifests += 1
        except (NotFound, RemoteError):
            continue
        except IntegrityError:
            refused += 1
    for cid in _bounded(ledger.paired_receipt_proofs(), store.has):
        try:
            copy_dag(store, client, cid)
            proofs += 1
        except (NotFound, RemoteError):
            continue
        except IntegrityError:
            refused += 1
    return manifests, proofs, refused


def sync(repo: Repo, request: SyncRequest) -> SyncReport:
    """Pull the peer's feeds, push ours, then fetch the manifests and proofs scoring needs.

    Entries that do not verify stop their author's feed and make the sync fail (exit 4) after everything else
    was done, as a `ledger import` would.
    """
    ledger = repo.ledger
    with PeerClient(request.url, request.timeout_s) as client:
        rejected: FeedsRejected | None = None
        try:
            pulled = pull_feeds(ledger, HttpFeedTransport(client, ledger.held_at))
        except FeedsRejected as exc:
            rejected, pulled = exc, exc.report
        report = SyncReport(client.url, pulled, push(repo, client))
        report.manifests, report.proofs, report.refused = fetch_evidence(repo, client)
    if rejected is not None:
        raise rejected
    return report


def add_peer(repo: Repo, url: str) -> tuple[Peer, bool]:
    """Ask the peer who it is (`/healthz`) and remember it; (the peer, whether it was new or changed identity)."""
    with PeerClient(url) as client:
        did = client.health().did
        url = client.url
    store = PeerStore(repo.home / PEER_DB)
    try:
        added = store.add_peer(url, did, now_ms())
        return next(peer for peer in store.peers() if peer.url == url), added
    finally:
        store.close()


def added_peer_urls(repo: Repo) -> list[str]:
    """The URLs of every peer remembered with `add_peer`; `UsageError` if there are none."""
    store = PeerStore(repo.home / PEER_DB)
    try:
        urls = [peer.url for peer in store.peers()]
    finally:
        store.close()
    if not urls:
        raise UsageError("no URL given and no peers added", hint="zkreg peer add URL")
    return urls
