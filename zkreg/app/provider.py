"""The provider's side of `zkreg serve`: every check and workflow behind the HTTP routes.

Each call opens the data dir (`Repo`, under 1 ms) in the calling thread, because SQLite connections belong to
one thread and the HTTP server answers from a pool. A proof runs in that thread too, through the library
(`zkreg.app.proofs.prove` with a deadline): its heavy steps run in a child process group that is killed whole at
the time limit. What lives across calls is thread-safe: the proving gate, the per-key rate limiter and the set of public
blocks.

Public artefacts only (`PublicArtefacts` has the rule): private weights are never in a manifest's files, and
circuits and proving keys live outside the blockstore, so neither is ever reachable, even if their bytes were in
the store.
"""

from __future__ import annotations

import base64
import hashlib
import json
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zkreg.app.proofs import ProveRequest, prove, scores
from zkreg.app.repo import Repo
from zkreg.errors import (
    BlockNotFound,
    FeedNotFound,
    MalformedRequest,
    ManifestNotFound,
    ModelNotFound,
    RequestTooLarge,
    WrongAction,
    ZkregError,
)
from zkreg.peer.answers import Head
from zkreg.peer.envelope import SignedRequest, canonical_json, check_request
from zkreg.peer.limits import Limits, ProvingGate, RateLimiter
from zkreg.peer.store import PEER_DB, PeerStore
from zkreg.registry.car import car_stream
from zkreg.registry.cid import DAG_CBOR, DAG_PB, codec_of, looks_like_cid
from zkreg.registry.dag import walk
from zkreg.registry.unixfs import KUBO_V1_LEGACY
from zkreg.reputation.ledger import ImportReport, Ledger, now_ms
from zkreg.reputation.policy import Policy, decide_request, standing, unpaid_receipts
from zkreg.reputation.sync import read_car
from zkreg.zk.documents import ProofBundle
from zkreg.zk.runner import Deadline

if TYPE_CHECKING:
    from zkreg.registry.store import LocalStore

FEED_PAGE = 10_000
"""Entries per `GET /v1/feeds/{author}` page by default (the client pages until it reaches the head)."""
MAX_FEED_PAGE = 50_000


def evidence_sections(ledger: Ledger, author: str) -> list[tuple[str, bytes]]:
    """Both sides of every equivocation held against `author`: the entry in the feed and the conflicting one, so
    a receiver that holds either side learns of the other."""
    sections: list[tuple[str, bytes]] = []
    for record, block in zip(ledger.evidence(author), ledger.evidence_blocks(author), strict=True):
        held = ledger.held_block(record.author, record.seq)
        if held is not None:
            sections.append((record.held, held))
        sections.append((record.other, block))
    return sections


class PublicArtefacts:
    """The blocks this peer may serve. The rule, and nothing else:

    * a manifest block this peer holds (a signed, public document);
    * a block reachable from the `tree` of a manifest recorded in the index's refs: one this peer published, or
      imported from a CAR its user chose. A manifest fetched only as evidence (`sync`) does not open its tree,
      because its author chose that tree, and a tree naming a guessed CID would make this peer confirm it holds it;
    * a block of a proof bundle named by a receipt in this peer's own feed (one it proved), or of a bundle this
      peer verified as one (an `ok` verdict in `proof_verdicts`, see `zkreg.reputation.proofs`).

    A block that arrived any other way (a failed publish, unlinked blocks of a CAR, a receipt someone pushed) is
    never served. The set grows from rowid marks over the index's `blocks` and `refs`, the verdicts and this
    peer's receipts, so a miss costs four indexed queries; roots whose DAG is not all held yet are walked again
    only when new blocks arrived.
    """

    def __init__(self, own_did: str) -> None:
        self._own_did = own_did
        self._lock = threading.Lock()
        self._allowed: set[str] = set()
        self._incomplete: set[str] = set()
        """DAG roots (trees, proof bundles) with blocks not held yet: walked again once new blocks arrive."""
        self._block_rowid = 0
        self._ref_id = 0
        self._verdict_rowid = 0
        self._receipt_rowid = 0

    def allows(self, repo: Repo, cid: str) -> bool:
        if cid in self._allowed:
            return True
        with self._lock:
            self._refresh(repo)
            return cid in self._allowed

    def pending_roots(self) -> int:
        """How many roots wait for blocks (each one a tree of ours or a proof we made or verified)."""
        return len(self._incomplete)

    def _refresh(self, repo: Repo) -> None:
        index, ledger, store = repo.index, repo.ledger, repo.store
        blocks = index.blocks_after(self._block_rowid)
        for block in blocks:
            self._block_rowid = block.position
            if codec_of(block.cid) == DAG_CBOR and self._is_manifest(repo, block.cid):
                self._allowed.add(block.cid)
        roots = set(self._incomplete) if blocks else set()
        for ref in index.refs_after(self._ref_id):
            self._ref_id = ref.position
            try:
                roots.add(repo.manifest(ref.cid).tree)
            except ZkregError:
                continue  # a ref whose manifest is gone or damaged opens nothing
        for verified in ledger.verified_proofs_after(self._verdict_rowid):
            self._verdict_rowid = verified.position
            roots.add(verified.cid)
        for receipt in ledger.receipts_by(self._own_did, self._receipt_rowid):
            self._receipt_rowid = receipt.position
            roots.add(receipt.cid)
        for root in roots:
            found, complete = self._walk(store, root)
            self._allowed |= found
            if complete:
                self._incomplete.discard(root)
            else:
                self._incomplete.add(root)

    @staticmethod
    def _is_manifest(repo: Repo, cid: str) -> bool:
        try:
            repo.manifest(cid)
        except ZkregError:
            return False
        return True

    @staticmethod
    def _walk(store: LocalStore, root: str) -> tuple[set[str], bool]:
        """The held blocks of the DAG under `root`, and whether all of it is held."""
        missing: set[str] = set()
        found = walk(
            store.get_block,
            [root],
            held=store.has,
            follow=lambda cid: codec_of(cid) == DAG_PB,
            on_missing=missing.add,
            on_broken=lambda cid: None,  # a node that does not decode links to nothing we could serve
        )
        return set(found), not missing


