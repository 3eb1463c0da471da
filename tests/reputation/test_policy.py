"""The serving policy on real ledgers: the shared newcomer budget (no sequence of keys beats it), vouches (a stake
used up, the voucher debited, the provider's own vouch, withdrawal, replacement, a Sybil's vouch) and the refusal
that names its rule."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkreg.errors import Refused
from zkreg.identity import Identity
from zkreg.reputation.ledger import Ledger
from zkreg.reputation.policy import (
    RULE_BALANCE,
    RULE_NEWCOMER,
    RULE_STAKE,
    Decision,
    MemoryNewcomerBudget,
    Policy,
    Standing,
    budget_window,
    decide_request,
    standing,
    unpaid_receipts,
)
from zkreg.reputation.score import Scores, compute_scores

from .ledger_helpers import T0, blocks, feed, identity, manifest_cid

PROVIDER, VOUCHER, KEY, SYBIL, OTHER = (
    identity(name) for name in ("pol-provider", "pol-voucher", "pol-key", "pol-sybil", "pol-other")
)
HOUR_MS = 3_600_000


def use(provider: Identity, request: str) -> tuple[str, dict[str, Any]]:
    return "use", {"manifest": manifest_cid(f"model-of-{provider.did}"), "provider": provider.did, "request": request}


def receipt(consumer: Identity, request: str) -> tuple[str, dict[str, Any]]:
    body = {"request": request, "consumer": consumer.did, "proof": None, "output_hash": "ab" * 32}
    return "receipt", body


def vouch_item(key: Identity, credits: int) -> tuple[str, dict[str, Any]]:
    return "vouch", {"peer": key.did, "credits": credits}


def served(consumer: Identity, provider: Identity, count: int, prefix: str) -> tuple[list[Any], list[Any]]:
    """`count` bilateral uses: the consumer's `use` items and the provider's matching `receipt` items."""
    requests = [f"{prefix}{n}" for n in range(count)]
    return [use(provider, r) for r in requests], [receipt(consumer, r) for r in requests]


def ledger_of(feeds: dict[Identity, list[tuple[str, dict[str, Any]]]], tmp: Path) -> Ledger:
    ledger = Ledger(tmp / "ledger.db")
    for signer, items in feeds.items():
        if items:
            ledger.import_blocks(blocks(feed(signer, items)))
    return ledger


def scores_and_standing(ledger: Ledger, requester: Identity) -> tuple[Scores, Standing]:
    scores = compute_scores(ledger, [PROVIDER.did])
    unpaid = unpaid_receipts(ledger, PROVIDER.did, requester.did)
    return scores, standing(scores, PROVIDER.did, requester.did, unpaid)


def voucher_with_balance(credits: int) -> tuple[list[Any], list[Any]]:
    """The provider uses the voucher's artefact `credits` times: the voucher has trust and that much balance."""
    return served(PROVIDER, VOUCHER, credits, "pv")


def newcomer(did: str) -> Standing:
    return Standing(did, trust=0.0, balance=0.0, unpaid=0)


# ---- the newcomer budget ----------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=7), st.integers(min_value=0, max_value=4 * HOUR_MS)),
        min_size=1,
        max_size=60,
    ),
    st.integers(min_value=1, max_value=5),
    st.integers(min_value=1, max_value=3),
)
def test_no_sequence_of_newcomer_keys_and_times_obtains_more_than_the_budget_per_window(
    requests: list[tuple[int, int]], budget: int, price: int
) -> None:
    policy = Policy(newcomer_budget=budget, newcomer_window_s=3600)
    state = MemoryNewcomerBudget()
    granted: list[int] = []
    for key, offset in sorted(requests, key=lambda item: item[1]):
        try:
            decision: Decision | Refused = decide_request(newcomer(f"fresh-{key}"), price, policy, state, T0 + offset)
        except Refused as exc:
            decision = exc
        if isinstance(decision, Decision):
            granted.append(T0 + offset)
        assert (decision if isinstance(decision, Decision) else decision.decision).rule == RULE_NEWCOMER
    # Every window-long interval, starting at any grant, holds at most `budget` credits of grants.
    for start in granted:
        inside = [ts for ts in granted if start <= ts < start + HOUR_MS]
        assert len(inside) * price <= budget
    # ... and the budget is really given out: the first request of each empty window is served.
    if price <= budget:
        assert granted
        assert granted[0] == T0 + min(offset for _, offset in requests)


