"""The requester's side: talking to another peer's `zkreg serve` over HTTP (httpx).

Nothing a peer sends is trusted: every answer is read against a size cap and parsed once into a typed object
(`zkreg.peer.answers`), blocks are re-hashed against the CIDs we asked for, manifests are verified (signature,
canonical form, schema), feeds go through the ledger's import rules, proof bundles are verified locally before a
`use` is recorded. A peer that cannot be reached, times out or drops the connection is a `BackendUnavailable`
(exit 6); an answer that fails our checks is a `MalformedAnswer` (exit 4); an error the peer reports is a
`RemoteError` that keeps the peer's code, with our exit code for a code we know (else the peer's, if one of ours).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from zkreg import transport
from zkreg.app.proofs import VerifyProofRequest, verify_proof
from zkreg.app.pull import PullRequest, pull
from zkreg.errors import (
    BadCircuitSettings,
    CidMismatch,
    FeedsRejected,
    IntegrityError,
    InvalidInput,
    MalformedAnswer,
    NotFound,
    ProofInputMismatch,
    ProofInvalid,
    RemoteError,
    UsageError,
    exit_code_for_status,
)
from zkreg.fsutil import atomic_write
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
from zkreg.peer.envelope import sign_request
from zkreg.peer.provider import evidence_sections
from zkreg.peer.store import PEER_DB, PeerStore
from zkreg.registry.car import MAX_BLOCK_BYTES, car_stream
from zkreg.registry.cid import DAG_CBOR, DAG_PB, check_block, codec_of, looks_like_cid
from zkreg.registry.dag import walk
from zkreg.registry.manifest import decode_and_verify
from zkreg.registry.unixfs import file_cid
from zkreg.reputation.ledger import ImportReport, Named, now_ms
from zkreg.reputation.sync import pull as pull_feeds
from zkreg.reputation.sync import read_car
from zkreg.zk.documents import MAX_SETTINGS_BYTES, CircuitSettings, join_bounded
from zkreg.zk.inputs import load_input
from zkreg.zk.workflow import zk_section

if TYPE_CHECKING:
    from zkreg.app.pull import PullResult
    from zkreg.app.repo import Repo
    from zkreg.peer.store import Peer
    from zkreg.registry.manifest import Manifest

DEFAULT_TIMEOUT_S = 30.0
PUSH_CHUNK_BYTES = 8 * 1024 * 1024
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


class HttpFeedTransport:
    """`FeedTransport` over `GET /v1/feeds`: the feeds the peer holds beyond `known`, page by page (at most
    `MAX_FEED_PAGES_PER_SYNC` pages).

    A feed whose head the peer holds at a seq we also hold is fetched from there only if the entries differ (so
    two peers told different stories by an equivocating author both find out): `held_at` answers that.
    """

    def __init__(self, client: PeerClient, held_at: HeldAt) -> None:
        self.client = client
        self.held_at = held_at

    def blocks(self, known: dict[str, int]) -> Iterator[bytes]:
        """Pages are fetched one ahead in a background thread, so the network overlaps the ledger's import."""
        wanted: list[tuple[str, int, int]] = []
        for head in self.client.heads().heads:
            author, seq = head.author, head.seq
            after = known.get(author, 0)
            if seq <= after:
                if not head.forked and self.held_at(author, seq) == head.head:
                    continue
                after = seq - 1
            wanted.append((author, after, seq))
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


# ---- fetching public artefacts ---------------------------------------------------------------------------------


def copy_dag(repo: Repo, client: PeerClient, root: str) -> int:
    """Copy every block under `root` from the peer into the local store (each checked against its CID); the number
    of blocks fetched. Blocks already held are not fetched again."""
    fetched: list[str] = []

    def held_or_fetched(cid: str) -> bool:
        if not repo.store.has(cid):
            repo.store.put_block(cid, client.block(cid))
            fetched.append(cid)
        return True

    for _ in walk(repo.store.get_block, [root], held=held_or_fetched, follow=lambda cid: codec_of(cid) == DAG_PB):
        pass  # the walk fetches as it goes
    repo.store.flush_index()
    return len(fetched)


def fetch_manifest(repo: Repo, client: PeerClient, ref: str, *, files: bool) -> Manifest:
    """A manifest from the peer, verified and stored; with `files`, every published file too; otherwise only the
    zk artefacts (settings, vk, SRS) a proof against it is verified with. The manifest is stored last, once its
    blocks are all here: a peer that fails mid-way leaves no manifest that names missing blocks."""
    answer = client.manifest(ref)
    cid = answer.cid
    if looks_like_cid(ref) and cid != ref:
        raise CidMismatch(f"peer {client.url} answered {ref} with another manifest, {cid}")
    if codec_of(cid) != DAG_CBOR:
        raise NotFound(f"peer {client.url} answered {ref} with {cid}, which is not a manifest")
    manifest = decode_and_verify(cid, answer.block)
    if files:
        copy_dag(repo, client, manifest.tree)
    elif manifest.zk is not None:
        for key in ("settings", "vk", "srs"):
            copy_dag(repo, client, str(manifest.zk[key]))
    if not repo.store.has(cid):
        repo.store.put_block(cid, answer.block)
        repo.store.flush_index()
    return manifest


