"""Zero-knowledge proving costs, each figure next to a baseline measured in the same run.

For an MLP and a small conv net, in both modes (fixed / hashed weights), with real ezkl:
- cold vs warm prove of the same model (cold = compile + setup + prove; warm reuses the cached circuit and pk);
- `Repo.prove` and the `zkreg prove` CLI vs the bare ezkl calls (gen_witness + prove) on the same artefacts;
- verify time, proof and bundle size, peak memory of the proving child processes (setup included) and of the
  bare proof (this process);
- the estimate publish printed (extrapolated from this machine's probe measurement, zkreg/zk/cost.py).

`--cnn` runs the LeNet-5-sized CNN of bench/lenet.py (44,426 parameters) instead, fixed weights, once per ezkl
calibration target (`--zk-target resources|accuracy`), with the prediction drift of the circuit against the float
model on a 20-row evaluation set (outputs from witnesses, which are the outputs the proofs attest); no cold
rounds (publish is the setup). `--cnn-hashed` adds hashed weights (logrows 21: long, and 5+ GB).

Each configuration runs in its own process so its children's peak RSS is its own. Prints one table and JSON.
Run: .venv/bin/python bench/zk.py [--cnn | --cnn-hashed]   (about 6 minutes on 2 cores; the CNN ~15+)
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CONFIGS = ["mlp-fixed", "mlp-hashed", "conv-fixed", "conv-hashed"]
CNN_CONFIGS = ["cnn-fixed-resources", "cnn-fixed-accuracy"]
CNN_HASHED_CONFIGS = ["cnn-hashed-resources"]
ROUNDS = 3
CNN_ROUNDS = 2
EVALUATION_ROWS = 20


def _timed(action):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def run_one(name: str) -> dict[str, object]:
    from bench.lenet import build_lenet, evaluation_set
    from tests.zk.models import build_conv, build_mlp
    from zkreg.api import ProveRequest, PublishRequest, Repo, VerifyProofRequest, prove, publish, verify_proof
    from zkreg.zk.ezkl_backend import untyped_ezkl

    kind, mode, target = [*name.split("-"), "resources"][:3]
    folder = Path(tempfile.mkdtemp(prefix=f"zkreg-bench-{name}-"))
    repo = Repo.init(folder / "home")
    calibration = None
    if kind == "cnn":
        model = build_lenet(folder / "m.onnx")
        evaluation = evaluation_set(EVALUATION_ROWS)
        values = evaluation[0]
        calibration = folder / "calibration.json"
        calibration.write_text(json.dumps({"input_data": evaluation[:4]}))
    else:
        model = build_mlp(folder / "m.onnx") if kind == "mlp" else build_conv(folder / "m.onnx")
        values = [0.1] * (4 if kind == "mlp" else 16)
    data = folder / "input.json"
    data.write_text(json.dumps(values))
    request = PublishRequest([model], name=name, weights="public", zk=mode, zk_target=target, calibration=calibration)
    published, publish_s = _timed(lambda: publish(repo, request))
    manifest = repo.show(name)
    assert manifest.zk is not None
    workspace = repo.zk_workspace()
    key = (manifest.files["m.onnx"], manifest.zk["settings"])
    env = {**os.environ, "ZKREG_HOME": str(folder / "home")}
    srs = workspace.fetch(manifest.zk["srs"], folder)
    (folder / "bare-input.json").write_text(json.dumps({"input_data": [values]}))
    ezkl = untyped_ezkl()

    def cold() -> float:
        entry = workspace.cache.get(*key)
        assert entry is not None
        workspace.cache.remove(entry)
        return prove(repo, ProveRequest(name, data, folder / "cold.json")).seconds

    def api() -> float:
        return prove(repo, ProveRequest(name, data, folder / "warm.json")).seconds

    def cli() -> float:
        command = [sys.executable, "-m", "zkreg", "prove", name, "--input", str(data), "-o", str(folder / "cli.json")]
        return _timed(lambda: subprocess.run(command, env=env, check=True, capture_output=True))[1]

    def bare() -> float:
        """The baseline: the same two ezkl calls on the same cached artefacts, in this process, nothing around."""
        entry = workspace.cache.get(*key)
        assert entry is not None
        circuit, pk = str(entry.file("circuit.ezkl")), str(entry.file("pk.key"))
        started = time.perf_counter()
        ezkl.gen_witness(str(folder / "bare-input.json"), circuit, str(folder / "w.json"))
        ezkl.prove(str(folder / "w.json"), circuit, pk, str(folder / "bare-proof.json"), str(srs))
        return time.perf_counter() - started

    # interleaved rounds, minimum of each: the machine is shared, so load drifts between runs
    actions = (("cold", cold), ("api", api), ("cli", cli), ("bare", bare))
    if kind == "cnn":
        actions = actions[1:]
    runs: dict[str, list[float]] = {label: [] for label, _ in actions}
    for _ in range(CNN_ROUNDS if kind == "cnn" else ROUNDS):
        for label, action in actions:
            runs[label].append(action())
    best = {label: min(times) for label, times in runs.items()}
    best.setdefault("cold", float("nan"))
    drift = prediction_drift(model, evaluation, workspace.cache.get(*key), folder) if kind == "cnn" else {}
    verify_s = min(_timed(lambda: verify_proof(repo, VerifyProofRequest(folder / "warm.json")))[1] for _ in range(3))
    child_peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    bare_peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    bundle = json.loads((folder / "warm.json").read_text())
    entry = workspace.cache.get(*key)
    assert entry is not None
    pk_bytes = entry.file("pk.key").stat().st_size
    bundle_bytes = (folder / "warm.json").stat().st_size
    repo.close()
    shutil.rmtree(folder)
    return {
        "config": name,
        "logrows": manifest.zk["logrows"],
        "publish_s": round(publish_s, 2),
        "cold_prove_s": round(best["cold"], 2),
        "warm_prove_s": round(best["api"], 2),
        "cold_over_warm": round(best["cold"] / best["api"], 2),
        "bare_ezkl_prove_s": round(best["bare"], 2),
        "api_over_bare": round(best["api"] / best["bare"], 3),
        "cli_prove_s": round(best["cli"], 2),
        "cli_over_bare": round(best["cli"] / best["bare"], 3),
        "verify_s": round(verify_s, 3),
        "proof_bytes": len(bundle["proof"]["proof"]),
        "bundle_bytes": bundle_bytes,
        "pk_bytes": pk_bytes,
        "child_peak_rss_mb": round(child_peak_kb / 1024),
        "bare_prove_peak_rss_mb": round(bare_peak_kb / 1024),
        "zk_estimate": published.zk_estimate,
        **drift,
    }


def prediction_drift(model: Path, evaluation: list[list[float]], entry: object, folder: Path) -> dict[str, object]:
    """The circuit's outputs (witnesses) against the float model's, over the evaluation set."""
    from bench.lenet import float_outputs
    from zkreg.zk.cache import CacheEntry
    from zkreg.zk.documents import CircuitSettings
    from zkreg.zk.ezkl_backend import untyped_ezkl

    assert isinstance(entry, CacheEntry)
    ezkl = untyped_ezkl()
    scale = CircuitSettings.load(entry.file("settings.json"), what="settings").output_scales[0]
    reference = float_outputs(model, evaluation)
    worst, agree = 0.0, 0
    for row, expected in zip(evaluation, reference, strict=True):
        (folder / "drift-input.json").write_text(json.dumps({"input_data": [row]}))
        ezkl.gen_witness(str(folder / "drift-input.json"), str(entry.file("circuit.ezkl")), str(folder / "dw.json"))
        felts = json.loads((folder / "dw.json").read_text())["outputs"][0]
        got = [ezkl.felt_to_float(felt, scale) for felt in felts]
        worst = max(worst, max(abs(a - b) for a, b in zip(got, expected, strict=True)))
        agree += got.index(max(got)) == expected.index(max(expected))
    return {"drift_max_abs": round(worst, 5), "argmax_agree": f"{agree}/{len(evaluation)}"}


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(run_one(sys.argv[2])))
        return
    configs = {
        "--cnn": CNN_CONFIGS,
        "--cnn-hashed": CNN_CONFIGS + CNN_HASHED_CONFIGS,
    }.get(sys.argv[1] if len(sys.argv) > 1 else "", CONFIGS)
    print(f"load average before: {os.getloadavg()}", file=sys.stderr)
    rows = []
    for name in configs:
        proc = subprocess.run([sys.executable, __file__, "--one", name], capture_output=True, text=True, check=True)
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(f"done {name}", file=sys.stderr)
    columns = [
        "config",
        "logrows",
        "publish_s",
        "cold_prove_s",
        "warm_prove_s",
        "cold_over_warm",
        "bare_ezkl_prove_s",
        "api_over_bare",
        "cli_prove_s",
        "cli_over_bare",
        "verify_s",
        "proof_bytes",
        "bundle_bytes",
        "child_peak_rss_mb",
        "bare_prove_peak_rss_mb",
        *(["drift_max_abs", "argmax_agree"] if configs is not CONFIGS else []),
    ]
    print(" | ".join(columns))
    for row in rows:
        print(" | ".join(str(row[column]) for column in columns))
    print(json.dumps(rows, indent=1))
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
