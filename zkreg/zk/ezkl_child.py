"""The child-process side of the ezkl backend: one handler per heavy step (see `zkreg.zk.runner`)."""

from __future__ import annotations

import json
from typing import Any

from zkreg.zk.ezkl_backend import untyped_ezkl
from zkreg.zk.runner import child_main


def settings(model: str, out: str, calibration: str, params: str) -> int:
    ezkl = untyped_ezkl()

    run_args = ezkl.PyRunArgs()
    run_args.input_visibility = "public"
    run_args.output_visibility = "public"
    run_args.param_visibility = params
    ezkl.gen_settings(model, out, py_run_args=run_args)
    ezkl.calibrate_settings(calibration, model, out, "resources")
    logrows: int = json.loads(open(out).read())["run_args"]["logrows"]  # noqa: SIM115
    return logrows


def eval_settings(model: str, out: str, calibration: str, params: str, input_scale: int) -> int:
    """Settings for an evaluation circuit: rows hashed (their Poseidon hashes are the public instances), the
    outcome public, the weights as the model binds them, inputs quantised at the data's fixed scale (so a row's
    hash does not depend on the model)."""
    ezkl = untyped_ezkl()

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
    ezkl = untyped_ezkl()

    ezkl.compile_circuit(model, out, settings)


def gen_srs(out: str, logrows: int) -> None:
    ezkl = untyped_ezkl()

    ezkl.gen_srs(out, logrows)


def setup(circuit: str, srs: str, vk: str, pk: str) -> None:
    ezkl = untyped_ezkl()

    if not ezkl.setup(circuit, vk, pk, srs):
        raise RuntimeError("setup returned false")


def witness(data: str, circuit: str, out: str) -> list[str]:
    """The witness; returns the Poseidon hash of the params (empty unless the params are hashed)."""
    ezkl = untyped_ezkl()

    ezkl.gen_witness(data, circuit, out)
    processed: Any = json.loads(open(out).read()).get("processed_params")  # noqa: SIM115
    hashes: list[str] = (processed or {}).get("poseidon_hash") or []
    return hashes


def prove(witness: str, circuit: str, pk: str, srs: str, out: str) -> None:
    ezkl = untyped_ezkl()

    ezkl.prove(witness, circuit, pk, out, srs)


def verify(proof: str, settings: str, vk: str, srs: str) -> str | None:
    """None if the proof verifies, else the verifier's reason."""
    ezkl = untyped_ezkl()

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
        }
    )