def test_three_fresh_keys_share_one_budget_and_the_refusal_names_when_it_frees() -> None:
    policy = Policy(newcomer_budget=2, newcomer_window_s=3600)
    state = MemoryNewcomerBudget()
    decide_request(newcomer("fresh-1"), 1, policy, state, T0)
    decide_request(newcomer("fresh-2"), 1, policy, state, T0 + 1000)
    with pytest.raises(Refused) as refused:
        decide_request(newcomer("fresh-3"), 1, policy, state, T0 + 2000)
    details = refused.value.details()
    assert details["rule"] == RULE_NEWCOMER
    assert {key: value for key, value in details.items() if key.startswith("newcomer_")} == {
        "newcomer_used": 2,
        "newcomer_budget": 2,
        "newcomer_window_s": 3600,
        "newcomer_until": "2025-11-24T17:00:00Z",
        "newcomer_until_ms": T0 + HOUR_MS,
    }
    assert "newcomer budget is spent until 2025-11-24T17:00:00Z (2 of 2 credit(s)" in refused.value.message
    # Once the first draw leaves the window, one more newcomer proof is free.
    assert decide_request(newcomer("fresh-4"), 1, policy, state, T0 + HOUR_MS).rule == RULE_NEWCOMER


def test_a_released_draw_is_given_back() -> None:
    policy = Policy(newcomer_budget=1)
    state = MemoryNewcomerBudget()
    first = decide_request(newcomer("fresh-1"), 1, policy, state, T0)
    assert first.draw is not None
    state.release(first.draw)
    decide_request(newcomer("fresh-2"), 1, policy, state, T0 + 1)


def test_a_price_above_the_whole_budget_is_refused_without_a_time() -> None:
    window = budget_window([], 5, T0, Policy(newcomer_budget=3))
    assert (window.has_room, window.until_ms) == (False, None)


def test_a_spent_identity_may_draw_on_the_budget_so_a_new_name_is_never_better_off() -> None:
    policy = Policy(newcomer_budget=1, free_quota=2.0)
    state = MemoryNewcomerBudget()
    spent = Standing("spent", trust=0.2, balance=-2.0, unpaid=0)
    assert decide_request(spent, 1, policy, state, T0).rule == RULE_NEWCOMER
    with pytest.raises(Refused) as refused:
        decide_request(spent, 1, policy, state, T0 + 1)
    assert refused.value.decision.rule == RULE_BALANCE  # it has trust: its own balance refused it
    with pytest.raises(Refused):
        decide_request(newcomer("fresh"), 1, policy, state, T0 + 2)  # a new name gets no more


def test_free_quota_only_for_identities_with_trust() -> None:
    policy = Policy(newcomer_budget=0, free_quota=2.0)
    state = MemoryNewcomerBudget()
    trusted = decide_request(Standing("t", trust=0.01, balance=0.0, unpaid=1), 1, policy, state, T0)
    assert (trusted.rule, trusted.free_quota, trusted.available) == (RULE_BALANCE, 2.0, 1.0)
    with pytest.raises(Refused) as refused:
        decide_request(newcomer("fresh"), 1, policy, state, T0)
    assert refused.value.decision.free_quota == 0.0


# ---- vouching ---------------------------------------------------------------------------------------------------


