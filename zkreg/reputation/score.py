"""Proof of Reputation: trust by EigenTrust-style power iteration, and credit, debit and balance.

Graph: an edge i -> j for each interaction in which i vouches for j, weighted by
  * counted uses: i consumed j's artefact, and both i's `use` and j's `receipt` for the same request exist and
    `receipt_proof_ok(receipt)` holds (the ZK issue plugs a proof check into that hook; until then the bilateral
    pair is the condition), one per distinct request;
  * attestations: i's latest verdict on a manifest that j published is `ok`, one per manifest;
  * endorsements: i's latest `endorse` of j, its weight (0 withdraws it).
Each row is normalised; trust t = (1 - ALPHA) * C^T t + ALPHA * p, where p is uniform over the local trust roots
(own key and `zkreg peer trust KEY`); identities without out-edges give their mass back to p. So trust only flows
out of the roots: a ring of identities that only vouch for each other, with no edge from a trusted identity,
gets none. Forked identities (proven equivocators) are removed from the graph: trust 0, their votes ignored.

credit(j) = sum over counted uses of j's artefacts by others i of min(1, trust(i) * n) (n = identities), so a
consumer with at least average trust pays in full and a Sybil pays nothing; debit(i) = i's own counted uses.

Vouches move debt, never trust: a `vouch` of voucher v for key k stakes credits for k. What k consumed without
paying back (its own deficit, max(0, debit - credit)) is covered by its vouchers in DID order, each up to the most
it ever staked for k (lowering or withdrawing a vouch stops new service, not the liability for what was served);
the covered amount moves from k's balance to v's. One level only: a voucher's liability is not itself covered by
its own vouchers. balance = credit - debit + covered for it - covered by it. A vouch is not an edge of the trust
graph, so a ring of keys vouching for each other gains no trust, and a voucher's stake is only as good as its
balance (the policy decides whose vouch counts, `zkreg.reputation.policy`).

Everything is sorted before use: the same feeds and roots give the same floats.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from zkreg.reputation.ledger import Ledger, Stake

ALPHA = 0.15
"""Share of trust re-seeded from the roots each round (teleport), as in EigenTrust's pre-trusted peers."""
TOLERANCE = 1e-12
MAX_ROUNDS = 500


@dataclass(frozen=True)
class Receipt:
    """A provider's receipt that pairs with a consumer's use, as the proof hook sees it."""

    provider: str
    consumer: str
    request: str
    proof: str | None
    manifest: str


def bilateral_pair_exists(receipt: Receipt) -> bool:
    """The default proof hook: the join that produced `receipt` already required both signed sides."""
    return True


ProofHook = Callable[[Receipt], bool]


@dataclass(frozen=True)
class Input:
    """One input to a score, for `rep show`'s explanation."""

    identity: str
    kind: str
    amount: float

    def to_json(self) -> dict[str, Any]:
        return {"identity": self.identity, "kind": self.kind, "amount": self.amount}


@dataclass(frozen=True)
class StakeView:
    """One standing vouch and what it covers: `covered` of the key's deficit is charged to the voucher;
    `remaining` is what the key may still be served against (latest credits minus covered)."""

    voucher: str
    key: str
    credits: int
    liable: int
    covered: float

    @property
    def remaining(self) -> float:
        return max(0.0, self.credits - self.covered)

    def to_json(self) -> dict[str, Any]:
        return {
            "voucher": self.voucher,
            "key": self.key,
            "credits": self.credits,
            "liable": self.liable,
            "covered": self.covered,
            "remaining": self.remaining,
        }


