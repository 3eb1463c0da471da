"""Collusion and self-dealing against Proof of Reputation and the serving policy (issue 11), each on a real ledger
(SQLite on disk, real signatures), judged from a third party's roots: what each attack earns is written down in
docs/design.md (Proof of Reputation) and docs/threats.md.

The whitewasher against a real `zkreg serve` is `tests/serve/test_newcomer_budget.py`; a provider whose proofs
do not verify, end to end with ezkl, `tests/serve/test_two_peers.py::test_a_receipt_whose_proof_does_not_verify_
gives_no_credit`; here each is also judged on the ledger alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reputation.ledger_helpers import T0, blocks, feed, identity
from tests.reputation.test_policy import ledger_of, receipt, served, use, vouch_item
from zkreg.errors import Refused
from zkreg.reputation.ledger import Ledger
from zkreg.reputation.policy import (
    RULE_NEWCOMER,
    MemoryNewcomerBudget,
    Policy,
    Standing,
    decide_request,
    standing,
    unpaid_receipts,
)
from zkreg.reputation.score import ProofHook, Receipt, compute_scores

PROVIDER, HONEST, FIRST, SECOND, LAZY, CHEAT, FORGER, MEMBER = (
    identity(f"attack-{name}")
    for name in ("provider", "honest", "colluder-1", "colluder-2", "lazy", "cheat", "equivocator", "member")
)


def third_party_view(ledger: Ledger, did: str, hook: ProofHook | None = None) -> tuple[float, float]:
    """(trust, balance) of `did` seen from the provider's roots."""
    scores = compute_scores(ledger, [PROVIDER.did], **({"receipt_proof_ok": hook} if hook else {}))
    return scores.trust.get(did, 0.0), scores.balance(did)


def trading(rounds: int) -> dict[object, list[tuple[str, dict[str, object]]]]:
    """Two colluders using each other's artefacts `rounds` times each way, with real bilateral receipts."""
    first_uses, second_receipts = served(FIRST, SECOND, rounds, "f")
    second_uses, first_receipts = served(SECOND, FIRST, rounds, "s")
    return {FIRST: first_uses + first_receipts, SECOND: second_uses + second_receipts}


def test_colluders_trading_bilateral_uses_get_nothing_from_a_third_partys_roots(tmp_path: Path) -> None:
    ledger = ledger_of(trading(20), tmp_path)
    scores = compute_scores(ledger, [PROVIDER.did])
    for colluder in (FIRST, SECOND):
        assert scores.trust.get(colluder.did, 0.0) == 0.0
        assert scores.credit.get(colluder.did, 0.0) == 0.0  # their uses of each other mint nothing
        assert scores.balance(colluder.did) == -20.0  # ... and each still owes its own uses
        requester = standing(scores, PROVIDER.did, colluder.did, 0)
        assert requester.newcomer  # at the provider they are two more fresh names: the shared budget at most
    ledger.close()


def test_colluders_with_trusted_inflow_end_with_no_more_than_that_inflow(tmp_path: Path) -> None:
    provider_uses, first_receipts = served(PROVIDER, FIRST, 3, "p")  # the provider really used FIRST 3 times
    alone = ledger_of({PROVIDER: provider_uses, FIRST: first_receipts}, tmp_path / "alone")
    _, inflow = third_party_view(alone, FIRST.did)
    assert inflow == pytest.approx(3.0)
    alone.close()

    feeds = trading(50)
    feeds[PROVIDER] = provider_uses
    feeds[FIRST] = feeds[FIRST] + first_receipts
    traded = ledger_of(feeds, tmp_path / "traded")
    scores = compute_scores(traded, [PROVIDER.did])
    pair = scores.balance(FIRST.did) + scores.balance(SECOND.did)
    assert pair <= inflow + 1e-9  # each credit a colluder gives costs it a debit of 1: trading is zero-sum at best
    assert scores.trust[SECOND.did] > 0  # trust does flow on through FIRST's uses, but buys no balance
    traded.close()


def test_a_provider_that_never_delivers_earns_nothing_and_costs_others_nothing(tmp_path: Path) -> None:
    # LAZY signs receipts for HONEST's requests but delivered no proof, so HONEST recorded no use.
    lazy_receipts = [receipt(HONEST, f"never-{n}") for n in range(5)]
    ledger = ledger_of({LAZY: lazy_receipts}, tmp_path)
    scores = compute_scores(ledger, [PROVIDER.did])
    assert scores.credit.get(LAZY.did, 0.0) == 0.0
    assert scores.debit.get(HONEST.did, 0.0) == 0.0
    assert unpaid_receipts(ledger, PROVIDER.did, HONEST.did) == 0  # elsewhere, its receipts weigh nothing
    assert unpaid_receipts(ledger, LAZY.did, HONEST.did) == 5  # only at LAZY's own server (its own word)
    ledger.close()