def test_vouch_serves_the_key_until_its_stake_is_used_up_and_debits_the_voucher(tmp_path: Path) -> None:
    provider_uses, voucher_receipts = voucher_with_balance(5)
    key_uses, provider_receipts = served(KEY, PROVIDER, 3, "k")
    ledger = ledger_of(
        {
            PROVIDER: provider_uses + provider_receipts,
            VOUCHER: [*voucher_receipts, vouch_item(KEY, 3)],
            KEY: key_uses,
        },
        tmp_path,
    )
    scores, key = scores_and_standing(ledger, KEY)
    policy, state = Policy(newcomer_budget=0), MemoryNewcomerBudget()
    # KEY consumed 3 with nothing paid back: all of it is covered by (and charged to) the voucher.
    shown = scores.show(KEY.did)
    assert (shown.debit, shown.covered_for_it, shown.balance) == (3.0, 3.0, 0.0)
    assert scores.show(VOUCHER.did).balance == pytest.approx(5.0 - 3.0)
    assert [stake.to_json() for stake in shown.vouches_received] == [
        {"voucher": VOUCHER.did, "key": KEY.did, "credits": 3, "liable": 3, "covered": 3.0, "remaining": 0.0}
    ]
    assert scores.show(VOUCHER.did).vouches_given == shown.vouches_received
    assert (key.newcomer, key.staked, key.stake) == (False, 3.0, 0.0)
    with pytest.raises(Refused) as refused:
        decide_request(key, 1, policy, state, T0)
    assert refused.value.decision.rule == RULE_STAKE
    assert "the stake vouched for" in refused.value.message
    assert "stake 0 of 3 vouched" in refused.value.message

    # Before those uses the stake served it: with one use, 2 of the 3 credits remain.
    fresh = Path(tempfile.mkdtemp(dir=tmp_path))
    one_use = ledger_of(
        {
            PROVIDER: provider_uses + provider_receipts[:1],
            VOUCHER: [*voucher_receipts, vouch_item(KEY, 3)],
            KEY: key_uses[:1],
        },
        fresh,
    )
    _, key = scores_and_standing(one_use, KEY)
    assert (key.stake, decide_request(key, 1, policy, state, T0).rule) == (2.0, RULE_STAKE)
    ledger.close()
    one_use.close()


def test_a_voucher_stakes_no_more_than_its_balance(tmp_path: Path) -> None:
    provider_uses, voucher_receipts = voucher_with_balance(1)
    ledger = ledger_of({PROVIDER: provider_uses, VOUCHER: [*voucher_receipts, vouch_item(KEY, 10)]}, tmp_path)
    _, key = scores_and_standing(ledger, KEY)
    assert (key.staked, key.stake) == (10.0, pytest.approx(1.0))
    ledger.close()


def test_the_providers_own_vouch_counts_whatever_its_balance(tmp_path: Path) -> None:
    key_uses, provider_receipts = served(KEY, PROVIDER, 2, "k")
    ledger = ledger_of({PROVIDER: [vouch_item(KEY, 5), *provider_receipts], KEY: key_uses}, tmp_path)
    scores, key = scores_and_standing(ledger, KEY)
    assert scores.balance(PROVIDER.did) == -2.0  # it pays for what it gave away
    assert (key.stake, decide_request(key, 3, Policy(newcomer_budget=0), MemoryNewcomerBudget(), T0).rule) == (
        3.0,
        RULE_STAKE,
    )
    ledger.close()


def test_a_vouch_by_an_identity_without_trust_does_not_count(tmp_path: Path) -> None:
    ledger = ledger_of({SYBIL: [vouch_item(KEY, 100)]}, tmp_path)
    _, key = scores_and_standing(ledger, KEY)
    assert (key.newcomer, key.stake) == (True, 0.0)
    ledger.close()


