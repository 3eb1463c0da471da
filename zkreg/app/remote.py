"""Using a peer's artefacts: `pull --remote` and `prove --remote`, and fetching a peer's public artefacts.

Nothing a peer sends is trusted: blocks are re-hashed against the CIDs we asked for, manifests are verified
(signature, canonical form, schema) and stored only once their blocks are all here, and a proof bundle is verified
locally (it must hash to the CID the receipt names, verify against the manifest's vk, be signed by the model's
author and prove exactly our input) before a `use` is recorded or a file written. A peer that fails mid-way
leaves no `use` here.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zkreg.app.proofs import VerifyProofRequest, verify_proof
from zkreg.app.pull import PullRequest, pull
from zkreg.errors import BadCircuitSettings, CidMismatch, InvalidInput, NotFound, ProofInputMismatch, ProofInvalid
from zkreg.fsutil import atomic_write
from zkreg.peer.client import PeerClient
from zkreg.peer.envelope import sign_request
from zkreg.registry.cid import DAG_CBOR, DAG_PB, codec_of, looks_like_cid
from zkreg.registry.dag import walk
from zkreg.registry.manifest import decode_and_verify
from zkreg.registry.unixfs import KUBO_V1_LEGACY, file_cid
from zkreg.reputation.ledger import now_ms
from zkreg.zk.documents import MAX_SETTINGS_BYTES, CircuitSettings, join_bounded
from zkreg.zk.inputs import load_input
from zkreg.zk.workflow import zk_section

if TYPE_CHECKING:
    from zkreg.app.pull import PullResult
    from zkreg.app.repo import Repo
    from zkreg.registry.manifest import Manifest
    from zkreg.registry.store import LocalStore


@dataclass(frozen=True)
class RemotePullRequest:
    url: str
    """The `zkreg serve` URL of the peer that published `ref`."""
    ref: str
    out_dir: Path | None = None
    """Target folder; default: ./NAME (as `zkreg.app.pull`)."""
    force: bool = False
    """Replace files that already exist in the target."""


@dataclass(frozen=True)
class RemoteProveRequest:
    url: str
    """The `zkreg serve` URL of the peer that published the model `ref`."""
    ref: str
    input_path: Path
    out_path: Path
    timeout_s: float = 900.0
    """Per HTTP request: the proof is made while the peer answers."""


def copy_dag(store: LocalStore, client: PeerClient, root: str) -> int:
    """Copy every block under `root` from the peer into the local store (each checked against its CID); the number
    of blocks fetched. Blocks already held are not fetched again."""
    fetched: list[str] = []

    def held_or_fetched(cid: str) -> bool:
        if not store.has(cid):
            store.put_block(cid, client.block(cid))
            fetched.append(cid)
        return True

    for _ in walk(store.get_block, [root], held=held_or_fetched, follow=lambda cid: codec_of(cid) == DAG_PB):
        pass  # the walk fetches as it goes
    store.flush_index()
    return len(fetched)


def fetch_manifest(store: LocalStore, client: PeerClient, ref: str, *, files: bool) -> Manifest:
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
        copy_dag(store, client, manifest.tree)
    elif manifest.zk is not None:
        for key in ("settings", "vk", "srs"):
            copy_dag(store, client, str(manifest.zk[key]))
    if not store.has(cid):
        store.put_block(cid, answer.block)
        store.flush_index()
    return manifest


@dataclass(frozen=True)
class RemotePull:
    result: PullResult
    receipt: str
    """The CID of the provider's receipt entry for this use."""


def pull_remote(repo: Repo, request: RemotePullRequest) -> RemotePull:
    """Fetch an artefact from the peer that published it, verify every block, write its files, record `use` and
    get the provider's signed receipt for the same request (a bilateral, countable use). `force` replaces existing
    files (see `zkreg.app.pull`)."""
    store, identity = repo.store, repo.identity
    with PeerClient(request.url) as client:
        manifest = fetch_manifest(store, client, request.ref, files=True)
        signed = sign_request(identity, "receipt", manifest.cid, [], now_ms())
        result = pull(repo, PullRequest(manifest.cid, request.out_dir, request_id=signed.nonce, force=request.force))
        answer = client.receipt(signed.document)
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


def prove_remote(repo: Repo, request: RemoteProveRequest) -> RemoteProof:
    """Ask the peer that published a zk model for a proof of its output on `request.input_path`.

    The request is signed (nonce, timestamp); the bundle that comes back must hash to the CID the receipt names,
    verify locally against the manifest's vk (fetched and checked by CID), be signed by the model's author and
    prove exactly our input. Only then is it written to `request.out_path`, kept in the store (so others can check
    the receipt) and the `use` recorded. A peer that fails or is killed mid-request records nothing here (exit 6).
    """
    store, ledger, identity, home = repo.store, repo.ledger, repo.identity, repo.home
    with PeerClient(request.url, request.timeout_s) as client:
        manifest = fetch_manifest(store, client, request.ref, files=False)
        zk = zk_section(manifest)
        if zk is None:
            raise InvalidInput(f"{manifest.name}@{manifest.version} has no zk artefacts to prove with")
        what = f"circuit settings {zk.settings}"
        data = join_bounded(
            store.iter_file(zk.settings), what=what, max_bytes=MAX_SETTINGS_BYTES, error=BadCircuitSettings
        )
        settings = CircuitSettings.from_bytes(data, what=what)
        values = load_input(request.input_path, settings.input_shapes)
        signed = sign_request(identity, "prove", manifest.cid, values, now_ms())
        answer = client.prove(signed.document)
    data = answer.bundle
    work = home / "serve"
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
        store.put_file(staged, KUBO_V1_LEGACY)
        use = {"manifest": manifest.cid, "provider": manifest.author, "request": signed.nonce}
        entry = ledger.append(identity, "use", use)
        request.out_path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(request.out_path, data)
    finally:
        staged.unlink(missing_ok=True)
    return RemoteProof(
        request.out_path, answer.proof, answer.receipt, entry.cid, verdict.output, answer.decision.to_json()
    )