def test_a_provider_that_delivers_invalid_proofs_earns_nothing(tmp_path: Path) -> None:
    honest_uses, cheat_receipts = served(HONEST, CHEAT, 4, "c")
    provider_uses, honest_receipts = served(PROVIDER, HONEST, 1, "p")
    ledger = ledger_of(
        {PROVIDER: provider_uses, HONEST: honest_uses + honest_receipts, CHEAT: cheat_receipts}, tmp_path
    )

    def proofs_of_cheat_fail(pair: Receipt) -> bool:
        return pair.provider != CHEAT.did  # what ProofGatedCredit says of a bundle that does not verify

    trust, balance = third_party_view(ledger, CHEAT.did, proofs_of_cheat_fail)
    assert (trust, balance) == (0.0, 0.0)
    _, honest_balance = third_party_view(ledger, HONEST.did, proofs_of_cheat_fail)
    assert honest_balance == pytest.approx(1.0)  # the consumer is not charged for proofs that do not verify
    _, paid = third_party_view(ledger, CHEAT.did)
    assert paid > 0  # with valid proofs the same receipts would pay: the test can fail
    ledger.close()


def test_a_whitewasher_under_a_fresh_key_is_never_better_off_than_under_its_spent_one() -> None:
    policy = Policy(newcomer_budget=3, free_quota=2.0)
    budget = MemoryNewcomerBudget()
    spent = Standing("spent-key", trust=0.05, balance=-2.0, unpaid=0)
    fresh = [Standing(f"fresh-{n}", trust=0.0, balance=0.0, unpaid=0) for n in range(10)]
    rules = []
    for n, key in enumerate(fresh):
        try:
            rules.append(decide_request(key, 1, policy, budget, T0 + n).rule)
        except Refused as refused:
            rules.append(f"refused: {refused.decision.rule}")
    assert rules == [RULE_NEWCOMER] * 3 + [f"refused: {RULE_NEWCOMER}"] * 7  # ten names, one budget
    with pytest.raises(Refused):
        decide_request(spent, 1, policy, budget, T0 + 20)
    # In a new window, the spent key gets exactly what a fresh key would.
    assert decide_request(spent, 1, policy, budget, T0 + 3_600_000 + 20).rule == RULE_NEWCOMER


def test_an_equivocator_loses_trust_its_vouches_and_its_stake_but_its_voucher_stays_liable(tmp_path: Path) -> None:
    member_uses, provider_receipts = served(FORGER, PROVIDER, 2, "m")
    ledger = ledger_of(
        {PROVIDER: [vouch_item(FORGER, 5), vouch_item(MEMBER, 5), *provider_receipts]},
        tmp_path,
    )
    one = feed(FORGER, [*member_uses, vouch_item(MEMBER, 9)])
    other = feed(FORGER, [use(PROVIDER, "m-other")], after=one[0])  # a second story at seq 2
    ledger.import_blocks(blocks(one))
    ledger.import_blocks(blocks(other))
    scores = compute_scores(ledger, [PROVIDER.did])
    assert scores.show(FORGER.did).forked
    forger = standing(scores, PROVIDER.did, FORGER.did, 0)
    assert (forger.trust, forger.stake, forger.newcomer) == (0.0, 0.0, True)  # a fresh name at best
    member = scores.show(MEMBER.did)
    assert [stake.voucher for stake in member.vouches_received] == [PROVIDER.did]  # the forger's vouch is void
    assert scores.show(PROVIDER.did).covered_by_it == 2.0  # what it consumed stays charged to its voucher
    ledger.close()


def test_a_ring_of_keys_vouching_for_each_other_gets_no_stake(tmp_path: Path) -> None:
    ring = [identity(f"attack-ring-{n}") for n in range(30)]
    feeds = {key: [vouch_item(ring[(n + 1) % 30], 1000)] for n, key in enumerate(ring)}
    ledger = ledger_of(feeds, tmp_path)
    scores = compute_scores(ledger, [PROVIDER.did])
    for key in ring:
        requester = standing(scores, PROVIDER.did, key.did, 0)
        assert (requester.stake, requester.newcomer) == (0.0, True)
        assert scores.trust.get(key.did, 0.0) == 0.0  # a vouch is not a trust edge
    ledger.close()
