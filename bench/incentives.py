"""A network simulation of zkreg's incentives: who gets served when peers cheat, and how fast gossip catches them.

Every peer is real but for one part: its own SQLite ledger on disk (`Ledger`), Ed25519 identities signing every
entry, the real scores (`compute_scores`) and the real policy (`standing`, `decide_request`, a
`MemoryNewcomerBudget` per provider, on a simulated clock), and feeds moved between random neighbours through a
`FeedTransport` that chooses feeds as `HttpFeedTransport` does (`feeds_wanted`) and moves them as `zkreg serve`
does (a CAR per feed page with the evidence, read back with `read_car`). The stand-in is the proof: no ezkl run, a
proof is a CID the simulation marks good or bad, and the proof hook given to `compute_scores` counts a receipt only
if its proof is marked good (a cheating provider's are not). The output says so.

Behaviours (when the adversary share is > 0, one peer holds the Sybil ring and one is the equivocator; the other
adversaries cycle through freeloader, whitewasher, a colluding pair, lazy and cheating providers):
  honest       publishes a model, serves whoever the policy lets through, asks one proof a round and pays for it
               (its `use` entry), trusts its own key and a few well-known honest peers (`peer trust`)
  freeloader   asks one proof a round, never publishes, never writes the `use` (withholds payment)
  whitewasher  as a freeloader, and after each refusal comes back under a fresh key
  colluder     pairs trading proofs with each other every round (real receipts and uses), asking honest peers for
               one proof a round too; they serve nobody else
  lazy         advertises a model, accepts requests and never delivers; asks and pays like an honest peer
  cheating     advertises a model, delivers proofs that do not verify; asks and pays like an honest peer
  sybil ring   one peer holding RING keys that endorse, vouch for, use and receipt each other; RING_USERS of them
               ask honest providers for a proof each round
  equivocator  an honest-looking contributor that signs two different first entries and shows each to half the
               honest peers; it pulls nothing (it would learn of its own fork and stop appending)
A consumer that gets nothing (refused, no delivery, a bad proof) tries another provider, up to TRIES a round, and
avoids for good a provider that failed to deliver or delivered a bad proof (what a client would remember).

Rounds are synchronous: every peer serves the round's requests, then pulls from FANOUT random peers what they held
at the start of the round. Providers score requesters from their own ledger once a round: a round's requests only
add the provider's own receipts, which pair with nothing until the consumer's `use` arrives by gossip, so the
scores would not change within the round.

Figures: each behaviour's success rate as a share of honest contributors'; honest contributors' success rate; the
trust share the Sybil ring captures (largest over honest peers' views); rounds until every honest peer has zeroed
the equivocator; the largest difference between two honest peers' trust vectors (same roots) after k gossip-only
rounds, and for pairs holding identical feeds; run time and peak memory.

  python bench/incentives.py [--peers 100] [--rounds 50] [--adversaries 0.3] [--mixes 0,0.1,...] [--ring 1000]
                             [--newcomer-budget 10] [--seed 7] [--where /dev/shm] [--save FILE] [--json]
                             [--plot docs/incentives.png]
  python bench/incentives.py --replot FILE... [--scarce FILE] --plot docs/incentives.png
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import resource
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import nacl.signing

from zkreg.app.provider import evidence_sections
from zkreg.errors import FeedsRejected, Refused
from zkreg.identity import Identity
from zkreg.peer.answers import Head
from zkreg.peer.client import feeds_wanted
from zkreg.registry.car import car_stream
from zkreg.registry.cid import DAG_CBOR, compute
from zkreg.reputation.entry import sign_entry
from zkreg.reputation.ledger import Ledger, now_ms
from zkreg.reputation.policy import (
    RULE_NEWCOMER,
    MemoryNewcomerBudget,
    Policy,
    decide_request,
    standing,
    unpaid_receipts,
)
from zkreg.reputation.score import Receipt, Scores, compute_scores
from zkreg.reputation.sync import pull, read_car
from zkreg.reputation.verify import FeedState

ADVERSARIES = ("freeloader", "whitewasher", "colluder", "lazy", "cheating")
BEHAVIOURS = ("honest", *ADVERSARIES, "sybil ring", "equivocator")
SERVED, BY_BUDGET = "served", "served by the newcomer budget"
STAND_IN = "proofs are simulated: a proof is a CID marked good or bad, the hook counts only good ones"


@dataclass(frozen=True)
class Config:
    peers: int = 100
    rounds: int = 50
    adversaries: float = 0.3
    seed: int = 7
    fanout: int = 3
    """Neighbours each peer pulls from per round."""
    ring: int = 1000
    """Keys of the Sybil ring."""
    ring_users: int = 10
    """Ring keys asking honest providers for a proof each round."""
    tries: int = 3
    """Providers a consumer tries per round before it gives up."""
    bootstrap_roots: int = 3
    """Well-known honest peers every honest peer trusts besides its own key."""
    quiet_rounds: int = 4
    """Gossip-only rounds at the end, to measure how honest views converge."""
    round_s: float = 600.0
    """Simulated seconds per round: the clock of the providers' newcomer budgets (a 1 h window is 6 rounds)."""
    policy: Policy = field(default_factory=Policy)


