"""The child-process side of the ezkl backend: one handler per heavy step (see `zkreg.zk.runner`).

It imports the proof system and the runner only: every child of a `zkreg prove` pays its imports before the
proof starts (`zkreg.zk.ezkl_backend` pulls in importlib.metadata, ~0.2-0.4 s here, which no step needs).
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import time
from pathlib import Path
from typing import Any

from zkreg.zk.runner import child_main

ezkl: Any = importlib.import_module("ezkl")  # untyped: the stubs it ships omit its bindings' defaults


def settings(model: str, out: str, calibration: str, params: str, target: str) -> int:
    run_args = ezkl.PyRunArgs()
    run_args.input_visibility = "public"
    run_args.output_visibility = "public"
    run_args.param_visibility = params
    ezkl.gen_settings(model, out, py_run_args=run_args)
    ezkl.calibrate_settings(calibration, model, out, target)
    logrows: int = json.loads(open(out).read())["run_args"]["logrows"]  # noqa: SIM115
    return logrows


def eval_settings(model: str, out: str, calibration: str, params: str, input_scale: int) -> int:
    """Settings for an evaluation circuit: rows hashed (their Poseidon hashes are the public instances), the
    outcome public, the weights as the model binds them, inputs quantised at the data's fixed scale (so a row's
    hash does not depend on the model)."""
    run_args = ezkl.PyRunArgs()
    run_args.input_visibility = "hashed"
    run_args.output_visibility = "public"
    run_args.param_visibility = params
    run_args.input_scale = input_scale
    ezkl.gen_settings(model, out, py_run_args=run_args)
    ezkl.calibrate_settings(calibration, model, out, "resources", scales=[input_scale])
    logrows: int = json.loads(open(out).read())["run_args"]["logrows"]  # noqa: SIM115
    return logrows


def compile_circuit(model: str, settings: str, out: str) -> None:
    ezkl.compile_circuit(model, out, settings)


def gen_srs(out: str, logrows: int) -> None:
    ezkl.gen_srs(out, logrows)


def setup(circuit: str, srs: str, vk: str, pk: str) -> None:
    if not ezkl.setup(circuit, vk, pk, srs):
        raise RuntimeError("setup returned false")


def witness(data: str, circuit: str, out: str) -> list[str]:
    """The witness; returns the Poseidon hash of the params (empty unless the params are hashed)."""
    ezkl.gen_witness(data, circuit, out)
    processed: Any = json.loads(open(out).read()).get("processed_params")  # noqa: SIM115
    hashes: list[str] = (processed or {}).get("poseidon_hash") or []
    return hashes


def prove(witness: str, circuit: str, pk: str, srs: str, out: str) -> None:
    ezkl.prove(witness, circuit, pk, out, srs)


def measure_cost(folder: str, mode: str, sizes: list[int]) -> list[dict[str, float | int]]:
    """Time dev SRS, setup and witness + prove of a probe circuit (x[1,4] @ w[4,4]) forced to each size, smallest
    first, with this process's peak RSS after each (see `zkreg.zk.cost`). Times are this process's CPU seconds (all
    threads) over the cores: what the step takes with the machine to itself, which a shared machine's load does not
    distort the way it does wall time (measured at load 24 on 2 cores, wall time did not even grow with size)."""
    cores = os.cpu_count() or 1
    import numpy as np  # local: only the probe needs them
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    work = Path(folder)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "cost-probe",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [numpy_helper.from_array(np.full((4, 4), 0.5, dtype=np.float32), "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(work / "probe.onnx"))
    (work / "input.json").write_text(json.dumps({"input_data": [[0.1, 0.2, 0.3, 0.4]]}))
    points: list[dict[str, float | int]] = []
    for logrows in sorted(sizes):
        run_args = ezkl.PyRunArgs()
        run_args.input_visibility = "public"
        run_args.output_visibility = "public"
        run_args.param_visibility = mode
        run_args.logrows = logrows
        names = {name: str(work / f"{name}-{logrows}") for name in ("settings", "circuit", "srs", "vk", "pk", "w", "p")}
        ezkl.gen_settings(str(work / "probe.onnx"), names["settings"], py_run_args=run_args)
        ezkl.compile_circuit(str(work / "probe.onnx"), names["circuit"], names["settings"])
        started = time.process_time()
        ezkl.gen_srs(names["srs"], logrows)
        srs_done = time.process_time()
        setup(names["circuit"], names["srs"], names["vk"], names["pk"])
        setup_done = time.process_time()
        ezkl.gen_witness(str(work / "input.json"), names["circuit"], names["w"])
        ezkl.prove(names["w"], names["circuit"], names["pk"], names["p"], names["srs"])
        points.append(
            {
                "logrows": logrows,
                "srs_s": (srs_done - started) / cores,
                "setup_s": (setup_done - srs_done) / cores,
                "prove_s": (time.process_time() - setup_done) / cores,
                "peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            }
        )
    return points


def verify(proof: str, settings: str, vk: str, srs: str) -> str | None:
    """None if the proof verifies, else the verifier's reason."""
    try:
        return None if ezkl.verify(proof, settings, vk, srs) else "the verifier returned false"
    except RuntimeError as exc:
        return str(exc)


if __name__ == "__main__":
    child_main(
        {
            "settings": settings,
            "eval_settings": eval_settings,
            "compile": compile_circuit,
            "gen_srs": gen_srs,
            "setup": setup,
            "witness": witness,
            "prove": prove,
            "verify": verify,
            "measure_cost": measure_cost,
        }
    )
