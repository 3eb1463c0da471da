"""Swarm consensus: one trust-weighted verdict per manifest from the attestations this peer holds. Pure: the
attestations and the trust scores in, the verdict out.

The rules, in order:
  * one vote per attester: its latest `attest` entry for the subject (the ledger picks it by seq), so a later
    verdict replaces an earlier one;
  * an attester proven to have forked its feed is dropped (not listed, no vote), as scoring drops it;
  * an attester's weight is its Proof of Reputation trust seen from this peer's roots, so an identity nobody
    trusted vouched for (a Sybil) weighs 0 however many of them there are;
  * no attester weighs more than all the others together: each weight is clipped to the sum of the others'
    weights. Only the heaviest can exceed that, and clipped it holds exactly half, so with a threshold above 1/2
    a single attester never reaches a verdict alone, however much trust it has (a lone attester weighs 0). Below
    the heaviest, the weights keep their order and ratios.
  * `ok_share` and `fail_share` are the shares of the clipped weight; the verdict is `ok` or `fail` when its share
    reaches the threshold (2/3 by default), else `none` (no attester with weight, or no side has enough).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_THRESHOLD = 2 / 3
"""A two-thirds supermajority of the weight: more than the half the clipping leaves any single attester."""


@dataclass(frozen=True)
class Vote:
    """One attester's latest verdict on a subject, as held in this peer's ledger."""

    identity: str
    verdict: str
    details: str
    entry: str
    """The CID of the `attest` entry."""
    entry_sha256: str
    """The sha256 of the entry's exact block (an in-toto digest of the input attestation)."""


@dataclass(frozen=True)
class WeighedVote:
    vote: Vote
    trust: float
    """The attester's Proof of Reputation trust."""
    weight: float
    """Its trust clipped to the others' total: the weight its vote has."""

    def to_json(self) -> dict[str, Any]:
        return {
            "identity": self.vote.identity,
            "verdict": self.vote.verdict,
            "weight": self.weight,
            "details": self.vote.details,
        }


@dataclass(frozen=True)
class Consensus:
    subject: str
    verdict: str
    ok_share: float
    fail_share: float
    attesters: tuple[WeighedVote, ...]
    threshold: float

    @property
    def trusted(self) -> tuple[WeighedVote, ...]:
        """The attesters with trust (a lone one among them weighs nothing after clipping, but is trusted)."""
        return tuple(item for item in self.attesters if item.trust > 0)

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "verdict": self.verdict,
            "ok_share": self.ok_share,
            "fail_share": self.fail_share,
            "attesters": [item.to_json() for item in self.attesters],
            "threshold": self.threshold,
        }

    def line(self) -> str:
        """One line for humans: `show REF` prints it."""
        return (
            f"consensus {self.verdict}: ok {self.ok_share:.2f}, fail {self.fail_share:.2f} of the weight of "
            f"{len(self.trusted)} trusted attester(s) ({len(self.attesters)} held; threshold {self.threshold:.2f})"
        )


def weigh(
    subject: str,
    votes: Iterable[Vote],
    trust: Mapping[str, float],
    forked: Iterable[str],
    threshold: float = DEFAULT_THRESHOLD,
) -> Consensus:
    """The consensus on `subject` of `votes` (one per attester), weighted by `trust`, without `forked` attesters."""
    dropped = set(forked)
    kept = sorted((vote for vote in votes if vote.identity not in dropped), key=lambda vote: vote.identity)
    raw = {vote.identity: max(trust.get(vote.identity, 0.0), 0.0) for vote in kept}
    total = sum(raw.values())
    weighed = tuple(
        WeighedVote(vote, raw[vote.identity], min(raw[vote.identity], total - raw[vote.identity])) for vote in kept
    )
    clipped_total = sum(item.weight for item in weighed)
    if clipped_total <= 0:
        return Consensus(subject, "none", 0.0, 0.0, weighed, threshold)
    ok_share = sum(item.weight for item in weighed if item.vote.verdict == "ok") / clipped_total
    fail_share = sum(item.weight for item in weighed if item.vote.verdict == "fail") / clipped_total
    verdict = "ok" if ok_share >= threshold else "fail" if fail_share >= threshold else "none"
    return Consensus(subject, verdict, ok_share, fail_share, weighed, threshold)