@dataclass
class Peer:
    index: int
    role: str
    identity: Identity
    ledger: Ledger
    model: str | None = None
    avoid: set[int] = field(default_factory=set)
    key: Identity | None = None
    """The key a whitewasher currently asks under (its identity's feed stays empty)."""

    @property
    def did(self) -> str:
        return self.identity.did


@dataclass
class Snapshot:
    """What a peer offers its neighbours this round: its heads at the start of the round."""

    heads: list[FeedState]


class NeighbourFeeds:
    """A `FeedTransport` to another peer in this process: `HttpFeedTransport` without the HTTP hop. The same choice
    of feeds (`feeds_wanted`), then each page as `zkreg serve` sends it (a CAR of the entries and the evidence held
    against the author), read back with `read_car`."""

    def __init__(self, neighbour: Ledger, snapshot: Snapshot, held_at: Callable[[str, int], str | None]) -> None:
        self.neighbour = neighbour
        self.snapshot = snapshot
        self.held_at = held_at

    def blocks(self, known: dict[str, int]) -> Iterator[bytes]:
        heads = {state.author: state for state in self.snapshot.heads if state.head is not None}
        offered = [Head(state.author, state.seq, state.head, state.forked) for state in heads.values()]
        for author, after, seq in feeds_wanted(offered, known, self.held_at):
            head = heads[author]
            sections = [(cid, block) for _, cid, block in self.neighbour.blocks(author, after, seq - after)]
            if head.forked:
                sections += evidence_sections(self.neighbour, author)
            yield from read_car(b"".join(car_stream([str(head.head)], sections)))


def held_at(ledger: Ledger) -> Callable[[str, int], str | None]:
    """`Ledger.held_at` answering from our heads when asked about our last entry of a feed, which is what a sync
    asks about every feed the neighbour holds no further than we do: one query per sync instead of one per feed."""
    heads = {state.author: (state.seq, state.head) for state in ledger.heads()}

    def answer(author: str, seq: int) -> str | None:
        held = heads.get(author)
        return held[1] if held is not None and held[0] == seq else ledger.held_at(author, seq)

    return answer


def key(seed: int, *parts: object) -> Identity:
    material = "|".join(map(str, (seed, *parts))).encode()
    return Identity(nacl.signing.SigningKey(hashlib.sha256(material).digest()))


def cid_of(*parts: object) -> str:
    return compute(DAG_CBOR, "|".join(map(str, parts)).encode())


@dataclass
class Tally:
    asked: int = 0
    served: int = 0
    by_budget: int = 0
    """Of `served`, the requests the providers' newcomer budgets paid for."""

    @property
    def rate(self) -> float:
        return self.served / self.asked if self.asked else 0.0

    @property
    def beyond_budget(self) -> float:
        return (self.served - self.by_budget) / self.asked if self.asked else 0.0


