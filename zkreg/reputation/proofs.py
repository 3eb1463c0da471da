"""Proof-gated credit: the `receipt_proof_ok` hook that `zkreg.app.proofs.scores` passes to `compute_scores`.

A bilateral pair (the consumer's `use`, the provider's `receipt` for the same request) counts only if:
  * the used manifest is known here (verified, signed); an unknown one cannot be judged, so it does not count;
  * for a model with zk artefacts: the receipt names a proof bundle, this peer holds it, it verifies against the
    manifest's vk, and it binds to the pair (its manifest is the used one, its prover the receipt's author);
  * for anything else (a dataset, public files delivered over `/v1/blocks` and checked by CID by the consumer):
    the receipt names no proof.
Verifying a proof costs far more than a lookup, so verdicts are cached by proof CID in the ledger database
(`Ledger.proof_verdict`); a proof that cannot be checked yet (bundle or artefacts not held) is not cached, so it counts
once they arrive (`zkreg sync` fetches them).

The bundle, the manifest's settings and the artefacts are foreign data, often from a hostile peer. This module
is the one place where a failure judging them becomes a verdict: whatever goes wrong (a bundle that is not JSON,
holds 1e999 or nests 100k deep, settings without the fields proofs need, a crash in the proof library) is cached
as "does not verify" with its reason, so it neither escapes into scoring (`rep show`, `/v1/prove`) nor is judged
again. Only a local fault (`OSError`: disk full, permissions) leaves the proof unjudged, to be tried again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from zkreg.errors import NotFound, ZkregError
from zkreg.reputation.ledger import CachedVerdict, Ledger
from zkreg.reputation.score import Receipt

if TYPE_CHECKING:
    from zkreg.zk.documents import ZkSection


@dataclass(frozen=True)
class BundleVerdict:
    """What a verified proof bundle binds to."""

    manifest: str
    prover: str


ZkSectionOf = Callable[[str], "ZkSection | None"]
"""manifest CID -> its zk section (None for none); raises `NotFound` if the manifest is not held."""
VerifyProof = Callable[[str], BundleVerdict]
"""proof CID -> what the bundle binds to; raises `NotFound` if not held (or its artefacts are not), anything
else if it does not verify."""


class ProofGatedCredit:
    def __init__(self, ledger: Ledger, zk_section_of: ZkSectionOf, verify_proof: VerifyProof) -> None:
        self._ledger = ledger
        self._zk_section_of = zk_section_of
        self._verify_proof = verify_proof

    def __call__(self, receipt: Receipt) -> bool:
        try:
            zk = self._zk_section_of(receipt.manifest)
        except ZkregError:  # not held (NotFound), or not a manifest we can read
            return False
        if zk is None:
            return receipt.proof is None
        if receipt.proof is None:
            return False
        verdict = self.verdict(receipt.proof)
        return (
            verdict is not None
            and verdict.ok
            and (verdict.manifest, verdict.prover)
            == (
                receipt.manifest,
                receipt.provider,
            )
        )

    def verdict(self, proof: str) -> CachedVerdict | None:
        """The proof's verdict, from the cache or by verifying it now; None if it cannot be checked yet."""
        cached = self._ledger.proof_verdict(proof)
        if cached is not None:
            return cached
        try:
            bound = self._verify_proof(proof)
            verdict = CachedVerdict(True, bound.manifest, bound.prover, None)
        except NotFound:
            return None
        except ZkregError as exc:
            verdict = CachedVerdict(False, None, None, f"{exc.code}: {exc.message}"[:2048])
        except OSError:
            return None
        except Exception as exc:  # foreign data must never break scoring: see the module docstring
            verdict = CachedVerdict(False, None, None, f"proof/unjudgeable: {type(exc).__name__}: {exc}"[:2048])
        if verdict.reason is not None:  # from foreign text: may hold what SQLite cannot store (a lone surrogate)
            verdict = CachedVerdict(False, None, None, verdict.reason.encode(errors="backslashreplace").decode())
        self._ledger.record_proof_verdict(proof, verdict)
        return verdict
