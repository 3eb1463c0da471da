"""Proven evaluations: a signed bundle of proofs that a committed model, run on committed dataset rows, matched
their labels so many times, which anyone can check without seeing a row or a weight.

The evaluation circuit is a wrapper around the model (`build_eval_model`), set up at publish next to the
inference circuit, its settings and vk named in the model's manifest (`zk.eval_settings`, `zk.eval_vk`): the
model's signature binds both circuits, as it binds the inference vk. It takes `batch` rows, each one vector
(features, one-hot label, salts; `zkreg.zk.rows`), as *hashed* inputs, so the proof's public instances are each
row's Poseidon hash (computed in-circuit) and, per row, one bit: whether the model's top class is the labelled
one (ties count as a match). Rows stay private; weights are fixed or hashed as the model's inference circuit has
them.

Trust decisions in `judge_evaluation`: the evaluator's signature; the model manifest's signature and its
evaluation circuit (settings, vk, SRS fetched by CID, every block re-hashed); the dataset manifest's signature and
its row commitment; every proof against that vk; every row hash in the commitment; a row proved twice (the last
batch is filled up with repeats of its own rows) counted once, with the same outcome each time; the totals
recomputed from the instances. Nothing is read from the bundle that the proofs do not cover, except which
manifests it names.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from zkreg.errors import (
    BadCircuitSettings,
    EvalNotSetUp,
    EvalShapeMismatch,
    InvalidInput,
    MalformedObject,
    NotADataset,
    ProofArtefactMismatch,
    ProofDatasetMismatch,
    ProofDoesNotVerify,
    ProofInstancesShape,
    ProofRowCountedTwice,
    ProofRowNotCommitted,
    ProofTotalMismatch,
    ProofVersionMismatch,
    ProvingKeyNotFound,
    ZkVkMismatch,
)
from zkreg.fsutil import atomic_write
from zkreg.identity import Identity, verify_signature
from zkreg.progress import Progress
from zkreg.registry.manifest import Manifest
from zkreg.registry.unixfs import file_cid
from zkreg.schemas import validate
from zkreg.zk.backend import ProofBackend
from zkreg.zk.bundle import PROOF_KEYS, canonical
from zkreg.zk.cache import ArtefactCache, CacheEntry
from zkreg.zk.documents import MAX_SETTINGS_BYTES, ZkSection, join_bounded, parse_json, read_bounded
from zkreg.zk.rows import DATA_SCALE, SALT_COLUMNS, CommittedRows, parse_commitment

SCHEMA_ID = "zkreg/evaluation/1"
DEFAULT_BATCH = 30
"""Rows per proof. Measured on the 2-core machine (examples/tiny-mlp.onnx, logrows 15 for every batch size up to
30, load 5-8): 26 s per row proved one at a time, 9.4 s per row at 5, 1.35 s per row at 30. The circuit's fixed
cost (its 2^15 rows) dominates, so batching as many rows as still fit the same size is the cheap choice."""
MAX_EVALUATION_BYTES = 16 << 20
MAX_COMMITMENT_BYTES = 80 << 20


@dataclass(frozen=True)
class EvalShape:
    """What an evaluation circuit takes: `batch` rows of `features` features and `classes` one-hot label columns."""

    features: int
    classes: int
    batch: int

    @property
    def width(self) -> int:
        return self.features + self.classes + SALT_COLUMNS


def model_shape(model: Path, batch: int) -> EvalShape:
    """The evaluation shape of a classifier with one input [1, F] and one output [1, C]."""
    import onnx  # local: onnx takes ~0.7 s to import

    graph = onnx.load(str(model)).graph
    initialisers = {tensor.name for tensor in graph.initializer}
    inputs = [value for value in graph.input if value.name not in initialisers]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise EvalShapeMismatch("an evaluation needs a model with one input and one output (a classifier)")
    sizes = []
    for value in (inputs[0], graph.output[0]):
        dims = [dim.dim_value for dim in value.type.tensor_type.shape.dim]
        sizes.append(math.prod(dims))
        if not dims or dims[0] != 1 or any(dim <= 0 for dim in dims):
            raise EvalShapeMismatch(f"an evaluation needs fixed shapes with batch 1; {value.name} has {dims}")
    return EvalShape(features=sizes[0], classes=sizes[1], batch=batch)


def build_eval_model(model: Path, out: Path, shape: EvalShape) -> None:
    """The wrapper: `batch` row inputs [1, width] -> per row: features -> the model's graph -> logits; match =
    (logit of the labelled class >= the top logit) -> one output [1, batch] of match bits. The model's weights
    are shared by every copy of its graph."""
    import numpy as np  # local: numpy and onnx are heavy
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    source = onnx.load(str(model))
    graph = source.graph
    initialisers = [*graph.initializer]
    weights = {tensor.name for tensor in initialisers}
    model_input = next(value.name for value in graph.input if value.name not in weights)
    model_output = graph.output[0].name

    def constant(name: str, values: list[int]) -> str:
        initialisers.append(numpy_helper.from_array(np.asarray(values, dtype=np.int64), f"zkreg_eval_{name}"))
        return f"zkreg_eval_{name}"

    axis = constant("axis", [1])
    bounds = {
        "features": (constant("f0", [0]), constant("f1", [shape.features])),
        "label": (constant("l0", [shape.features]), constant("l1", [shape.features + shape.classes])),
    }
    nodes: list[Any] = []
    inputs, matches = [], []
    for row in range(shape.batch):
        name = f"row{row}"
        inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, shape.width]))
        start, end = bounds["features"]
        nodes.append(helper.make_node("Slice", [name, start, end, axis], [f"zkreg_x{row}"]))
        nodes.append(
            helper.make_node(
                "Reshape",
                [f"zkreg_x{row}", constant(f"shape{row}", _input_dims(graph, model_input))],
                [f"zkreg_in{row}"],
            )
        )
        start, end = bounds["label"]
        nodes.append(helper.make_node("Slice", [name, start, end, axis], [f"zkreg_hot{row}"]))

        def renamed(tensor: str, row: int = row) -> str:
            if tensor in weights or tensor == "":
                return tensor
            return f"zkreg_in{row}" if tensor == model_input else f"{tensor}__r{row}"

        for node in graph.node:
            copy = onnx.NodeProto()
            copy.CopyFrom(node)
            copy.name = f"{node.name}__r{row}" if node.name else ""
            del copy.input[:]
            copy.input.extend(renamed(tensor) for tensor in node.input)
            del copy.output[:]
            copy.output.extend(renamed(tensor) for tensor in node.output)
            nodes.append(copy)
        logits = f"zkreg_logits{row}"
        nodes.append(
            helper.make_node("Reshape", [renamed(model_output), constant(f"flat{row}", [1, shape.classes])], [logits])
        )
        nodes.append(helper.make_node("Mul", [logits, f"zkreg_hot{row}"], [f"zkreg_pick{row}"]))
        nodes.append(helper.make_node("ReduceSum", [f"zkreg_pick{row}", axis], [f"zkreg_label{row}"], keepdims=1))
        nodes.append(helper.make_node("ReduceMax", [logits], [f"zkreg_top{row}"], axes=[1], keepdims=1))
        nodes.append(helper.make_node("GreaterOrEqual", [f"zkreg_label{row}", f"zkreg_top{row}"], [f"zkreg_ge{row}"]))
        nodes.append(helper.make_node("Cast", [f"zkreg_ge{row}"], [f"zkreg_match{row}"], to=TensorProto.FLOAT))
        matches.append(f"zkreg_match{row}")
    if len(matches) > 1:
        nodes.append(helper.make_node("Concat", matches, ["matches"], axis=1))
    else:
        nodes.append(helper.make_node("Identity", matches, ["matches"]))
    wrapper = helper.make_graph(
        nodes,
        "zkreg-evaluation",
        inputs,
        [helper.make_tensor_value_info("matches", TensorProto.FLOAT, [1, shape.batch])],
        initialisers,
    )
    opset = max((entry.version for entry in source.opset_import if entry.domain in ("", "ai.onnx")), default=13)
    built = helper.make_model(wrapper, opset_imports=[helper.make_opsetid("", max(opset, 13))])
    built.ir_version = source.ir_version
    if opset >= 18:  # ReduceMax takes its axes as an input from opset 18 on
        raise EvalShapeMismatch(f"evaluation circuits support ONNX opsets 13 to 17, the model uses {opset}")
    onnx.save(built, str(out))


def _input_dims(graph: Any, name: str) -> list[int]:
    value = next(value for value in graph.input if value.name == name)
    return [dim.dim_value for dim in value.type.tensor_type.shape.dim]


@dataclass(frozen=True)
class PreparedEval:
    """An evaluation circuit's wrapper model and settings in `folder`, before its setup."""

    folder: Path
    batch: int
    width: int
    logrows: int