@dataclass
class Result:
    config: dict[str, Any]
    stand_in: str
    success: dict[str, float]
    """Behaviour -> share of its requests served (a request: up to `tries` providers in one round)."""
    share_of_honest: dict[str, float]
    late_share_of_honest: dict[str, float]
    """The same over the second half of the run, once free allowances are spent."""
    beyond_budget_share: dict[str, float]
    """Behaviour -> its requests served other than by a newcomer budget, as a share of honest contributors'
    success rate (the issue's measure for freeloaders and whitewashers)."""
    budget_served: dict[str, float]
    """Behaviour -> share of its requests the newcomer budgets served."""
    honest_success: float
    ring_trust_share: float
    equivocator_zeroed_after: int | None
    """Rounds after the fork until every honest peer held the evidence (and gave it trust 0); None: never."""
    disagreement: dict[int, float]
    """k -> largest |trust_a - trust_b| over honest peers a, b (same roots), after k gossip-only rounds."""
    identical_feeds_disagreement: float | None
    """The same for pairs whose ledgers hold identical heads (None: no such pair)."""
    per_round_honest: list[float]
    honest_balance_mean: float
    """Honest contributors' mean balance in honest providers' views at the end (credit minus debit)."""
    honest_short: float
    """Share of (honest provider, honest contributor) pairs where the contributor's own standing no longer pays for
    a proof (balance + free quota < price): such requests fall back on the newcomer budget."""
    seconds: float
    scoring_seconds: float
    gossip_seconds: float
    peak_rss_mib: float


