"""Metrics of a model: the proven ones (an evaluation bundle the manifest records, re-verified here) and the
claimed ones (whatever the author typed). `proven_metrics` is what policies (`verify --policy`'s `[metrics]`
rule), `show` and `verify MODEL` read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zkreg.app.repo import Repo
from zkreg.errors import BadMetricsProof, MalformedObject, ProofTotalMismatch, ZkregError
from zkreg.registry.manifest import Manifest
from zkreg.zk.documents import join_bounded
from zkreg.zk.evaluation import MAX_EVALUATION_BYTES, Evaluation, EvaluationWorkspace
from zkreg.zk.workflow import zk_section


@dataclass(frozen=True)
class MetricsRequest:
    ref: str
    """Manifest CID, `name@version` or `name` (latest) of a model."""
    verify: bool = True
    """Re-verify each proven metric's evaluation (every proof); False: only read what the manifest records."""


@dataclass(frozen=True)
class ProvenMetric:
    """A metric the manifest records as proven by an evaluation bundle."""

    name: str
    """"accuracy"."""
    value: float
    """correct / rows."""
    correct: int
    rows: int
    dataset: str
    """The dataset manifest's CID the rows are committed in."""
    evaluation: str
    """The evaluation bundle's CID (a file of the manifest)."""
    verified: bool | None
    """True: the bundle verified and matches the record; False: it did not (see `reason`); None: not checked."""
    reason: str | None = None
    """Why it did not verify: `code: message`."""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "correct": self.correct,
            "rows": self.rows,
            "dataset": self.dataset,
            "evaluation": self.evaluation,
            "verified": self.verified,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class MetricsReport:
    manifest: Manifest
    proven: tuple[ProvenMetric, ...]
    claimed: dict[str, Any]
    """Metrics the author typed, unproven."""


def proven_metrics(repo: Repo, request: MetricsRequest) -> MetricsReport:
    """Every proven metric of a model (re-verified unless `verify=False`) and its claimed ones."""
    manifest = repo.manifest(repo.resolve(request.ref))
    proven: list[ProvenMetric] = []
    claimed: dict[str, Any] = {}
    for name, entry in manifest.metrics.items():
        record = _proven_record(entry)
        if record is None:
            claimed[name] = entry
            continue
        correct, rows, dataset, evaluation = record
        metric = ProvenMetric(name, round(correct / rows, 6), correct, rows, dataset, evaluation, None)
        if request.verify:
            metric = _checked(repo, manifest, metric)
        proven.append(metric)
    return MetricsReport(manifest, tuple(proven), claimed)


def _proven_record(entry: Any) -> tuple[int, int, str, str] | None:
    """(correct, rows, dataset CID, evaluation CID) of a manifest's proven metric; None if `entry` is not one."""
    if not isinstance(entry, dict) or set(entry) != {"proven"} or not isinstance(entry["proven"], dict):
        return None
    proven = entry["proven"]
    correct, rows = proven.get("correct"), proven.get("rows")
    dataset, evaluation = proven.get("dataset"), proven.get("evaluation")
    links = [link.get("/") if isinstance(link, dict) else None for link in (dataset, evaluation)]
    if (
        not isinstance(correct, int)
        or not isinstance(rows, int)
        or not 0 <= correct <= rows
        or rows < 1
        or not all(isinstance(link, str) for link in links)
    ):
        return None
    return correct, rows, str(links[0]), str(links[1])


def _checked(repo: Repo, manifest: Manifest, metric: ProvenMetric) -> ProvenMetric:
    try:
        evaluation = load_held_evaluation(repo, metric.evaluation)
        verdict = EvaluationWorkspace(repo.zk_workspace()).judge(evaluation, repo.manifest)
        check_binds(manifest, verdict.model)
        if (verdict.dataset.cid, verdict.correct, verdict.rows) != (metric.dataset, metric.correct, metric.rows):
            raise ProofTotalMismatch(
                f"the manifest records {metric.correct}/{metric.rows} on {metric.dataset}; the evaluation proves "
                f"{verdict.correct}/{verdict.rows} on {verdict.dataset.cid}"
            )
    except ZkregError as error:
        return ProvenMetric(**{**metric.__dict__, "verified": False, "reason": f"{error.code}: {error.message}"})
    return ProvenMetric(**{**metric.__dict__, "verified": True})


def load_held_evaluation(repo: Repo, cid: str) -> Evaluation:
    what = f"evaluation {cid}"
    data = join_bounded(repo.store.iter_file(cid), what=what, max_bytes=MAX_EVALUATION_BYTES, error=MalformedObject)
    return Evaluation.from_bytes(data, what=what)


def check_binds(manifest: Manifest, evaluated: Manifest) -> None:
    """An evaluation of `evaluated` speaks for `manifest` if both publish the same circuits, or if one author
    signed both and, with public weights, both publish the same ONNX file. With private weights the author's
    signature is the whole binding (as for what a fixed-mode vk holds at all): docs/zk.md."""
    ours, theirs = zk_section(manifest), zk_section(evaluated)
    if ours is not None and theirs is not None and (ours.vk, ours.eval_vk) == (theirs.vk, theirs.eval_vk):
        return
    onnx = sorted(cid for name, cid in manifest.files.items() if name.endswith(".onnx"))
    evaluated_onnx = sorted(cid for name, cid in evaluated.files.items() if name.endswith(".onnx"))
    same_weights = onnx == evaluated_onnx if manifest.weights == "public" else evaluated.weights == "private"
    if manifest.author != evaluated.author or not same_weights:
        raise BadMetricsProof(
            f"the evaluation is of {evaluated.name}@{evaluated.version}, which is not this model "
            "(another author, or other weights)"
        )