def prepare_eval(backend: ProofBackend, staging: Path, mode: str, batch: int) -> PreparedEval:
    """Build the wrapper of `staging/model.onnx` and its calibrated settings in `staging/eval/`."""
    folder = staging / "eval"
    folder.mkdir()
    shape = model_shape(staging / "model.onnx", batch)
    build_eval_model(staging / "model.onnx", folder / "model.onnx", shape)
    (folder / "calibration.json").write_text(json.dumps(calibration_rows(shape)))
    logrows = backend.make_eval_settings(
        folder / "model.onnx", folder / "calibration.json", mode, folder / "settings.json", DATA_SCALE
    )
    return PreparedEval(folder, batch, shape.width, logrows)


def setup_eval(backend: ProofBackend, folder: Path, srs: Path, memory_limit: int | None) -> None:
    backend.compile(folder / "model.onnx", folder / "settings.json", folder / "circuit.ezkl")
    backend.setup(folder / "circuit.ezkl", srs, folder / "vk.key", folder / "pk.key", memory_limit)


def calibration_rows(shape: EvalShape) -> dict[str, Any]:
    """Representative rows for calibrating the evaluation circuit: features uniform in [-1, 1], a one-hot label,
    zero salts (salts flow into no operation, only into the hash)."""
    import random

    rng = random.Random(0)  # noqa: S311  (calibration needs representative ranges, not secrecy)
    rows = []
    for row in range(shape.batch):
        hot = [0.0] * shape.classes
        hot[row % shape.classes] = 1.0
        rows.append([rng.uniform(-1.0, 1.0) for _ in range(shape.features)] + hot + [0.0] * SALT_COLUMNS)
    return {"input_data": rows}