@dataclass(frozen=True)
class Reputation:
    identity: str
    trust: float
    credit: float
    debit: float
    root: bool
    forked: dict[str, Any] | None
    trust_inputs: list[Input] = field(default_factory=list)
    credit_inputs: list[Input] = field(default_factory=list)
    debit_inputs: list[Input] = field(default_factory=list)
    vouches_received: list[StakeView] = field(default_factory=list)
    vouches_given: list[StakeView] = field(default_factory=list)

    @property
    def covered_for_it(self) -> float:
        """Its deficit that its vouchers cover."""
        return sum(stake.covered for stake in self.vouches_received)

    @property
    def covered_by_it(self) -> float:
        """The deficits of the keys it vouched for that it covers."""
        return sum(stake.covered for stake in self.vouches_given)

    @property
    def balance(self) -> float:
        return self.credit - self.debit + self.covered_for_it - self.covered_by_it

    def to_json(self) -> dict[str, Any]:
        return {
            "identity": self.identity,
            "trust": self.trust,
            "credit": self.credit,
            "debit": self.debit,
            "covered_for_it": self.covered_for_it,
            "covered_by_it": self.covered_by_it,
            "balance": self.balance,
            "root": self.root,
            "forked": self.forked or False,
            "vouches": {
                "received": [stake.to_json() for stake in self.vouches_received],
                "given": [stake.to_json() for stake in self.vouches_given],
            },
            "inputs": {
                "trust": [item.to_json() for item in self.trust_inputs],
                "credit": [item.to_json() for item in self.credit_inputs],
                "debit": [item.to_json() for item in self.debit_inputs],
            },
        }


@dataclass
class Scores:
    identities: list[str]
    trust: dict[str, float]
    credit: dict[str, float]
    debit: dict[str, float]
    roots: list[str]
    forked: dict[str, dict[str, Any]]
    edges: dict[tuple[str, str], float]
    """i -> j normalised local trust (row of C), after removing forked identities."""
    uses: dict[tuple[str, str], int]
    """(consumer, provider) -> counted uses."""
    stakes: list[StakeView] = field(default_factory=list)
    """Every vouch by an identity not proven to equivocate, by voucher then key."""

    def show(self, identity: str) -> Reputation:
        """`identity`'s scores with every input to them (`rep show --json`)."""
        trust = self.trust.get(identity, 0.0)
        trust_inputs = sorted(
            (
                Input(source, "vouch", (1 - ALPHA) * self.trust.get(source, 0.0) * weight)
                for (source, target), weight in self.edges.items()
                if target == identity
            ),
            key=lambda item: (-item.amount, item.identity),
        )
        if identity in self.roots:
            trust_inputs.insert(0, Input(identity, "root", ALPHA / len(self.roots)))
        scale = len(self.identities)
        credit_inputs = sorted(
            (
                Input(consumer, f"{count} counted use(s)", count * min(1.0, self.trust.get(consumer, 0.0) * scale))
                for (consumer, provider), count in self.uses.items()
                if provider == identity
            ),
            key=lambda item: (-item.amount, item.identity),
        )
        debit_inputs = [
            Input(provider, "counted use(s)", float(count))
            for (consumer, provider), count in sorted(self.uses.items())
            if consumer == identity
        ]
        return Reputation(
            identity=identity,
            trust=trust,
            credit=self.credit.get(identity, 0.0),
            debit=self.debit.get(identity, 0.0),
            root=identity in self.roots,
            forked=self.forked.get(identity),
            trust_inputs=trust_inputs,
            credit_inputs=credit_inputs,
            debit_inputs=debit_inputs,
            vouches_received=[stake for stake in self.stakes if stake.key == identity],
            vouches_given=[stake for stake in self.stakes if stake.voucher == identity],
        )

    def balance(self, identity: str) -> float:
        """`identity`'s balance, vouches included (what `show(identity).balance` says, without the inputs)."""
        covered = sum(
            stake.covered if stake.key == identity else -stake.covered
            for stake in self.stakes
            if identity in (stake.key, stake.voucher)
        )
        return self.credit.get(identity, 0.0) - self.debit.get(identity, 0.0) + covered

    def top(self, limit: int = 20) -> list[Reputation]:
        ranked = sorted(self.identities, key=lambda did: (-self.trust.get(did, 0.0), did))
        return [self.show(did) for did in ranked[:limit]]


def _counted_uses(ledger: Ledger, receipt_proof_ok: ProofHook) -> dict[tuple[str, str], int]:
    uses: dict[tuple[str, str], int] = defaultdict(int)
    for pair in ledger.paired_uses():
        receipt = Receipt(pair.provider, pair.consumer, pair.request, pair.proof, pair.manifest)
        if receipt_proof_ok(receipt):
            uses[(pair.consumer, pair.provider)] += 1
    return dict(uses)


