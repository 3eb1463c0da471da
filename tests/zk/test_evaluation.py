"""Proven evaluations with real ezkl proofs on the tiny MLP: a private dataset of a few rows, a private-weights
model with an evaluation circuit, one evaluation made once per module, and the attacks on it (each exit 4)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.zk.models import build_mlp, mlp_reference
from zkreg.api import (
    EvalRequest,
    MetricsRequest,
    PublishRequest,
    Repo,
    VerifyRequest,
    evaluate,
    proven_metrics,
    publish,
    verify,
)
from zkreg.identity import Identity
from zkreg.zk.bundle import canonical
from zkreg.zk.rows import DATA_SCALE, SALT_COLUMNS, encode_row, parse_commitment, row_hash
from zkreg.zk.table import load_table

pytestmark = pytest.mark.slow  # two publishes with evaluation circuits (four setups) and four proofs

ROWS = [  # features, label: the MLP (seed 0) gets some right and some wrong
    ([0.5, -0.25, 0.75, 0.1], 0),
    ([-0.8, 0.3, 0.2, -0.6], 1),
    ([0.9, 0.9, -0.4, 0.2], 2),
]
QUANTISATION_MARGIN = 8 / (1 << DATA_SCALE)
"""The stated tolerance: inputs and weights are quantised at 2^-7, so a row whose two top float logits are closer
than 8 quantisation steps may be classified either way in the circuit; every other row must agree exactly."""


@dataclass
class Evaluated:
    repo: Repo
    home: Path
    folder: Path
    csv: Path
    eval_path: Path
    other_dataset_eval: Path
    other_model: str

    def bundle(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.eval_path.read_text())
        return loaded

    def write(self, bundle: dict[str, Any], name: str) -> Path:
        path = self.folder / name
        path.write_text(json.dumps(bundle))
        return path


def write_rows(path: Path) -> Path:
    lines = ["f0,f1,f2,f3,label"] + [",".join([*map(str, features), str(label)]) for features, label in ROWS]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Evaluated]:
    folder = tmp_path_factory.mktemp("eval")
    repo = Repo.init(folder / "home")
    csv = write_rows(folder / "rows.csv")
    publish(repo, PublishRequest([csv], name="rows", kind="dataset", private=True))
    publish(repo, PublishRequest([csv], name="rows-public", kind="dataset", commit_rows=True))  # zero salts
    model = build_mlp(folder / "mlp.onnx", seed=0)
    publish(repo, PublishRequest([model], name="mlp", weights="private", dataset="rows", eval_batch=2))
    other = build_mlp(folder / "other.onnx", seed=1)
    other_model = publish(
        repo, PublishRequest([other], name="other", weights="private", dataset="rows", eval_batch=2)
    ).cid
    evaluate(repo, EvalRequest("mlp", "rows", folder / "eval.json"))
    evaluate(repo, EvalRequest("mlp", "rows-public", folder / "eval-public.json"))
    yield Evaluated(repo, folder / "home", folder, csv, folder / "eval.json", folder / "eval-public.json", other_model)
    repo.close()


def resign(bundle: dict[str, Any], identity: Identity) -> dict[str, Any]:
    """What a dishonest evaluator can do: edit its own bundle and sign it again."""
    body = {key: value for key, value in bundle.items() if key != "signature"}
    return {**body, "signature": identity.sign(canonical(body)).hex()}


def verify_cli(cli: Any, evaluated: Evaluated, path: Path) -> Any:
    return cli("verify", str(path), "--json", home_dir=evaluated.home)


def test_the_proven_count_matches_a_float_forward_pass_within_quantisation(evaluated: Evaluated, cli: Any) -> None:
    result = verify_cli(cli, evaluated, evaluated.eval_path)
    assert result.code == 0, result.stderr
    verdict = result.json()
    assert (verdict["rows"], verdict["proofs"]) == (3, 2)  # 2 rows per proof: the second is filled up, counted once
    correct, near_ties = 0, 0
    for features, label in ROWS:
        logits = mlp_reference(0, features).ravel()
        top_two = np.sort(logits)[-2:]
        near_ties += int(top_two[1] - top_two[0] < QUANTISATION_MARGIN)
        correct += int(int(np.argmax(logits)) == label)
    assert abs(verdict["correct"] - correct) <= near_ties
    assert verdict["accuracy"] == round(verdict["correct"] / 3, 6)
    assert 0 < correct < 3  # the rows test both outcomes


def test_an_edited_total_is_refused(evaluated: Evaluated, cli: Any) -> None:
    bundle = evaluated.bundle()
    bundle["correct"] = 3 if bundle["correct"] != 3 else 2
    bundle["accuracy"] = round(bundle["correct"] / 3, 6)
    result = verify_cli(cli, evaluated, evaluated.write(resign(bundle, evaluated.repo.identity), "total.json"))
    assert (result.code, result.json()["error"]["code"]) == (4, "proof/total-mismatch")


def test_an_edit_without_the_evaluators_key_breaks_the_signature(evaluated: Evaluated, cli: Any) -> None:
    bundle = evaluated.bundle()
    bundle["rows"] = 2
    result = verify_cli(cli, evaluated, evaluated.write(bundle, "unsigned.json"))
    assert (result.code, result.json()["error"]["code"]) == (4, "integrity/bad-signature")


def test_rows_that_are_not_in_the_named_datasets_commitment_are_refused(evaluated: Evaluated, cli: Any) -> None:
    """Proofs over other rows (the same values, published without salts as a public dataset) claimed for the
    private `rows`; the public evaluation itself verifies."""
    assert verify_cli(cli, evaluated, evaluated.other_dataset_eval).code == 0
    bundle = json.loads(evaluated.other_dataset_eval.read_text())
    bundle["dataset"] = evaluated.repo.resolve("rows")
    result = verify_cli(cli, evaluated, evaluated.write(resign(bundle, evaluated.repo.identity), "foreign.json"))
    assert (result.code, result.json()["error"]["code"]) == (4, "proof/row-not-committed")


def test_a_dataset_commitment_swapped_after_the_fact_is_refused(evaluated: Evaluated, cli: Any) -> None:
    """The evaluation re-pointed at a later commitment of the same data (a new version, new salts)."""
    later = publish(evaluated.repo, PublishRequest([evaluated.csv], name="rows", kind="dataset", private=True))
    bundle = evaluated.bundle()
    bundle["dataset"] = later.cid
    result = verify_cli(cli, evaluated, evaluated.write(resign(bundle, evaluated.repo.identity), "swapped.json"))
    assert (result.code, result.json()["error"]["code"]) == (4, "proof/row-not-committed")


def test_a_row_counted_twice_is_refused(evaluated: Evaluated, cli: Any) -> None:
    bundle = evaluated.bundle()
    bundle["proofs"] = [*bundle["proofs"], bundle["proofs"][0]]
    bundle["rows"] += 2
    result = verify_cli(cli, evaluated, evaluated.write(resign(bundle, evaluated.repo.identity), "twice.json"))
    assert (result.code, result.json()["error"]["code"]) == (4, "proof/row-counted-twice")


def test_proofs_of_one_model_claimed_for_another_are_refused(evaluated: Evaluated, cli: Any) -> None:
    bundle = evaluated.bundle()
    bundle["model"] = evaluated.other_model
    result = verify_cli(cli, evaluated, evaluated.write(resign(bundle, evaluated.repo.identity), "other.json"))
    assert (result.code, result.json()["error"]["code"]) == (4, "proof/does-not-verify")


def test_a_guessed_row_cannot_be_confirmed_from_the_commitment(evaluated: Evaluated) -> None:
    repo = evaluated.repo
    dataset = repo.manifest(repo.resolve("rows"))
    assert dataset.rows is not None
    published = parse_commitment(b"".join(repo.store.iter_file(dataset.rows["commitment"])), what="commitment")
    table = load_table(evaluated.csv)
    unsalted = {row_hash(encode_row(table, index, (0,) * SALT_COLUMNS)) for index in range(table.count)}
    assert unsalted.isdisjoint(published)  # the right guess, hashed as anyone could, matches nothing
    owner_copy = json.loads((evaluated.home / "private-rows" / f"{dataset.rows['commitment']}.json").read_text())
    salted = [row_hash(encode_row(table, index, tuple(owner_copy["salts"][index]))) for index in range(table.count)]
    assert tuple(salted) == published  # only with the owner's secret salts


def test_proven_accuracy_in_a_later_version_is_shown_and_re_verified(evaluated: Evaluated, cli: Any) -> None:
    repo = evaluated.repo
    model = evaluated.folder / "mlp.onnx"
    result = publish(
        repo,
        PublishRequest(
            [model], name="mlp", weights="private", dataset="rows", eval_batch=2, metrics_proof=evaluated.eval_path
        ),
    )
    report = proven_metrics(repo, MetricsRequest(result.cid))
    (metric,) = report.proven
    bundle = evaluated.bundle()
    assert (metric.name, metric.correct, metric.rows, metric.verified) == ("accuracy", bundle["correct"], 3, True)
    assert metric.dataset == repo.resolve("rows@1")
    assert verify(repo, VerifyRequest(result.cid)).metrics == (metric,)
    shown = cli("show", "mlp", home_dir=evaluated.home)
    assert f"metric   accuracy {metric.value} proven ({metric.correct}/3 rows" in shown.stdout
    refused = cli(
        "publish", str(evaluated.folder / "other.onnx"), "--name", "other", "--weights", "private",
        "--dataset", "rows@1", "--eval-batch", "2", "--metrics-proof", str(evaluated.eval_path), "--json",
        home_dir=evaluated.home,
    )  # fmt: skip
    assert (refused.code, refused.json()["error"]["code"]) == (1, "input/metrics-proof")


def test_an_attested_evaluation_is_an_attest_of_the_model_naming_the_evaluation(evaluated: Evaluated, cli: Any) -> None:
    result = cli("verify", str(evaluated.eval_path), "--attest", "--json", home_dir=evaluated.home)
    assert result.code == 0, result.stderr
    repo = evaluated.repo
    attests = [entry.body for entry in repo.ledger.entries(repo.identity.did) if entry.type == "attest"]
    assert attests[-1]["subject"] == evaluated.bundle()["model"]
    assert attests[-1]["details"].startswith("evaluation bafk")


def test_a_ci_policy_gates_on_the_proven_accuracy_and_attests_it(evaluated: Evaluated, cli: Any) -> None:
    """`verify --policy`'s `[metrics]` rule reads the re-verified evaluation, never a claimed number."""
    repo = evaluated.repo
    model = evaluated.folder / "mlp.onnx"
    cid = publish(
        repo,
        PublishRequest(
            [model], name="mlp", weights="private", dataset="rows", eval_batch=2, metrics_proof=evaluated.eval_path
        ),
    ).cid
    (metric,) = proven_metrics(repo, MetricsRequest(cid)).proven
    met, unmet = evaluated.folder / "met.toml", evaluated.folder / "unmet.toml"
    met.write_text(f"[metrics]\naccuracy = {{ min = {metric.value} }}\n")
    unmet.write_text(f"[metrics]\naccuracy = {{ min = {metric.value + 0.01} }}\n")
    passed = cli("verify", cid, "--policy", str(met), "--attest", "--json", home_dir=evaluated.home)
    assert passed.code == 0, passed.stderr
    assert passed.json()["policy"]["rules"][0]["actual"] == metric.value
    attested = json.loads([e for e in repo.ledger.entries(repo.identity.did) if e.type == "attest"][-1].body["details"])
    assert attested["metrics"]["accuracy"].startswith(f"{metric.value} proven ({metric.correct}/3 rows")
    failed = cli("verify", cid, "--policy", str(unmet), "--json", home_dir=evaluated.home)
    assert failed.code == 5
    assert f"proven accuracy {metric.value:g} < min" in failed.json()["error"]["rules"][0]["detail"]