# ---- the evaluation bundle -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    """A signed evaluation bundle (schema `evaluation.v1`), its evaluator's signature checked."""

    model: str
    dataset: str
    backend_name: str
    backend_version: str
    rows: int
    correct: int
    accuracy: float
    proofs: tuple[dict[str, Any], ...]
    evaluator: str
    created: str

    @classmethod
    def from_bytes(cls, data: bytes, *, what: str = "evaluation") -> Evaluation:
        document = parse_json(data, what=what, max_bytes=MAX_EVALUATION_BYTES, error=MalformedObject)
        validate("evaluation.v1", document, what=what)
        body = {key: value for key, value in document.items() if key != "signature"}
        verify_signature(document["evaluator"], canonical(body), bytes.fromhex(document["signature"]))
        return cls(
            model=document["model"],
            dataset=document["dataset"],
            backend_name=document["backend"]["name"],
            backend_version=document["backend"]["version"],
            rows=document["rows"],
            correct=document["correct"],
            accuracy=float(document["accuracy"]),
            proofs=tuple(document["proofs"]),
            evaluator=document["evaluator"],
            created=document["created"],
        )

    @classmethod
    def load(cls, path: Path) -> Evaluation:
        data = read_bounded(path, what="evaluation", max_bytes=MAX_EVALUATION_BYTES, error=MalformedObject)
        return cls.from_bytes(data, what=f"evaluation {path.name}")


@dataclass(frozen=True)
class EvaluationVerdict:
    model: Manifest
    dataset: Manifest
    rows: int
    correct: int
    accuracy: float
    evaluator: str
    srs_kind: str
    proofs: int


@dataclass(frozen=True)
class EvaluationResult:
    bundle: dict[str, Any]
    path: Path
    rows: int
    correct: int
    accuracy: float
    proofs: int
    seconds: float


def is_evaluation(data: bytes) -> bool:
    """Whether a JSON file's first bytes name the evaluation schema (to route `zkreg verify FILE`)."""
    return SCHEMA_ID.encode() in data[:4096] or b'"evaluator"' in data[:4096]