# ---- sync ------------------------------------------------------------------------------------------------------


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


def _push_sections(repo: Repo, remote: dict[str, Head]) -> Iterator[tuple[str, bytes]]:
    ledger = repo.ledger
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

    for cid, block in _push_sections(repo, remote):
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
    manifests = proofs = refused = 0
    for cid in _bounded(repo.ledger.used_manifests(), repo.store.has):
        try:
            fetch_manifest(repo, client, cid, files=False)
            manifests += 1
        except (NotFound, RemoteError):
            continue
        except IntegrityError:
            refused += 1
    for cid in _bounded(repo.ledger.paired_receipt_proofs(), repo.store.has):
        try:
            copy_dag(repo, client, cid)
            proofs += 1
        except (NotFound, RemoteError):
            continue
        except IntegrityError:
            refused += 1
    return manifests, proofs, refused


def sync(repo: Repo, url: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> SyncReport:
    """Pull the peer's feeds, push ours, then fetch the manifests and proofs scoring needs.

    Entries that do not verify stop their author's feed and make the sync fail (exit 4) after everything else
    was done, as a `ledger import` would.
    """
    with PeerClient(url, timeout_s) as client:
        rejected: FeedsRejected | None = None
        try:
            ledger = repo.ledger
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


# ---- using a peer's artefacts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RemotePull:
    result: PullResult
    receipt: str
    """The CID of the provider's receipt entry for this use."""


def pull_remote(repo: Repo, url: str, ref: str, out_dir: Path | None = None, *, force: bool = False) -> RemotePull:
    """Fetch an artefact from the peer that published it, verify every block, write its files, record `use` and
    get the provider's signed receipt for the same request (a bilateral, countable use). `force` replaces existing
    files (see `zkreg.app.pull`)."""
    with PeerClient(url) as client:
        manifest = fetch_manifest(repo, client, ref, files=True)
        request = sign_request(repo.identity, "receipt", manifest.cid, [], now_ms())
        result = pull(repo, PullRequest(manifest.cid, out_dir, request_id=request.nonce, force=force))
        answer = client.receipt(request.document)
    return RemotePull(result, answer.receipt)


@dataclass(frozen=True)
class RemoteProof:
    path: Path
    proof: str
    """The bundle's CID, which the provider's receipt names."""
    receipt: str
    use: str
    output: list[list[float]]
    decision: dict[str, Any]


def prove_remote(
    repo: Repo, url: str, ref: str, input_path: Path, out_path: Path, timeout_s: float = 900.0
) -> RemoteProof:
    """Ask the peer that published a zk model for a proof of its output on `input_path`.

    The request is signed (nonce, timestamp); the bundle that comes back must hash to the CID the receipt names,
    verify locally against the manifest's vk (fetched and checked by CID), be signed by the model's author and
    prove exactly our input. Only then is it written to `out_path`, kept in the store (so others can check the
    receipt) and the `use` recorded. A peer that fails or is killed mid-request records nothing here (exit 6).
    """
    with PeerClient(url, timeout_s) as client:
        manifest = fetch_manifest(repo, client, ref, files=False)
        zk = zk_section(manifest)
        if zk is None:
            raise InvalidInput(f"{manifest.name}@{manifest.version} has no zk artefacts to prove with")
        what = f"circuit settings {zk.settings}"
        data = join_bounded(
            repo.store.iter_file(zk.settings), what=what, max_bytes=MAX_SETTINGS_BYTES, error=BadCircuitSettings
        )
        settings = CircuitSettings.from_bytes(data, what=what)
        values = load_input(input_path, settings.input_shapes)
        request = sign_request(repo.identity, "prove", manifest.cid, values, now_ms())
        answer = client.prove(request.document)
    data = answer.bundle
    work = repo.home / "serve"
    work.mkdir(exist_ok=True)
    staged = work / f"received-{secrets.token_hex(8)}.json"
    staged.write_bytes(data)
    try:
        if file_cid(staged) != answer.proof:
            raise ProofInvalid("the bundle received is not the one the provider's receipt names")
        verdict = verify_proof(repo, VerifyProofRequest(staged))
        if verdict.manifest.cid != manifest.cid or verdict.prover != manifest.author:
            raise ProofInvalid("the bundle proves another model, or was not made by the model's author")
        if verdict.input != values:
            raise ProofInputMismatch("the bundle proves another input than the one we sent")
        repo.store.put_file(staged)
        use = {"manifest": manifest.cid, "provider": manifest.author, "request": request.nonce}
        entry = repo.ledger.append(repo.identity, "use", use)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(out_path, data)
    finally:
        staged.unlink(missing_ok=True)
    return RemoteProof(out_path, answer.proof, answer.receipt, entry.cid, verdict.output, answer.decision.to_json())
