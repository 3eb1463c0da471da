"""The CI policy file: parsed once into a frozen `Policy` (a bad file is one clear error), and every rule judged,
passing once and failing once."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from tests.reputation.ledger_helpers import identity
from zkreg.api import PublishRequest, Repo, VerifyRequest, publish, verify
from zkreg.app.verify import attest_details
from zkreg.ci_policy import Facts, Policy, evaluate
from zkreg.errors import BadPolicy
from zkreg.reputation.consensus import Vote, weigh

AUTHOR = identity("policy-author").did
OTHER = identity("policy-other").did
EXAMPLES = Path(__file__).parents[2] / "examples"


def _policy(text: str) -> Policy:
    return Policy.from_bytes(text.encode(), Path("policy.toml"))


def _facts(**changes: Any) -> Facts:
    votes = [Vote("a", "ok", "", "e1", "0" * 64), Vote("b", "ok", "", "e2", "0" * 64)]
    base = Facts(
        author=AUTHOR,
        author_trust=0.2,
        dataset="bafyreidataset",
        dataset_problem=None,
        srs_kind="ceremony",
        metrics={"accuracy": 0.93},
        consensus=weigh("subject", votes, {"a": 0.3, "b": 0.3}, []),
    )
    return dataclasses.replace(base, **changes)


FULL = f"""
authors = ["{AUTHOR}"]
min_author_trust = 0.01
require_dataset = true
min_consensus = 0.66
min_attesters = 2
srs = "ceremony"
[metrics]
accuracy = {{ min = 0.9 }}
loss = {{ max = 0.5 }}
"""


def test_a_full_policy_parses_into_a_frozen_object() -> None:
    policy = _policy(FULL)
    assert policy.authors == (AUTHOR,)
    assert (policy.min_author_trust, policy.require_dataset, policy.min_consensus) == (0.01, True, 0.66)
    assert (policy.min_attesters, policy.srs) == (2, "ceremony")
    assert [(bound.name, bound.min, bound.max) for bound in policy.metrics] == [
        ("accuracy", 0.9, None),
        ("loss", None, 0.5),
    ]
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.srs = "any"  # type: ignore[misc]


PASS_AND_FAIL = [
    pytest.param(f'authors = ["{AUTHOR}"]', {}, {"author": OTHER}, f"author {OTHER} is not one", id="authors"),
    pytest.param("min_author_trust = 0.1", {}, {"author_trust": 0.05}, "author trust 0.0500 < 0.1000", id="trust"),
    pytest.param("require_dataset = true", {}, {"dataset": None}, "the manifest names no dataset", id="dataset"),
    pytest.param(
        "require_dataset = true",
        {},
        {"dataset_problem": "dataset bafy is not held here"},
        "not held here",
        id="dataset-not-held",
    ),
    pytest.param(
        "min_consensus = 0.66",
        {},
        {
            "consensus": weigh(
                "s", [Vote("a", "ok", "", "e", "0" * 64), Vote("b", "fail", "", "e", "0" * 64)], {"a": 1, "b": 1}, []
            )
        },
        "ok_share 0.5000 < 0.6600",
        id="consensus",
    ),
    pytest.param(
        "min_attesters = 2",
        {},
        {
            "consensus": weigh(
                "s", [Vote("a", "ok", "", "e", "0" * 64), Vote("z", "ok", "", "e", "0" * 64)], {"a": 1}, []
            )
        },
        "trusted attesters agreeing ok 1 < 2",
        id="attesters",
    ),
    pytest.param('srs = "ceremony"', {}, {"srs_kind": "dev"}, "dev SRS (refused)", id="srs"),
    pytest.param("[metrics]\naccuracy = { min = 0.9 }", {}, {"metrics": {"accuracy": 0.85}}, "< min 0.9", id="min"),
    pytest.param(
        "[metrics]\nloss = { max = 0.5 }", {"metrics": {"loss": 0.2}}, {"metrics": {"loss": 0.7}}, "> max 0.5", id="max"
    ),
    pytest.param(
        "[metrics]\naccuracy = { min = 0.9 }", {}, {"metrics": {}}, "no proven metric accuracy", id="metric-unproven"
    ),
]


@pytest.mark.parametrize(("text", "passing", "failing", "reason"), PASS_AND_FAIL)
def test_every_rule_passes_once_and_fails_once_with_its_numbers(
    text: str, passing: dict[str, Any], failing: dict[str, Any], reason: str
) -> None:
    policy = _policy(text)
    [passed] = evaluate(policy, _facts(**passing)).rules
    assert passed.passed, passed.detail
    report = evaluate(policy, _facts(**failing))
    [failed] = report.rules
    assert not failed.passed
    assert reason in failed.detail
    assert not report.passed
    assert failed.to_json()["rule"] == policy.rule_names()[0]


def test_a_model_without_a_zk_setup_passes_the_srs_rule_and_a_lenient_srs_accepts_dev() -> None:
    assert evaluate(_policy('srs = "ceremony"'), _facts(srs_kind=None)).passed
    assert evaluate(_policy('srs = "any"'), _facts(srs_kind="dev")).passed


def test_swarm_rules_never_make_the_own_verdict_fail() -> None:
    facts = _facts(author_trust=0.0, consensus=weigh("s", [], {}, []), metrics={"accuracy": 0.93, "loss": 0.1})
    report = evaluate(_policy(FULL), facts)
    assert {rule.rule for rule in report.rules if not rule.passed} == {
        "min_author_trust",
        "min_consensus",
        "min_attesters",
    }
    assert report.own_failures() == []


BAD_FILES = [
    pytest.param("min_consensus = 0.66\nmin_consensu = 0.5\n", "unknown key(s) min_consensu", id="unknown-key"),
    pytest.param(
        "[metrics]\naccuracy = { min = 0.9, mean = 1 }\n", "metrics.accuracy must be a table", id="unknown-bound"
    ),
    pytest.param('min_consensus = "0.66"\n', "min_consensus must be a number from 0 to 1", id="string-number"),
    pytest.param("min_consensus = 1.5\n", "min_consensus must be a number from 0 to 1", id="out-of-range"),
    pytest.param("min_attesters = 2.5\n", "min_attesters must be a whole number", id="float-count"),
    pytest.param("min_attesters = true\n", "min_attesters must be a whole number", id="bool-count"),
    pytest.param('require_dataset = "yes"\n', "require_dataset must be true or false", id="string-bool"),
    pytest.param('srs = "dev"\n', "srs must be one of ceremony, any", id="srs-kind"),
    pytest.param('authors = "did:key:z6Mk"\n', "authors must be a non-empty list", id="authors-string"),
    pytest.param('authors = ["did:key:z6MkNOPE"]\n', "not an Ed25519 did:key", id="bad-did"),
    pytest.param("[metrics]\naccuracy = 0.9\n", "metrics.accuracy must be a table", id="metric-not-table"),
    pytest.param('[metrics]\naccuracy = { min = "high" }\n', "min and max must be numbers", id="metric-string"),
    pytest.param("min_consensus = \n", "is not TOML", id="not-toml"),
    pytest.param("", "sets no rule", id="empty"),
]


@pytest.mark.parametrize(("text", "message"), BAD_FILES)
def test_a_bad_policy_file_is_one_clear_error(text: str, message: str) -> None:
    with pytest.raises(BadPolicy) as caught:
        _policy(text)
    assert message in caught.value.message
    assert caught.value.message.startswith("policy.toml")


def test_a_bad_policy_file_exits_1_with_one_line_before_anything_is_attested(cli: Any, tmp_path: Path) -> None:
    assert cli("init").code == 0
    (tmp_path / "a.csv").write_text("x\n1\n")
    assert cli("publish", str(tmp_path / "a.csv"), "--name", "a", "--kind", "dataset").code == 0
    bad = tmp_path / "policy.toml"
    bad.write_text('authors = ["did:key:z6MkNOPE"]\n')
    result = cli("verify", "a", "--policy", str(bad), "--attest", "--json")
    assert result.code == 1
    assert result.json()["error"]["code"] == "input/bad-policy"
    assert len(result.stderr.strip().splitlines()) == 1
    assert [entry["type"] for entry in cli("ledger", "log", "--json").json()] == ["publish"]


def test_verify_with_a_policy_attests_every_check_and_rule_and_the_lineage_rule_reads_the_store(
    repo: Repo, tmp_path: Path
) -> None:
    publish(repo, PublishRequest([EXAMPLES / "data"], name="flowers", kind="dataset"))
    model = publish(repo, PublishRequest([EXAMPLES / "tiny-mlp.onnx"], name="mlp", dataset="flowers")).cid
    policy = tmp_path / "policy.toml"
    policy.write_text(
        f'authors = ["{repo.identity.did}"]\nrequire_dataset = true\n[metrics]\naccuracy = {{ min = 0.9 }}\n'
    )
    result = verify(repo, VerifyRequest(model, attest=True, policy=policy))
    assert result.policy is not None
    assert [(rule.rule, rule.passed) for rule in result.policy.rules] == [
        ("authors", True),
        ("require_dataset", True),
        ("metrics.accuracy", False),
    ]
    [*_, attested] = repo.ledger.entries(repo.identity.did)
    assert attested.body["verdict"] == "fail"
    assert "no proven metric accuracy" in attested.body["details"]
    assert '"require_dataset":"pass: dataset' in attested.body["details"]


def test_attestation_details_stay_within_the_ledger_bound_and_keep_the_cause() -> None:
    """The `attest` schema allows 2,048 characters of details: rule details shrink to pass/FAIL first, then the
    cause is cut, and what is left is still JSON."""
    rules = {f"metrics.m{n}": f"FAIL: proven m{n} 0.1 < min 0.9 " + "x" * 40 for n in range(60)}
    checks = {"signature": "ok", "blocks": "ok: 1 files, 3 bytes re-hashed", "policy": rules, "cause": "c" * 5000}
    details = attest_details(checks)
    assert len(details) <= 2048
    decoded = json.loads(details)
    assert decoded["policy"]["metrics.m0"] == "FAIL"
    assert decoded["cause"].startswith("ccc")
    assert decoded["cause"].endswith("…")
    small = {"signature": "ok", "cause": "integrity/cid-mismatch: block bafk... does not hash to its CID"}
    assert json.loads(attest_details(small)) == small
