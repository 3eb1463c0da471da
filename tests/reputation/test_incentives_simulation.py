"""A small seeded run of the network simulation (`bench/incentives.py`): real ledgers, signatures, scores, policy
and gossip, with simulated proofs. It asserts the direction of each figure the full run reports, not its size."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.incentives import Config, Result, simulate
from zkreg.reputation.policy import Policy

SMALL = Config(
    peers=16,
    rounds=6,
    adversaries=0.5,
    ring=40,
    ring_users=3,
    quiet_rounds=3,
    seed=11,
    policy=Policy(newcomer_budget=1),  # one free proof an hour per provider: small enough to see in six rounds
)


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> Result:
    return simulate(SMALL, where=Path(tmp_path_factory.mktemp("incentives")))


def test_every_behaviour_is_present(result: Result) -> None:
    assert set(result.success) == {
        "honest",
        "freeloader",
        "whitewasher",
        "colluder",
        "lazy",
        "cheating",
        "sybil ring",
        "equivocator",
    }


def test_freeloaders_and_whitewashers_obtain_less_than_honest_contributors(result: Result) -> None:
    for behaviour in ("freeloader", "whitewasher"):
        assert result.success[behaviour] < result.honest_success, behaviour


def test_the_sybil_ring_captures_no_trust(result: Result) -> None:
    assert result.ring_trust_share < 1e-3


def test_every_honest_peer_zeroes_the_equivocator(result: Result) -> None:
    assert result.equivocator_zeroed_after is not None


def test_honest_views_converge_once_gossip_catches_up(result: Result) -> None:
    gaps = list(result.disagreement.values())
    assert gaps[0] > 0  # traffic was still spreading when the rounds ended
    assert gaps[-1] <= 1e-9
    assert result.identical_feeds_disagreement is not None
    assert result.identical_feeds_disagreement <= 1e-9


def test_a_run_is_repeatable(result: Result, tmp_path: Path) -> None:
    again = simulate(SMALL, where=tmp_path)
    assert (again.success, again.ring_trust_share, again.equivocator_zeroed_after, again.disagreement) == (
        result.success,
        result.ring_trust_share,
        result.equivocator_zeroed_after,
        result.disagreement,
    )