class Simulation:
    def __init__(self, config: Config, workdir: Path) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.workdir = workdir
        self.good_proofs: set[str] = set()
        self.tally: dict[str, Tally] = defaultdict(Tally)
        self.late: dict[str, Tally] = defaultdict(Tally)
        self.round_honest: list[Tally] = []
        self.scoring_seconds = 0.0
        self.gossip_seconds = 0.0
        self.requests = 0
        self.peers = self._make_peers()
        self.budgets = {p.index: MemoryNewcomerBudget() for p in self.peers}
        self.honest = [p for p in self.peers if p.role == "honest"]
        self.bootstrap = [p.did for p in self.honest[: config.bootstrap_roots]]
        self.ring_keys: list[Identity] = []
        self.ring_dids: set[str] = set()
        self.ring_peer = next((p for p in self.peers if p.role == "sybil ring"), None)
        self.equivocator = next((p for p in self.peers if p.role == "equivocator"), None)
        self.ring_trust_share = 0.0
        self.zeroed_after: int | None = None
        self._setup()

    # ---- setup -----------------------------------------------------------------------------------------------

    def _roles(self) -> list[str]:
        config = self.config
        bad = round(config.peers * config.adversaries)
        roles: list[str] = []
        if bad:
            roles += ["sybil ring", "equivocator"]
            cycle = ("freeloader", "whitewasher", "colluder", "colluder", "lazy", "cheating")  # colluders in pairs
            roles += [cycle[n % len(cycle)] for n in range(bad - 2)]
            if roles.count("colluder") % 2:
                roles[roles.index("colluder")] = "freeloader"
        roles += ["honest"] * (config.peers - len(roles))
        self.rng.shuffle(roles)
        return roles

    def _make_peers(self) -> list[Peer]:
        peers = []
        for index, role in enumerate(self._roles()):
            ledger = Ledger(self.workdir / f"peer-{index:03d}" / "ledger.db")
            peers.append(Peer(index, role, key(self.config.seed, "peer", index), ledger))
        return peers

    def _setup(self) -> None:
        for peer in self.peers:
            if peer.role in ("honest", "lazy", "cheating", "colluder"):
                peer.model = cid_of("model", peer.did)
                peer.ledger.append(peer.identity, "publish", {"manifest": peer.model})
            if peer.role == "honest":
                for did in self.bootstrap:
                    if did != peer.did:
                        peer.ledger.add_trust_root(did)
            if peer.role == "whitewasher":
                peer.key = key(self.config.seed, "whitewash", peer.index, 0)
        if self.ring_peer is not None:
            self._setup_ring(self.ring_peer)
        if self.equivocator is not None:
            self._setup_equivocator(self.equivocator)

    def _setup_ring(self, holder: Peer) -> None:
        """RING keys, each publishing a model, endorsing the next three and using the next one's model (with the
        receipt and a good proof), all in the holder's ledger (which gossips them like any feed)."""
        count = self.config.ring
        self.ring_keys = [key(self.config.seed, "ring", n) for n in range(count)]
        dids = [k.did for k in self.ring_keys]
        self.ring_dids = set(dids)
        models = [cid_of("ring-model", did) for did in dids]
        items: list[list[tuple[str, dict[str, Any]]]] = [[("publish", {"manifest": model})] for model in models]
        for n in range(count):
            for step in (1, 2, 3):
                items[n].append(("endorse", {"peer": dids[(n + step) % count], "weight": 10}))
                items[n].append(("vouch", {"peer": dids[(n + step) % count], "credits": 1000}))
            provider = (n + 1) % count
            request = f"ring-{n}"
            proof = cid_of("proof", request, "good")
            self.good_proofs.add(proof)
            items[n].append(("use", {"manifest": models[provider], "provider": dids[provider], "request": request}))
            receipt = {"request": request, "consumer": dids[n], "proof": proof, "output_hash": "00" * 32}
            items[provider].append(("receipt", receipt))
        blocks = []
        for identity, feed in zip(self.ring_keys, items, strict=True):
            previous = None
            for type_, body in feed:
                previous = sign_entry(
                    identity,
                    seq=previous.seq + 1 if previous else 1,
                    prev=previous.cid if previous else None,
                    ts=now_ms(),
                    type_=type_,
                    body=body,
                )
                blocks.append(previous.block)
        holder.ledger.import_blocks(blocks)

    def _setup_equivocator(self, peer: Peer) -> None:
        """Two different first entries: one in its own ledger and half the honest peers', the other in the rest."""
        peer.model = cid_of("model", peer.did)
        shown = peer.ledger.append(peer.identity, "publish", {"manifest": peer.model})
        other = sign_entry(
            peer.identity,
            seq=1,
            prev=None,
            ts=shown.ts + 1,
            type_="publish",
            body={"manifest": cid_of("other-model", peer.did)},
        )
        for position, honest in enumerate(self.honest):
            honest.ledger.import_blocks([shown.block if position % 2 else other.block])

    # ---- a round ---------------------------------------------------------------------------------------------

    def clock_ms(self, number: int) -> int:
        """Simulated time at round `number`, for the newcomer budgets' sliding windows."""
        return round(number * self.config.round_s * 1000)

    def hook(self, receipt: Receipt) -> bool:
        return receipt.proof in self.good_proofs

    def providers(self) -> list[Peer]:
        return [p for p in self.peers if p.role in ("honest", "lazy", "cheating", "equivocator")]

    def scores(self, peer: Peer, roots: list[str]) -> Scores:
        start = time.perf_counter()
        result = compute_scores(peer.ledger, roots, self.hook)
        self.scoring_seconds += time.perf_counter() - start
        return result

    def roots(self, peer: Peer) -> list[str]:
        return sorted({peer.did, *peer.ledger.trust_roots()})

    def run_round(self, number: int) -> None:
        views = {p.index: self.scores(p, self.roots(p)) for p in self.peers if p.role in ("honest", "equivocator")}
        for honest in self.honest:
            view = views[honest.index]
            share = sum(view.trust.get(did, 0.0) for did in self.ring_dids)
            self.ring_trust_share = max(self.ring_trust_share, share)
        round_honest = Tally()
        askers: list[tuple[Peer, Identity]] = []
        for peer in self.peers:
            if peer.role in ("honest", "freeloader", "colluder", "lazy", "cheating", "equivocator"):
                askers.append((peer, peer.identity))
            elif peer.role == "whitewasher":
                assert peer.key is not None
                askers.append((peer, peer.key))
            elif peer.role == "sybil ring":
                for member in self.rng.sample(self.ring_keys, min(self.config.ring_users, len(self.ring_keys))):
                    askers.append((peer, member))
        self.rng.shuffle(askers)
        providers = self.providers()
        for peer, identity in askers:
            outcome = self.ask(peer, identity, providers, views, number)
            tallies = [self.tally[peer.role]]
            if number > self.config.rounds // 2:
                tallies.append(self.late[peer.role])
            if peer.role == "honest":
                tallies.append(round_honest)
            for tally in tallies:
                tally.asked += 1
                tally.served += bool(outcome)
                tally.by_budget += outcome == BY_BUDGET
        self.round_honest.append(round_honest)
        self.trade_colluders(number)
        self.gossip()
        self.check_equivocator(number)

    def ask(self, peer: Peer, identity: Identity, providers: list[Peer], views: dict[int, Scores], number: int) -> str:
        """One request: up to `tries` providers; SERVED or BY_BUDGET if a good proof came back, else ""."""
        policy = self.config.policy
        candidates = [p for p in providers if p.index != peer.index and p.index not in peer.avoid]
        for provider in self.rng.sample(candidates, min(self.config.tries, len(candidates))):
            self.requests += 1
            request = f"r{self.requests}"
            if provider.role == "lazy":
                peer.avoid.add(provider.index)
                continue
            assert provider.model is not None
            by_budget = False
            if provider.role in ("honest", "equivocator"):
                unpaid = unpaid_receipts(provider.ledger, provider.did, identity.did)
                requester = standing(views[provider.index], provider.did, identity.did, unpaid)
                budget = self.budgets[provider.index]
                try:
                    decision = decide_request(requester, policy.default_price, policy, budget, self.clock_ms(number))
                except Refused:
                    if peer.role == "whitewasher":
                        peer.key = key(self.config.seed, "whitewash", peer.index, self.requests)
                        identity = peer.key
                    continue
                by_budget = decision.rule == RULE_NEWCOMER
            good = provider.role != "cheating"
            proof = cid_of("proof", request, "good" if good else "bad")
            if good:
                self.good_proofs.add(proof)
            receipt = {"request": request, "consumer": identity.did, "proof": proof, "output_hash": "00" * 32}
            provider.ledger.append(provider.identity, "receipt", receipt)
            if not good:
                peer.avoid.add(provider.index)
                continue
            if peer.role not in ("freeloader", "whitewasher"):
                use = {"manifest": provider.model, "provider": provider.did, "request": request}
                ledger = peer.ledger
                ledger.append(identity, "use", use)
            return BY_BUDGET if by_budget else SERVED
        return ""

    def trade_colluders(self, number: int) -> None:
        """Each colluding pair trades one proof each way: real receipts and uses, good proofs."""
        colluders = [p for p in self.peers if p.role == "colluder"]
        for first, second in zip(colluders[::2], colluders[1::2], strict=True):
            for consumer, provider in ((first, second), (second, first)):
                assert provider.model is not None
                self.requests += 1
                request = f"c{self.requests}"
                proof = cid_of("proof", request, "good")
                self.good_proofs.add(proof)
                receipt = {"request": request, "consumer": consumer.did, "proof": proof, "output_hash": "00" * 32}
                provider.ledger.append(provider.identity, "receipt", receipt)
                use = {"manifest": provider.model, "provider": provider.did, "request": request}
                consumer.ledger.append(consumer.identity, "use", use)

    def gossip(self) -> None:
        start = time.perf_counter()
        snapshots = {p.index: Snapshot(p.ledger.heads()) for p in self.peers}
        for peer in self.peers:
            if peer.role == "equivocator":  # it keeps telling its own story, and would refuse its own fork
                continue
            others = [p for p in self.peers if p.index != peer.index]
            for neighbour in self.rng.sample(others, min(self.config.fanout, len(others))):
                transport = NeighbourFeeds(neighbour.ledger, snapshots[neighbour.index], held_at(peer.ledger))
                try:
                    pull(peer.ledger, transport)
                except FeedsRejected as exc:
                    raise AssertionError(f"an honest simulation produced invalid entries: {exc.message}") from exc
        self.gossip_seconds += time.perf_counter() - start

    def check_equivocator(self, number: int) -> None:
        if self.equivocator is None or self.zeroed_after is not None:
            return
        did = self.equivocator.did
        if all(p.ledger.state(did).forked for p in self.honest):
            self.zeroed_after = number

    # ---- convergence -----------------------------------------------------------------------------------------

    def disagreement(self) -> tuple[float, float | None]:
        """The largest trust difference between two honest peers (same roots: the well-known ones), and the largest
        among pairs that hold identical heads."""
        views = []
        for peer in self.honest:
            heads = tuple((s.author, s.seq, s.head, s.forked) for s in peer.ledger.heads())
            views.append((heads, self.scores(peer, self.bootstrap).trust))
        widest, identical = 0.0, None
        for position, (heads_a, trust_a) in enumerate(views):
            for heads_b, trust_b in views[position + 1 :]:
                gap = max((abs(trust_a.get(d, 0.0) - trust_b.get(d, 0.0)) for d in {*trust_a, *trust_b}), default=0.0)
                widest = max(widest, gap)
                if heads_a == heads_b:
                    identical = max(identical or 0.0, gap)
        return widest, identical

    # ---- the whole run ---------------------------------------------------------------------------------------

    def run(self, progress: Callable[[str], None] = lambda line: None) -> Result:
        start = time.perf_counter()
        for number in range(1, self.config.rounds + 1):
            self.run_round(number)
            honest = self.round_honest[-1]
            so_far = ", ".join(
                f"{b} {t.served}/{t.asked} ({t.by_budget} by budget)" for b, t in self.tally.items() if t.asked
            )
            progress(
                f"round {number}: honest served {honest.rate:.1%} this round; so far {so_far}; ring trust "
                f"{self.ring_trust_share:.1e}; equivocator zeroed after {self.zeroed_after}; "
                f"{time.perf_counter() - start:.0f} s (CPU {time.process_time():.0f} s)"
            )
        disagreement: dict[int, float] = {}
        widest, identical = self.disagreement()
        disagreement[0] = widest
        for k in range(1, self.config.quiet_rounds + 1):
            self.gossip()
            self.check_equivocator(self.config.rounds + k)
            widest, identical = self.disagreement()
            disagreement[k] = widest
        balances = [self.scores(p, self.roots(p)).balance(h.did) for p in self.honest for h in self.honest if h != p]
        policy = self.config.policy
        short = sum(balance + policy.free_quota < policy.default_price for balance in balances)
        honest_rate = self.tally["honest"].rate
        late_honest = self.late["honest"].rate
        present = [b for b in BEHAVIOURS if self.tally[b].asked]
        return Result(
            config={**asdict(self.config), "policy": asdict(self.config.policy)},
            stand_in=STAND_IN,
            success={b: self.tally[b].rate for b in present},
            share_of_honest={b: self.tally[b].rate / honest_rate if honest_rate else 0.0 for b in present},
            late_share_of_honest={b: self.late[b].rate / late_honest if late_honest else 0.0 for b in present},
            beyond_budget_share={b: self.tally[b].beyond_budget / honest_rate if honest_rate else 0.0 for b in present},
            budget_served={b: self.tally[b].by_budget / self.tally[b].asked for b in present},
            honest_success=honest_rate,
            ring_trust_share=self.ring_trust_share,
            equivocator_zeroed_after=self.zeroed_after,
            disagreement=disagreement,
            identical_feeds_disagreement=identical,
            per_round_honest=[t.rate for t in self.round_honest],
            honest_balance_mean=sum(balances) / len(balances) if balances else 0.0,
            honest_short=short / len(balances) if balances else 0.0,
            seconds=time.perf_counter() - start,
            scoring_seconds=self.scoring_seconds,
            gossip_seconds=self.gossip_seconds,
            peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        )

    def close(self) -> None:
        for peer in self.peers:
            peer.ledger.close()


