"""Swarm consensus on real ledgers: a publisher, two attesters and a CI gate, each a data dir of its own, exchanging
the artefact as a CAR file and their feeds as feed files; plus the weighing rules on their own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from zkreg.api import ConsensusRequest, VerifyRequest, consensus, verify
from zkreg.reputation.consensus import Vote, weigh
from zkreg.reputation.entry import sign_entry
from zkreg.reputation.ledger import Ledger

from .conftest import Swarm
from .ledger_helpers import T0, blocks, feed, identity, manifest_cid


def _policy(folder: Path, text: str) -> Path:
    path = folder / "policy.toml"
    path.write_text(text)
    return path


def test_two_trusted_attesters_agreeing_ok_give_verdict_ok(swarm: Swarm) -> None:
    swarm.attest(swarm.alice)
    swarm.attest(swarm.bob)
    swarm.gossip(swarm.publisher, swarm.alice, swarm.bob)

    result = consensus(swarm.gate, ConsensusRequest("mlp"))
    document = result.to_json()
    assert set(document) == {"subject", "verdict", "ok_share", "fail_share", "attesters", "threshold"}
    assert (document["subject"], document["verdict"], document["ok_share"]) == (swarm.model, "ok", 1.0)
    attesters = {item["identity"]: item for item in document["attesters"]}
    assert set(attesters) == {swarm.alice.identity.did, swarm.bob.identity.did}
    assert set(attesters[swarm.alice.identity.did]) == {"identity", "verdict", "weight", "details"}
    assert attesters[swarm.alice.identity.did]["weight"] == pytest.approx(attesters[swarm.bob.identity.did]["weight"])
    assert attesters[swarm.alice.identity.did]["weight"] > 0
    checked = json.loads(attesters[swarm.alice.identity.did]["details"])
    assert checked["signature"].startswith("ok")
    assert checked["blocks"].startswith("ok: 1 files")


def test_one_attester_failing_drops_below_the_threshold_and_the_policy_exits_5_with_the_numbers(
    swarm: Swarm, cli: Any
) -> None:
    swarm.attest(swarm.alice)
    # Bob's policy names another author: a rule about the artefact itself fails, so Bob attests `fail`, with why.
    other = identity("someone-else").did
    swarm.attest(swarm.bob, _policy(swarm.folder, f'authors = ["{other}"]\n'))
    [*_, bobs] = swarm.bob.ledger.entries(swarm.bob.identity.did)
    assert bobs.body["verdict"] == "fail"
    assert "policy authors" in json.loads(bobs.body["details"])["cause"]
    swarm.gossip(swarm.publisher, swarm.alice, swarm.bob)

    result = consensus(swarm.gate, ConsensusRequest(swarm.model))
    assert result.verdict == "none"
    assert (result.ok_share, result.fail_share) == (pytest.approx(0.5), pytest.approx(0.5))
    gate_policy = _policy(swarm.folder, "min_consensus = 0.66\nmin_attesters = 2\n")
    report = verify(swarm.gate, VerifyRequest(swarm.model, policy=gate_policy)).policy
    assert report is not None
    assert not report.passed
    rules = {rule.rule: rule for rule in report.rules}
    assert (rules["min_consensus"].actual, rules["min_consensus"].expected) == (0.5, 0.66)
    assert (rules["min_attesters"].actual, rules["min_attesters"].passed) == (1, False)

    # The real CLI, as a CI job runs it: exit 5, every rule with its numbers, on stdout and in the error line.
    run = cli("verify", swarm.model, "--policy", str(gate_policy), home_dir=swarm.gate.home)
    assert run.code == 5
    assert "FAIL  min_consensus: ok_share 0.5000 < 0.6600" in run.stdout
    assert "error[policy/not-met]" in run.stderr
    as_json = cli("verify", swarm.model, "--policy", str(gate_policy), "--json", home_dir=swarm.gate.home)
    assert as_json.code == 5
    error = as_json.json()["error"]
    assert error["code"] == "policy/not-met"
    assert [rule["passed"] for rule in error["rules"]] == [False, False]
    shown = cli("show", swarm.model, home_dir=swarm.gate.home)
    assert "consensus none: ok 0.50, fail 0.50 of the weight of 2 trusted attester(s)" in shown.stdout


def test_a_hundred_key_sybil_ring_attesting_fail_changes_nothing(swarm: Swarm) -> None:
    swarm.attest(swarm.alice)
    swarm.attest(swarm.bob)
    swarm.gossip(swarm.publisher, swarm.alice, swarm.bob)
    before = consensus(swarm.gate, ConsensusRequest(swarm.model))

    ring = [identity(f"sybil-{n}") for n in range(100)]
    entries = []
    for position, sybil in enumerate(ring):
        successor = ring[(position + 1) % len(ring)]
        attest = ("attest", {"subject": swarm.model, "verdict": "fail", "details": "it is bad, trust us"})
        entries += feed(sybil, [attest, ("endorse", {"peer": successor.did, "weight": 10})])
    swarm.gate.ledger.import_blocks(blocks(entries))

    after = consensus(swarm.gate, ConsensusRequest(swarm.model))
    assert (after.verdict, after.ok_share, after.fail_share) == (before.verdict, before.ok_share, before.fail_share)
    assert after.verdict == "ok"
    sybils = {sybil.did for sybil in ring}
    assert sybils <= {item.vote.identity for item in after.attesters}
    assert len(sybils) == 100
    assert all(item.weight == 0 for item in after.attesters if item.vote.identity in sybils)


def test_a_forked_attester_is_dropped(swarm: Swarm) -> None:
    swarm.attest(swarm.alice)
    swarm.attest(swarm.bob)
    swarm.gossip(swarm.publisher, swarm.alice, swarm.bob)
    held = swarm.alice.ledger.state(swarm.alice.identity.did)
    # Alice signs a second, different entry at her own head's seq: an equivocation the gate keeps as evidence.
    fork = sign_entry(
        swarm.alice.identity,
        seq=held.seq,
        prev=None if held.seq == 1 else swarm.alice.ledger.held_at(swarm.alice.identity.did, held.seq - 1),
        ts=held.ts,
        type_="attest",
        body={"subject": swarm.model, "verdict": "ok", "details": "told differently to another peer"},
    )
    swarm.gate.ledger.import_blocks([fork.block])
    assert swarm.gate.ledger.evidence(swarm.alice.identity.did)

    result = consensus(swarm.gate, ConsensusRequest(swarm.model))
    assert [item.vote.identity for item in result.attesters] == [swarm.bob.identity.did]
    assert result.verdict == "none"  # one attester left: no one decides alone


def test_an_attesters_later_verdict_replaces_its_earlier_one(swarm: Swarm) -> None:
    swarm.attest(swarm.alice)
    swarm.bob.ledger.append(swarm.bob.identity, "attest", {"subject": swarm.model, "verdict": "fail", "details": "x"})
    swarm.attest(swarm.bob)  # later: ok
    swarm.gossip(swarm.publisher, swarm.alice, swarm.bob)

    result = consensus(swarm.gate, ConsensusRequest(swarm.model))
    verdicts = {item.vote.identity: item.vote.verdict for item in result.attesters}
    assert verdicts == {swarm.alice.identity.did: "ok", swarm.bob.identity.did: "ok"}
    assert (result.verdict, result.ok_share) == ("ok", 1.0)


def _vote(name: str, verdict: str) -> Vote:
    return Vote(name, verdict, "", f"entry-{name}", "0" * 64)


def test_a_single_heavy_attester_never_decides_alone() -> None:
    """Clipped to the others' total, the heaviest holds half the weight: below any threshold over 1/2."""
    votes = [_vote("root", "fail"), _vote("a", "ok"), _vote("b", "ok")]
    result = weigh("subject", votes, {"root": 0.8, "a": 0.1, "b": 0.1}, [])
    weights = {item.vote.identity: item.weight for item in result.attesters}
    assert weights == pytest.approx({"root": 0.2, "a": 0.1, "b": 0.1})
    assert result.verdict == "none"
    assert (result.fail_share, result.ok_share) == (pytest.approx(0.5), pytest.approx(0.5))
    # Unclipped, 0.8 of the weight would have made it `fail` on the root's word alone; with one more agreeing, it is.
    agreeing = weigh("subject", [*votes[:2], _vote("b", "fail")], {"root": 0.8, "a": 0.1, "b": 0.1}, [])
    assert agreeing.verdict == "fail"
    assert agreeing.fail_share == pytest.approx(0.75)
    lone = weigh("subject", [_vote("root", "ok")], {"root": 1.0}, [])
    assert (lone.verdict, lone.attesters[0].weight, len(lone.trusted)) == ("none", 0.0, 1)


def test_sybils_weigh_nothing_and_forked_attesters_are_not_listed() -> None:
    votes = [_vote("a", "ok"), _vote("b", "ok"), *(_vote(f"sybil-{n}", "fail") for n in range(100)), _vote("f", "fail")]
    result = weigh("subject", votes, {"a": 0.3, "b": 0.2, "f": 0.5}, ["f"])
    assert result.verdict == "ok"
    assert "f" not in {item.vote.identity for item in result.attesters}
    assert len(result.attesters) == 102


def test_an_attestation_of_a_ledger_entry_written_before_reasons_still_counts(tmp_path: Path) -> None:
    """Old `attest` entries carry free text in `details`: they decode, verify and count as before."""
    ledger = Ledger(tmp_path / "ledger.db")
    subject = manifest_cid("old-model")
    old = feed(identity("old-verifier"), [("attest", {"subject": subject, "verdict": "ok", "details": "3 files"})])
    ledger.import_blocks(blocks(old), clock_ms=T0 + 10_000)
    [held] = ledger.latest_attestations(subject)
    assert (held.verdict, held.details) == ("ok", "3 files")
    assert ledger.verify_all(clock_ms=T0 + 10_000) == 1
    ledger.close()