def _vouches(ledger: Ledger) -> dict[tuple[str, str], float]:
    weights: dict[tuple[str, str], float] = defaultdict(float)
    for vouch in (*ledger.attest_vouches(), *ledger.endorsements()):
        weights[(vouch.source, vouch.target)] += vouch.weight
    return weights


def _cover(stakes: list[Stake], credit: dict[str, float], debit: dict[str, float]) -> list[StakeView]:
    """Charge each vouched key's deficit (debit - credit, if positive) to its vouchers in DID order, each up to
    the most it ever staked for the key."""
    views: list[StakeView] = []
    owed = {stake.key: max(0.0, debit.get(stake.key, 0.0) - credit.get(stake.key, 0.0)) for stake in stakes}
    for stake in sorted(stakes, key=lambda item: (item.key, item.voucher)):
        covered = min(float(stake.liable), owed[stake.key])
        owed[stake.key] -= covered
        views.append(StakeView(stake.voucher, stake.key, stake.credits, stake.liable, covered))
    return sorted(views, key=lambda view: (view.voucher, view.key))


def _forked(ledger: Ledger) -> dict[str, dict[str, Any]]:
    forked: dict[str, dict[str, Any]] = {}
    for record in ledger.evidence():
        info = forked.setdefault(
            record.author, {"reason": f"signed two different entries with seq {record.seq}", "evidence": []}
        )
        info["evidence"].append({"seq": record.seq, "cids": [record.held, record.other]})
    return forked


def compute_scores(ledger: Ledger, roots: list[str], receipt_proof_ok: ProofHook = bilateral_pair_exists) -> Scores:
    """Scores of every identity the ledger knows, seen from `roots`."""
    # Local: numpy and scipy take ~0.3 s to import, and only scoring needs them.
    import numpy as np
    import scipy.sparse

    forked = _forked(ledger)
    uses = _counted_uses(ledger, receipt_proof_ok)
    raw = _vouches(ledger)
    for pair, count in uses.items():
        raw[pair] = raw.get(pair, 0.0) + count
    identities = sorted({*ledger.authors(), *roots, *(did for pair in raw for did in pair)} - set(forked))
    seeds = sorted(set(roots) - set(forked))
    index = {did: position for position, did in enumerate(identities)}
    row_sums: dict[str, float] = defaultdict(float)
    kept = sorted((pair, weight) for pair, weight in raw.items() if weight > 0 and not set(pair) & set(forked))
    for (source, _), weight in kept:
        row_sums[source] += weight
    edges = {pair: weight / row_sums[pair[0]] for pair, weight in kept}

    size = len(identities)
    trust_vector = np.zeros(size)
    if size and seeds:
        sources = np.array([index[s] for s, _ in edges], dtype=np.int64)
        targets = np.array([index[t] for _, t in edges], dtype=np.int64)
        values = np.array(list(edges.values()), dtype=np.float64)
        transposed = scipy.sparse.csr_matrix((values, (targets, sources)), shape=(size, size))
        dangling = np.ones(size, dtype=bool)
        dangling[sources] = False
        seed = np.zeros(size)
        seed[[index[did] for did in seeds]] = 1.0 / len(seeds)
        trust_vector = seed.copy()
        for _ in range(MAX_ROUNDS):
            spread = transposed @ trust_vector + trust_vector[dangling].sum() * seed
            updated = (1 - ALPHA) * spread + ALPHA * seed
            converged = float(np.abs(updated - trust_vector).sum()) < TOLERANCE
            trust_vector = updated
            if converged:
                break
    trust = {did: float(trust_vector[index[did]]) for did in identities}
    for did in forked:
        trust[did] = 0.0

    credit: dict[str, float] = defaultdict(float)
    debit: dict[str, float] = defaultdict(float)
    for (consumer, provider), count in sorted(uses.items()):
        credit[provider] += count * min(1.0, trust.get(consumer, 0.0) * max(size, 1))
        debit[consumer] += count
    # A proven equivocator's vouches are void; a vouch *for* one still charges its voucher for what it consumed.
    stakes = [stake for stake in ledger.stakes() if stake.voucher not in forked]
    views = _cover(stakes, credit, debit)
    return Scores(identities, trust, dict(credit), dict(debit), seeds, forked, edges, uses, views)