def simulate(config: Config, progress: Callable[[str], None] = lambda line: None, where: Path | None = None) -> Result:
    """Run one simulation with its ledgers in a temporary folder under `where` (the system's default if None)."""
    with tempfile.TemporaryDirectory(prefix="zkreg-incentives-", dir=where) as folder:
        simulation = Simulation(config, Path(folder))
        try:
            return simulation.run(progress)
        finally:
            simulation.close()


def report(result: Result) -> str:
    lines = [f"[{result.stand_in}]", f"config: {json.dumps(result.config)}", ""]
    lines.append(
        f"{'behaviour':<12} {'served':>8} {'x honest':>9} {'x honest (2nd half)':>20} {'by budget':>10} "
        f"{'beyond budget x honest':>23}"
    )
    for behaviour, rate in result.success.items():
        lines.append(
            f"{behaviour:<12} {rate:>8.1%} {result.share_of_honest[behaviour]:>9.3f} "
            f"{result.late_share_of_honest[behaviour]:>20.3f} {result.budget_served[behaviour]:>10.1%} "
            f"{result.beyond_budget_share[behaviour]:>23.3f}"
        )
    zeroed = result.equivocator_zeroed_after
    lines += [
        "",
        f"honest contributors served: {result.honest_success:.1%}",
        f"honest contributors' mean balance at the end {result.honest_balance_mean:.2f}; "
        f"{result.honest_short:.0%} of them cannot pay from their own standing at an honest provider",
        f"trust captured by the Sybil ring (largest over honest views): {result.ring_trust_share:.2e}",
        "rounds until every honest peer zeroed the equivocator: "
        + ("no equivocator" if "equivocator" not in result.success else "never" if zeroed is None else str(zeroed)),
        "largest trust disagreement between honest peers after k gossip-only rounds: "
        + ", ".join(f"k={k}: {gap:.2e}" for k, gap in result.disagreement.items()),
        "  between honest peers holding identical feeds: "
        + (
            "no such pair"
            if result.identical_feeds_disagreement is None
            else f"{result.identical_feeds_disagreement:.2e}"
        ),
        f"run time {result.seconds:.1f} s (scoring {result.scoring_seconds:.1f} s, "
        f"gossip {result.gossip_seconds:.1f} s), peak RSS {result.peak_rss_mib:.0f} MiB",
    ]
    return "\n".join(lines)