def batches(count: int, batch: int) -> list[list[int]]:
    """Row indices per proof; the last batch is filled up with repeats of its own first rows (counted once)."""
    groups = [list(range(start, min(start + batch, count))) for start in range(0, count, batch)]
    last = groups[-1]
    groups[-1] = [*last, *(last[index % len(last)] for index in range(batch - len(last)))]
    return groups


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- proving and judging ---------------------------------------------------------------------------------------


class EvaluationWorkspace:
    """Evaluation circuits of one data dir: `<data dir>/zk/eval-cache/<inference settings CID>/<eval settings
    CID>/` holds the wrapper model, settings, circuit and keys (private for private weights)."""

    def __init__(self, workspace: Any) -> None:
        from zkreg.zk.workflow import ZkWorkspace

        assert isinstance(workspace, ZkWorkspace)
        self.zk = workspace
        self.backend = workspace.backend
        self.cache = ArtefactCache(workspace.cache.root.parent / "eval-cache")

    def entry_for(self, manifest: Manifest, zk: ZkSection, progress: Progress) -> CacheEntry:
        """The evaluation circuit and keys for a model: from this data dir's cache (made at publish), or, for
        public weights, rebuilt from the published model and checked against the published eval vk."""
        eval_settings, eval_vk = zk_eval(manifest, zk)
        entry = self.cache.get(zk.settings, eval_settings)
        if entry is not None and entry.meta.get("version") == self.backend.version and entry.meta.get("vk") == eval_vk:
            return entry
        onnx_files = [name for name in manifest.files if name.endswith(".onnx")]
        if manifest.weights != "public" or len(onnx_files) != 1:
            raise ProvingKeyNotFound(
                f"no evaluation key for {manifest.name}@{manifest.version}: its weights are private to its owner",
                hint="only the owner (with the cache made at publish) can evaluate this model",
            )
        staging = self.cache.new_staging()
        try:
            progress.begin("zk: building the evaluation circuit (cold start)", None)
            fetched = staging / "fetched"
            self.zk._fetch_model(manifest, onnx_files[0], fetched, staging / "source.onnx")
            shape = model_shape(staging / "source.onnx", zk.eval_batch or 1)
            build_eval_model(staging / "source.onnx", staging / "model.onnx", shape)
            shutil.copyfile(self.zk.fetch(eval_settings, fetched), staging / "settings.json")
            self.backend.compile(staging / "model.onnx", staging / "settings.json", staging / "circuit.ezkl")
            from zkreg.zk.workflow import memory_fence

            self.backend.setup(
                staging / "circuit.ezkl",
                self.zk.fetch(zk.srs, fetched),
                staging / "vk.key",
                staging / "pk.key",
                memory_fence(),
            )
            shutil.rmtree(fetched)
            if file_cid(staging / "vk.key") != eval_vk:
                raise ZkVkMismatch("the rebuilt evaluation verifying key is not the published one")
            return self.cache.commit(staging, self.meta(zk.settings, eval_settings, eval_vk, zk.srs))
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        finally:
            progress.end()

    def meta(self, settings: str, eval_settings: str, eval_vk: str, srs: str) -> dict[str, Any]:
        return {
            "backend": self.backend.name,
            "version": self.backend.version,
            "model": settings,  # the key: the inference circuit's settings CID names the model's circuits
            "settings": eval_settings,
            "vk": eval_vk,
            "srs": srs,
        }

    def evaluate(
        self,
        model: Manifest,
        dataset: Manifest,
        rows: CommittedRows,
        count: int,
        identity: Identity,
        out: Path,
        progress: Progress,
    ) -> EvaluationResult:
        from zkreg.zk.ezkl_backend import untyped_ezkl
        from zkreg.zk.workflow import memory_fence, zk_section

        started = time.perf_counter()
        zk = zk_section(model)
        if zk is None or zk.eval_vk is None:
            raise EvalNotSetUp(
                f"{model.name}@{model.version} has no evaluation circuit",
                hint="publish the model with --zk (or --weights private) and --dataset naming a dataset with rows",
            )
        self.zk._check_version(zk)
        check_fits(model, zk, dataset)
        entry = self.entry_for(model, zk, progress)
        batch = zk.eval_batch or 1
        groups = batches(count, batch)
        proofs = []
        ezkl = untyped_ezkl()
        correct_rows: dict[str, int] = {}
        self.zk._work.mkdir(parents=True, exist_ok=True)
        srs = self.zk.fetch(zk.srs, self.zk._work)
        progress.begin(f"zk: proving {count} rows in {len(groups)} proofs of {batch}", len(groups))
        try:
            with tempfile.TemporaryDirectory(prefix="eval-", dir=self.zk._work) as folder:
                for number, group in enumerate(groups):
                    data = Path(folder) / f"rows-{number}.json"
                    data.write_text(json.dumps({"input_data": [rows.vector(index) for index in group]}))
                    proof_file = Path(folder) / f"proof-{number}.json"
                    self.backend.prove(
                        entry.file("circuit.ezkl"), entry.file("pk.key"), srs, data, proof_file, memory_fence()
                    )
                    proof = json.loads(proof_file.read_text())
                    kept = {key: proof[key] for key in PROOF_KEYS if key in proof}
                    column = kept["instances"][0]
                    for position, _index in enumerate(group):
                        correct_rows[column[position]] = ezkl.felt_to_int(column[batch + position])
                    proofs.append(kept)
                    progress.advance(1)
        finally:
            progress.end()
        correct = sum(correct_rows.values())
        body = {
            "schema": SCHEMA_ID,
            "model": model.cid,
            "dataset": dataset.cid,
            "backend": {"name": self.backend.name, "version": self.backend.version},
            "rows": count,
            "correct": correct,
            "accuracy": round(correct / count, 6),
            "proofs": proofs,
            "evaluator": identity.did,
            "created": _now(),
        }
        accuracy = round(correct / count, 6)
        body["accuracy"] = accuracy
        bundle = {**body, "signature": identity.sign(canonical(body)).hex()}
        atomic_write(out, (json.dumps(bundle, sort_keys=True) + "\n").encode())
        return EvaluationResult(bundle, out, count, correct, accuracy, len(proofs), time.perf_counter() - started)

    def judge(self, evaluation: Evaluation, load_manifest: Callable[[str], Manifest]) -> EvaluationVerdict:
        """The verdict on a parsed evaluation, or `ProofInvalid` (or another `ZkregError`) naming what failed."""
        from zkreg.zk.ezkl_backend import untyped_ezkl
        from zkreg.zk.workflow import zk_section

        model = load_manifest(evaluation.model)
        dataset = load_manifest(evaluation.dataset)
        zk = zk_section(model)
        if zk is None or zk.eval_vk is None or zk.eval_settings is None:
            raise ProofArtefactMismatch(f"model {model.cid} publishes no evaluation circuit to verify against")
        if dataset.kind != "dataset" or dataset.rows is None:
            raise ProofDatasetMismatch(f"{evaluation.dataset} is not a dataset with a row commitment")
        if (evaluation.backend_name, evaluation.backend_version) != (zk.backend, zk.version):
            raise ProofVersionMismatch(
                f"the evaluation was made with {evaluation.backend_name} {evaluation.backend_version}, the model "
                f"was set up with {zk.backend} {zk.version}",
            )
        self.zk._check_version(zk)
        try:
            check_fits(model, zk, dataset)
        except InvalidInput as exc:  # judging foreign data: a dataset that does not fit is a failed verification
            raise ProofDatasetMismatch(exc.message) from None
        batch = zk.eval_batch or 1
        commitment = set(
            parse_commitment(
                join_bounded(
                    self.zk.store.iter_file(dataset.rows["commitment"]),
                    what="row commitment",
                    max_bytes=MAX_COMMITMENT_BYTES,
                    error=MalformedObject,
                ),
                what=f"row commitment of {dataset.name}@{dataset.version}",
            )
        )
        columns = []
        for number, proof in enumerate(evaluation.proofs):
            column = proof["instances"][0] if len(proof["instances"]) == 1 else []
            if len(column) != 2 * batch:
                raise ProofInstancesShape(
                    f"proof {number}'s public instances are not {batch} row hashes and {batch} outcomes"
                )
            columns.append(column)
        outcomes: dict[str, int] = {}
        ezkl = untyped_ezkl()
        for number, column in enumerate(columns):
            seen_here: set[str] = set()
            for row_hash, bit in zip(column[:batch], column[batch:], strict=True):
                if row_hash not in commitment:
                    raise ProofRowNotCommitted(
                        f"proof {number} proves a row ({row_hash[:16]}...) that is not in the row commitment "
                        f"of {dataset.name}@{dataset.version}",
                    )
                outcome = _bit(ezkl, bit, number)
                if row_hash in outcomes and row_hash not in seen_here:
                    raise ProofRowCountedTwice(
                        f"proof {number} proves row {row_hash[:16]}... again, which an earlier proof proved",
                    )
                if outcomes.get(row_hash, outcome) != outcome:
                    raise ProofRowCountedTwice(f"row {row_hash[:16]}... is proved with two outcomes")
                outcomes[row_hash] = outcome
                seen_here.add(row_hash)
        # The cheap checks first (membership, double counting); then every proof, in one process.
        self.zk._work.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="verify-eval-", dir=self.zk._work) as folder:
            settings_file = self.zk.fetch(zk.eval_settings, Path(folder))
            what = f"evaluation settings {zk.eval_settings}"  # hashed inputs have no instance shapes: JSON only
            parse_json(
                read_bounded(settings_file, what=what, max_bytes=MAX_SETTINGS_BYTES, error=BadCircuitSettings),
                what=what,
                max_bytes=MAX_SETTINGS_BYTES,
                error=BadCircuitSettings,
            )
            vk, srs = self.zk.fetch(zk.eval_vk, Path(folder)), self.zk.fetch(zk.srs, Path(folder))
            for number, proof in enumerate(evaluation.proofs):
                (Path(folder) / f"proof-{number}.json").write_text(json.dumps(proof))
            files = [Path(folder) / f"proof-{number}.json" for number in range(len(columns))]
            for number, reason in enumerate(self.backend.verify_all(files, settings_file, vk, srs)):
                if reason is not None:
                    raise ProofDoesNotVerify(
                        f"evaluation proof {number} does not verify against {model.name}@{model.version}'s "
                        f"evaluation vk: {reason}",
                    )
        rows, correct = len(outcomes), sum(outcomes.values())
        if (evaluation.rows, evaluation.correct) != (rows, correct) or not math.isclose(
            evaluation.accuracy, round(correct / rows, 6), abs_tol=1e-9
        ):
            raise ProofTotalMismatch(
                f"the evaluation claims {evaluation.correct}/{evaluation.rows} correct "
                f"({evaluation.accuracy}); its proofs give {correct}/{rows}",
            )
        return EvaluationVerdict(
            model,
            dataset,
            rows,
            correct,
            round(correct / rows, 6),
            evaluation.evaluator,
            zk.srs_kind,
            len(evaluation.proofs),
        )