def test_a_later_vouch_replaces_the_earlier_and_zero_withdraws_but_the_voucher_stays_liable(tmp_path: Path) -> None:
    provider_uses, voucher_receipts = voucher_with_balance(5)
    key_uses, provider_receipts = served(KEY, PROVIDER, 2, "k")
    feeds = {
        PROVIDER: provider_uses + provider_receipts,
        VOUCHER: [*voucher_receipts, vouch_item(KEY, 4), vouch_item(KEY, 3)],
        KEY: key_uses,
    }
    replaced = ledger_of(feeds, tmp_path)
    _, key = scores_and_standing(replaced, KEY)
    assert (key.staked, key.stake) == (3.0, 1.0)  # the latest vouch: 3 staked, 2 covered
    replaced.close()

    feeds[VOUCHER] = [*feeds[VOUCHER], vouch_item(KEY, 0)]
    withdrawn = ledger_of(feeds, Path(tempfile.mkdtemp(dir=tmp_path)))
    scores, key = scores_and_standing(withdrawn, KEY)
    assert (key.newcomer, key.stake) == (True, 0.0)  # no more service against the vouch ...
    assert scores.show(VOUCHER.did).balance == pytest.approx(5.0 - 2.0)  # ... but what was served stays charged
    withdrawn.close()


def test_a_key_that_contributes_pays_its_voucher_back(tmp_path: Path) -> None:
    provider_uses, voucher_receipts = voucher_with_balance(5)
    key_uses, provider_receipts = served(KEY, PROVIDER, 2, "k")
    other_uses, key_receipts = served(PROVIDER, KEY, 2, "back")  # the provider uses KEY's artefact twice
    feeds = {
        PROVIDER: provider_uses + provider_receipts + other_uses,
        VOUCHER: [*voucher_receipts, vouch_item(KEY, 3)],
        KEY: key_uses + key_receipts,
    }
    ledger = ledger_of(feeds, tmp_path)
    scores, _ = scores_and_standing(ledger, KEY)
    assert scores.show(KEY.did).covered_for_it == 0.0
    assert scores.show(VOUCHER.did).balance == pytest.approx(5.0)
    ledger.close()


def test_decision_json_names_the_rule_and_every_number() -> None:
    decision = Decision("did", 1.0, 0, 2.0, 1)
    assert set(decision.to_json()) >= {"requester", "rule", "balance", "unpaid", "free_quota", "price", "available"}


# ---- the CLI ----------------------------------------------------------------------------------------------------


def test_cli_peer_vouch_replaces_withdraws_and_rep_show_lists_vouches_and_every_input(cli: Any) -> None:
    assert cli("init").code == 0
    own = cli("id", "--json").json()["did"]
    vouched = cli("peer", "vouch", KEY.did, "--credits", "5", "--json")
    assert vouched.code == 0, vouched.stderr
    assert (vouched.json()["did"], vouched.json()["credits"], vouched.json()["seq"]) == (KEY.did, 5, 1)
    assert cli("peer", "vouch", KEY.did, "--credits", "2").code == 0

    shown = cli("rep", "show", KEY.did, "--json").json()
    assert shown["vouches"]["received"] == [
        {"voucher": own, "key": KEY.did, "credits": 2, "liable": 5, "covered": 0.0, "remaining": 2.0}
    ]
    assert set(shown["inputs"]) == {"trust", "credit", "debit"}
    assert cli("rep", "show", "--json").json()["vouches"]["given"] == shown["vouches"]["received"]
    assert "vouched for by" in cli("rep", "show", KEY.did).stdout

    assert cli("peer", "vouch", KEY.did, "--credits", "0").code == 0
    assert cli("rep", "show", KEY.did, "--json").json()["vouches"]["received"][0]["credits"] == 0

    self_vouch = cli("peer", "vouch", own, "--credits", "3", "--json")
    assert (self_vouch.code, self_vouch.json()["error"]["code"]) == (1, "input/self-vouch")
    bad = cli("peer", "vouch", "did:key:nope", "--credits", "3", "--json")
    assert (bad.code, bad.json()["error"]["code"]) == (1, "input/bad-did")
    assert len(cli("ledger", "log", "--json").json()) == 3  # the refused vouches appended nothing
