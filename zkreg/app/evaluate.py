"""Evaluate: prove how many rows of a committed dataset a committed model classifies correctly
(`zkreg eval`), and verify such an evaluation (`zkreg verify eval.json`); `attest` records it in the ledger."""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

from zkreg.app.repo import Repo
from zkreg.errors import CidMismatch, EvalNotSetUp, NoTable, NotADataset
from zkreg.progress import SILENT, Progress
from zkreg.registry.manifest import Manifest
from zkreg.registry.unixfs import DEFAULT_PROFILE
from zkreg.zk.evaluation import (
    Evaluation,
    EvaluationResult,
    EvaluationVerdict,
    EvaluationWorkspace,
    check_fits,
)
from zkreg.zk.rows import CommittedRows, commit, load_private, parse_commitment
from zkreg.zk.table import is_table, load_table
from zkreg.zk.workflow import GB, zk_section

PRIVATE_ROWS = "private-rows"
"""The folder of the data dir holding each private dataset's rows and salts (never published)."""


@dataclass(frozen=True)
class EvalRequest:
    model: str
    """Ref of a model published with an evaluation circuit."""
    dataset: str
    """Ref of a dataset with a row commitment (private: this data dir must be its owner)."""
    out_path: Path
    rows: int | None = None
    """Evaluate the first `rows` rows (default: all)."""
    attest: bool = False
    """Append an `attest` entry whose subject is the model and whose details name the evaluation."""


@dataclass(frozen=True)
class EvalEstimate:
    rows: int
    batch: int
    proofs: int
    seconds: float
    peak_bytes: int

    def describe(self) -> str:
        return (
            f"{self.rows} rows in {self.proofs} proofs of {self.batch}: ~{self.seconds:.0f} s, "
            f"peak ~{self.peak_bytes / GB:.1f} GB"
        )


@dataclass(frozen=True)
class VerifyEvaluationRequest:
    path: Path
    attest: bool = False


def _manifests(repo: Repo, request: EvalRequest) -> tuple[Manifest, Manifest, int]:
    model = repo.manifest(repo.resolve(request.model))
    dataset = repo.manifest(repo.resolve(request.dataset))
    zk = zk_section(model)
    if zk is None or zk.eval_vk is None:
        raise EvalNotSetUp(
            f"{model.name}@{model.version} has no evaluation circuit",
            hint="publish it with --zk (or --weights private) and --dataset naming a dataset with rows",
        )
    check_fits(model, zk, dataset)
    assert dataset.rows is not None  # check_fits
    available = dataset.rows["count"]
    count = available if request.rows is None else max(1, min(request.rows, available))
    return model, dataset, count


def estimate_evaluation(repo: Repo, request: EvalRequest, progress: Progress = SILENT) -> EvalEstimate:
    """What `evaluate` will cost, from the evaluation circuit's size and this machine's measured proving cost
    (shown before it starts; the first estimate in a data dir measures the machine first)."""
    model, _, count = _manifests(repo, request)
    zk = zk_section(model)
    assert zk is not None
    assert zk.eval_batch is not None
    proofs = math.ceil(count / zk.eval_batch)
    cost = repo.zk_workspace().estimate(zk.eval_logrows or zk.logrows, zk.mode, progress)
    return EvalEstimate(count, zk.eval_batch, proofs, cost.prove_seconds * proofs, cost.peak_bytes)


def evaluate(repo: Repo, request: EvalRequest, progress: Progress = SILENT) -> EvaluationResult:
    """Prove the model on the first `rows` rows of the dataset and write the signed evaluation bundle."""
    model, dataset, count = _manifests(repo, request)
    rows = committed_rows(repo, dataset)
    result = EvaluationWorkspace(repo.zk_workspace()).evaluate(
        model, dataset, rows, count, repo.identity, request.out_path, progress
    )
    if request.attest:
        _attest(repo, model.cid, result.path, f"{result.correct}/{result.rows} correct on dataset {dataset.cid}")
    return result


def verify_evaluation(repo: Repo, request: VerifyEvaluationRequest) -> EvaluationVerdict:
    """Check every proof of an evaluation, that every row is in the dataset's commitment and none counted twice,
    and that the totals follow; the verdict, or `ProofInvalid` naming what failed."""
    verdict = EvaluationWorkspace(repo.zk_workspace()).judge(Evaluation.load(request.path), repo.manifest)
    if request.attest:
        _attest(repo, verdict.model.cid, request.path, f"verified {verdict.correct}/{verdict.rows} correct")
    return verdict


def _attest(repo: Repo, model: str, bundle: Path, what: str) -> None:
    """The evaluation goes into the store (content-addressed) and an `attest` of the model names its CID."""
    cid = repo.store.put_file(bundle, DEFAULT_PROFILE).cid
    repo.ledger.append(
        repo.identity, "attest", {"subject": model, "verdict": "ok", "details": f"evaluation {cid}: {what}"}
    )


def committed_rows(repo: Repo, dataset: Manifest) -> CommittedRows:
    """The rows behind a dataset's commitment: a private dataset's from this data dir (its owner's); a public
    dataset's from its published file, re-committed and checked against the published commitment."""
    assert dataset.rows is not None
    commitment_cid = dataset.rows["commitment"]
    hashes = parse_commitment(
        b"".join(repo.store.iter_file(commitment_cid)), what=f"row commitment of {dataset.name}@{dataset.version}"
    )
    if dataset.rows["visibility"] == "private":
        return load_private(repo.home / PRIVATE_ROWS, commitment_cid, hashes)
    tables = [name for name in dataset.files if is_table(Path(name))]
    if len(tables) != 1:
        raise NotADataset(f"{dataset.name}@{dataset.version} publishes {len(tables)} data files, not one")
    with tempfile.TemporaryDirectory(prefix="rows-") as folder:
        path = Path(folder) / Path(tables[0]).name
        repo.store.get_file(dataset.files[tables[0]], path, dataset.sizes[tables[0]])
        rows = commit(load_table(path, dataset.rows["label"] if path.suffix == ".csv" else None), private=False)
    if rows.hashes != hashes:
        raise CidMismatch(f"{dataset.name}@{dataset.version}'s published rows do not give its row commitment")
    return rows


def table_file(files: dict[str, Path]) -> tuple[str, Path]:
    """The one .csv or .npz file among a dataset's files."""
    tables = [(name, path) for name, path in files.items() if is_table(path)]
    if len(tables) != 1:
        raise NoTable(f"a dataset with rows needs exactly one .csv or .npz file, found {len(tables)}")
    return tables[0]