def _bit(ezkl: Any, felt: str, number: int) -> int:
    try:
        value = int(ezkl.felt_to_int(felt))
    except BaseException as exc:  # a malformed field element panics inside the library
        if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
            raise
        value = -1
    if value not in (0, 1):
        raise ProofInstancesShape(f"proof {number} has an outcome that is not 0 or 1")
    return value


def zk_eval(manifest: Manifest, zk: ZkSection) -> tuple[str, str]:
    if zk.eval_settings is None or zk.eval_vk is None:
        raise EvalNotSetUp(f"{manifest.name}@{manifest.version} has no evaluation circuit")
    return zk.eval_settings, zk.eval_vk


def check_fits(model: Manifest, zk: ZkSection, dataset: Manifest) -> None:
    """The dataset's rows have the width the model's evaluation circuit takes."""
    if dataset.kind != "dataset" or dataset.rows is None:
        raise NotADataset(f"{dataset.name}@{dataset.version} is not a dataset with a row commitment")
    width = len(dataset.rows["columns"]) + len(dataset.rows["classes"]) + dataset.rows["salts"]
    if dataset.rows["scale"] != DATA_SCALE or width != zk.eval_width:
        raise EvalShapeMismatch(
            f"{dataset.name}@{dataset.version}'s rows ({len(dataset.rows['columns'])} features, "
            f"{len(dataset.rows['classes'])} classes) do not fit {model.name}@{model.version}'s evaluation circuit",
        )
