"""Proofs and reputation: zk inference proofs (`prove`, `verify_proof`) and Proof of Reputation (`scores`),
credited only where proof-gated, from this peer's trust roots (`trust_peer`, `trust_roots`), and stakes for other
keys (`vouch_peer`)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

from zkreg.app.repo import Repo
from zkreg.errors import MalformedObject, ProofNotFound, SelfVouch
from zkreg.identity import public_key_from_did
from zkreg.progress import SILENT, Progress
from zkreg.reputation.entry import Entry
from zkreg.reputation.policy import vouch
from zkreg.reputation.proofs import BundleVerdict, ProofGatedCredit
from zkreg.reputation.score import ProofHook, Scores, compute_scores
from zkreg.zk.documents import MAX_BUNDLE_BYTES, ProofBundle, ZkSection, join_bounded
from zkreg.zk.runner import Deadline
from zkreg.zk.workflow import ProofVerdict, ProveResult, zk_section


@dataclass(frozen=True)
class ProveRequest:
    ref: str
    """Manifest CID, `name@version` or `name` (latest) of a zk-published model."""
    input_path: Path
    """JSON: a list of numbers or `{"input_data": ...}`."""
    out_path: Path
    """Where to write the proof bundle."""
    deadline: Deadline | None = None
    """Past it, the proving processes are killed and `ProveTimeout` is raised (the provider's `prove_timeout_s`)."""


@dataclass(frozen=True)
class VerifyProofRequest:
    bundle_path: Path


def prove(repo: Repo, request: ProveRequest, progress: Progress = SILENT) -> ProveResult:
    """Run the model on `input_path` and write a signed proof bundle to `out_path`; past `deadline`, the proving
    processes are killed and `ProveTimeout` is raised."""
    manifest = repo.manifest(repo.resolve(request.ref))
    return repo.zk_workspace().prove(
        manifest, repo.identity, request.input_path, request.out_path, progress, request.deadline
    )


def verify_proof(repo: Repo, request: VerifyProofRequest) -> ProofVerdict:
    """Check a proof bundle against the signed manifest it names; the output it proves, or `ProofInvalid`."""
    return repo.zk_workspace().verify_bundle(request.bundle_path, repo.manifest)


def trust_peer(repo: Repo, did: str) -> bool:
    """Make `did` a local trust root; False if it already was one."""
    return repo.ledger.add_trust_root(did)


@dataclass(frozen=True)
class VouchRequest:
    key: str
    """The did:key vouched for."""
    credits: int
    """Credits of this identity's balance staked for `key`; 0 withdraws the vouch."""


def vouch_peer(repo: Repo, request: VouchRequest) -> Entry:
    """Append this identity's signed `vouch` for `request.key` (replacing its earlier vouch for that key)."""
    public_key_from_did(request.key)
    if request.key == repo.identity.did:
        raise SelfVouch("an identity cannot vouch for itself", hint="vouch for the key of a member or partner")
    return vouch(repo.ledger, repo.identity, request.key, request.credits)


def trust_roots(repo: Repo) -> list[str]:
    """Own key plus every peer trusted with `trust_peer`."""
    return sorted({repo.identity.did, *repo.ledger.trust_roots()})


def scores(repo: Repo, receipt_proof_ok: ProofHook | None = None) -> Scores:
    """Proof of Reputation of every identity in the ledger, seen from this peer's trust roots.

    By default a use counts only if it is proof-gated (`zkreg.reputation.proofs`): the used manifest is held,
    and for a zk model the receipt's proof bundle is held and verifies."""

    def zk_section_of(cid: str) -> ZkSection | None:
        return zk_section(repo.manifest(cid))

    hook = receipt_proof_ok or ProofGatedCredit(repo.ledger, zk_section_of, partial(_verify_held_proof, repo))
    return compute_scores(repo.ledger, trust_roots(repo), hook)


def _verify_held_proof(repo: Repo, proof: str) -> BundleVerdict:
    """Verify a proof bundle held in the local store (by its CID); what it binds to. A bundle larger than
    `MAX_BUNDLE_BYTES` is refused after reading that much, before any parsing."""
    if not repo.store.has(proof):
        raise ProofNotFound(f"proof bundle {proof} is not held here")
    what = f"proof bundle {proof}"
    data = join_bounded(repo.store.iter_file(proof), what=what, max_bytes=MAX_BUNDLE_BYTES, error=MalformedObject)
    bundle = ProofBundle.from_bytes(data, what=what)
    verdict = repo.zk_workspace().judge_bundle(bundle, repo.manifest)
    return BundleVerdict(verdict.manifest.cid, verdict.prover)
