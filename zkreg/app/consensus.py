"""Consensus: what the verifiers this peer trusts say about a manifest, as one trust-weighted verdict
(`zkreg.reputation.consensus` holds the rules)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from zkreg.app.proofs import scores
from zkreg.app.repo import Repo
from zkreg.errors import InvalidInput
from zkreg.reputation.consensus import DEFAULT_THRESHOLD, Consensus, Vote, weigh
from zkreg.reputation.score import Scores


@dataclass(frozen=True)
class ConsensusRequest:
    ref: str
    """Manifest CID, `name@version` or `name` (latest)."""
    threshold: float = DEFAULT_THRESHOLD
    """The share of the weight a verdict needs; above 1/2, so no single attester decides alone."""


def consensus(repo: Repo, request: ConsensusRequest, reputation: Scores | None = None) -> Consensus:
    """The trust-weighted verdict of the attestations held for the manifest, seen from this peer's trust roots.
    `reputation` saves a caller that already computed the scores from computing them again."""
    if not 0.5 < request.threshold <= 1.0:
        raise InvalidInput(f"a consensus threshold must be above 0.5 and at most 1, not {request.threshold}")
    subject = repo.resolve(request.ref)
    held = repo.ledger.latest_attestations(subject)
    if not held:
        return weigh(subject, [], {}, [], request.threshold)
    reputation = reputation or scores(repo)
    votes = [
        Vote(item.author, item.verdict, item.details, item.cid, hashlib.sha256(item.block).hexdigest()) for item in held
    ]
    return weigh(subject, votes, reputation.trust, reputation.forked, request.threshold)