class Provider:
    def __init__(self, home: Path, limits: Limits | None = None, policy: Policy | None = None) -> None:
        self.home = home
        self.limits = limits or Limits()
        self.policy = policy or Policy()
        self.gate = ProvingGate(self.limits.max_active, self.limits.max_queued, self.limits.queue_timeout_s)
        self.rate = RateLimiter(self.limits.rate_burst, self.limits.rate_per_s)
        with self.repo() as repo:
            self.did = repo.identity.did
        self.public = PublicArtefacts(self.did)

    @contextmanager
    def repo(self) -> Iterator[Repo]:
        repo = Repo.open(self.home)
        try:
            yield repo
        finally:
            repo.close()

    # ---- feeds -----------------------------------------------------------------------------------------------

    def heads(self) -> list[Head]:
        with self.repo() as repo:
            return [Head(s.author, s.seq, s.head, s.forked) for s in repo.ledger.heads()]

    def feed_car(self, author: str, after: int, limit: int | None = None) -> tuple[bytes, int]:
        """Entries of `author` with seq > `after` (at most `limit`), then the evidence held against it, as a CAR;
        and the seq of the last entry in it (the client's next `after`)."""
        with self.repo() as repo:
            ledger = repo.ledger
            state = ledger.state(author)
            if state.head is None:
                raise FeedNotFound(f"no feed of {author} here")
            rows = list(ledger.blocks(author, after, min(limit or FEED_PAGE, MAX_FEED_PAGE)))
            blocks = [(cid, block) for _, cid, block in rows]
            last = rows[-1][0] if rows else after
            blocks += evidence_sections(ledger, author)
            return b"".join(car_stream([state.head], blocks)), last

    def accept_feeds(self, car: bytes) -> ImportReport:
        """Import pushed entries: only valid extensions are applied (the ledger's rules, as for a file)."""
        if len(car) > self.limits.max_push_bytes:
            raise RequestTooLarge(f"pushed feeds of {len(car)} bytes exceed {self.limits.max_push_bytes}")
        with self.repo() as repo:
            return repo.ledger.import_blocks(read_car(car))

    # ---- public artefacts ------------------------------------------------------------------------------------

    def manifest(self, ref: str) -> tuple[str, bytes]:
        """(CID, block) of a held manifest, by CID, `name@version` or `name`."""
        with self.repo() as repo:
            cid = repo.resolve(ref)
            if codec_of(cid) != DAG_CBOR:
                raise ManifestNotFound(f"{cid} is not a manifest")
            repo.manifest(cid)
            return cid, repo.store.get_block(cid)

    def block(self, cid: str) -> bytes:
        with self.repo() as repo:
            if not looks_like_cid(cid) or not self.public.allows(repo, cid):
                raise BlockNotFound(f"block {cid} is not a public artefact of this peer")
            return repo.store.get_block(cid)

    # ---- signed requests -------------------------------------------------------------------------------------

    def deliver_receipt(self, document: Any) -> dict[str, Any]:
        """Sign a receipt for an artefact of ours the requester fetched and verified (`pull --remote`).

        The request is checked like a prove request (signature, freshness, rate, single use), and the manifest
        must be one this peer published without zk artefacts: a model's inferences are paid for with proofs.
        """
        request = check_request(document, now_ms())
        if request.action != "receipt":
            raise MalformedRequest("this endpoint takes receipt requests")
        self.rate.take(request.requester)
        with self.repo() as repo:
            store, ledger, identity = repo.store, repo.ledger, repo.identity
            self.use_nonce(request)
            manifest = repo.manifest(request.manifest) if store.has(request.manifest) else None
            if manifest is None or manifest.author != self.did:
                raise ManifestNotFound(f"{request.manifest} is not an artefact this peer published")
            if manifest.zk is not None:
                raise WrongAction(
                    f"{manifest.name}@{manifest.version} is a zk model: ask for a proof instead",
                )
            delivered = hashlib.sha256(manifest.tree.encode()).hexdigest()
            receipt = {"request": request.nonce, "consumer": request.requester, "proof": None, "output_hash": delivered}
            entry = ledger.append(identity, "receipt", receipt)
            return {"receipt": entry.cid, "request": request.nonce, "provider": self.did}

    def use_nonce(self, request: SignedRequest) -> None:
        store = PeerStore(self.home / PEER_DB)
        try:
            store.use_nonce(request.nonce, request.requester, request.ts, now_ms())
        finally:
            store.close()

    def prove(self, document: Any) -> dict[str, Any]:
        """Answer a signed prove request: checks, policy, a proof within the time limit, then the receipt.

        Order: shape, signature, freshness, the requester's rate, single use, a proving slot (or 503), the model
        (one of ours, with zk artefacts), the policy (or exit 5 naming the rule, with the numbers), the proof, the
        receipt. The slot is held from the policy check to the receipt, so with one slot a requester cannot
        overspend by racing requests; the newcomer budget is drawn in one transaction of the peer store whatever
        the slots, and given back if no proof comes of the draw. Nothing is recorded unless a proof was made.
        """
        request = check_request(document, now_ms())
        if request.action != "prove":
            raise MalformedRequest("this endpoint takes prove requests")
        self.rate.take(request.requester)
        self.use_nonce(request)
        with self.gate.slot(), self.repo() as repo:
            store, ledger, identity = repo.store, repo.ledger, repo.identity
            manifest = repo.manifest(request.manifest) if store.has(request.manifest) else None
            if manifest is None or manifest.author != self.did or manifest.zk is None:
                raise ModelNotFound(f"{request.manifest} is not a model this peer published with zk artefacts")
            unpaid = unpaid_receipts(ledger, self.did, request.requester)
            requester = standing(scores(repo), self.did, request.requester, unpaid)
            price = self.policy.default_price if manifest.price is None else manifest.price
            budget = PeerStore(self.home / PEER_DB)
            try:
                decision = decide_request(requester, price, self.policy, budget, now_ms())
                try:
                    proof, data = self._prove(repo, manifest.cid, request.input)
                    bundle = ProofBundle.from_bytes(data, what="the proof bundle this peer made")
                    receipt = {
                        "request": request.nonce,
                        "consumer": request.requester,
                        "proof": proof,
                        "output_hash": hashlib.sha256(canonical_json({"output": bundle.output})).hexdigest(),
                    }
                    entry = ledger.append(identity, "receipt", receipt)
                except BaseException:
                    if decision.draw is not None:
                        budget.release(decision.draw)
                    raise
            finally:
                budget.close()
            return {
                "proof": proof,
                "receipt": entry.cid,
                "bundle": base64.b64encode(data).decode(),
                "decision": decision.to_json(),
            }

    def _prove(self, repo: Repo, manifest: str, values: tuple[tuple[float, ...], ...]) -> tuple[str, bytes]:
        """A proof bundle of `manifest` on `values`, kept in the store: its CID and bytes. Proved through the
        library: its proving child (with anything it started) is killed at the time limit, so a runaway proof frees
        its slot; the library's own error otherwise."""
        work = self.home / "serve"
        work.mkdir(exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="prove-", dir=work) as folder:
            input_path, bundle_path = Path(folder) / "input.json", Path(folder) / "proof.json"
            input_path.write_text(json.dumps({"input_data": values}))
            prove(repo, ProveRequest(manifest, input_path, bundle_path, Deadline.after(self.limits.prove_timeout_s)))
            return repo.store.put_file(bundle_path, KUBO_V1_LEGACY).cid, bundle_path.read_bytes()