def plot(results: dict[float, Result], path: Path, scarce: Result | None = None) -> None:
    """Service by behaviour across the mixes, and honest success by round (also for `scarce`: a run with a smaller
    newcomer budget, if given)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    mixes = sorted(results)
    behaviours = [b for b in BEHAVIOURS if b != "honest" and any(b in results[m].success for m in mixes)]
    for behaviour in behaviours:
        points = [(m, results[m].late_share_of_honest[behaviour]) for m in mixes if behaviour in results[m].success]
        left.plot([m * 100 for m, _ in points], [s for _, s in points], marker="o", label=behaviour)
    left.plot(
        [m * 100 for m in mixes], [results[m].honest_success for m in mixes], "k--", marker="s", label="honest served"
    )
    left.set_xlabel("adversaries (% of peers)")
    left.set_ylabel("service, second half (x honest)")
    left.set_ylim(bottom=0)
    left.legend(fontsize=7)
    left.grid(alpha=0.3)
    for m in mixes:
        right.plot(range(1, len(results[m].per_round_honest) + 1), results[m].per_round_honest, label=f"{m:.0%}")
    if scarce is not None:
        label = f"{scarce.config['adversaries']:.0%}, budget {scarce.config['policy']['newcomer_budget']}/window"
        rounds = range(1, len(scarce.per_round_honest) + 1)
        right.plot(rounds, scarce.per_round_honest, "k--", label=label)
    right.set_xlabel("round")
    right.set_ylabel("honest requests served")
    right.set_ylim(0, 1.05)
    right.legend(title="adversaries", fontsize=7)
    right.grid(alpha=0.3)
    figure.suptitle("zkreg incentives simulation (" + STAND_IN + ")", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def load(path: Path) -> dict[float, Result]:
    """Results saved with `--save`."""
    saved = json.loads(path.read_text())
    results = {}
    for mix, fields in saved.items():
        fields["disagreement"] = {int(k): gap for k, gap in fields["disagreement"].items()}
        results[float(mix)] = Result(**fields)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peers", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--adversaries", type=float, default=0.3)
    parser.add_argument("--mixes", default="", help="comma-separated adversary shares to sweep (e.g. 0,0.1,0.3,0.5)")
    parser.add_argument("--ring", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--newcomer-budget", type=int, default=Policy().newcomer_budget, help="per provider and window")
    parser.add_argument("--plot", type=Path)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--save", type=Path, help="also write the results as JSON here")
    parser.add_argument("--where", type=Path, help="folder for the ledgers (e.g. /dev/shm: no disk flushes)")
    parser.add_argument(
        "--replot", type=Path, nargs="+", help="draw --plot from results saved with --save, without running"
    )
    parser.add_argument("--scarce", type=Path, help="with --replot: a saved run with a smaller budget, also drawn")
    args = parser.parse_args()
    if args.replot:
        scarce = next(iter(load(args.scarce).values())) if args.scarce else None
        plot({mix: result for path in args.replot for mix, result in load(path).items()}, args.plot, scarce)
        return
    mixes = [float(m) for m in args.mixes.split(",")] if args.mixes else [args.adversaries]
    results: dict[float, Result] = {}
    for mix in mixes:
        policy = Policy(newcomer_budget=args.newcomer_budget)
        config = Config(
            peers=args.peers, rounds=args.rounds, adversaries=mix, seed=args.seed, ring=args.ring, policy=policy
        )
        print(f"== {mix:.0%} adversaries", file=sys.stderr)
        results[mix] = simulate(config, lambda line: print(line, file=sys.stderr), args.where)
        if not args.json:
            print(f"== {mix:.0%} adversaries\n{report(results[mix])}\n", flush=True)
    document = json.dumps({str(mix): asdict(result) for mix, result in results.items()}, indent=2)
    if args.json:
        print(document)
    if args.save:
        args.save.write_text(document + "\n")
    if args.plot:
        plot(results, args.plot)


if __name__ == "__main__":
    main()
