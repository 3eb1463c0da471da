"""The ezkl backend (https://github.com/zkonduit/ezkl, pinned in pyproject): halo2 proofs over ONNX models.

Heavy steps run in `zkreg.zk.ezkl_child` through the runner; decoding instances is cheap and runs here.
Public instances are one column: [params hash (hashed mode)] + inputs, flattened + outputs, flattened.
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zkreg.errors import ProofInputMismatch, ProofInstancesMalformed, ProofInstancesShape
from zkreg.zk.backend import PublicValues
from zkreg.zk.cost import CostPoint
from zkreg.zk.runner import Deadline, run_steps

if TYPE_CHECKING:
    from zkreg.zk.documents import CircuitSettings

CHILD = "zkreg.zk.ezkl_child"


def untyped_ezkl() -> Any:
    """The ezkl module, untyped: the stubs it ships omit its bindings' defaults and attributes."""
    import ezkl  # local: only the proving child (zk.ezkl_child) loads the proof system

    return ezkl


def installed_version() -> str:
    return version("ezkl")


def _run(step: str, memory_limit: int | None = None, deadline: Deadline | None = None, **args: Any) -> Any:
    return run_steps(
        CHILD,
        [(step, {key: str(value) if isinstance(value, Path) else value for key, value in args.items()})],
        memory_limit=memory_limit,
        deadline=deadline,
    )[0]


class EzklBackend:
    name = "ezkl"

    def __init__(self) -> None:
        self.version = installed_version()

    def make_settings(self, model: Path, calibration: Path, mode: str, target: str, out: Path) -> int:
        logrows: int = _run("settings", model=model, out=out, calibration=calibration, params=mode, target=target)
        return logrows

    def make_eval_settings(self, model: Path, calibration: Path, mode: str, out: Path, input_scale: int) -> int:
        logrows: int = _run(
            "eval_settings", model=model, out=out, calibration=calibration, params=mode, input_scale=input_scale
        )
        return logrows

    def compile(self, model: Path, settings: Path, out: Path, deadline: Deadline | None = None) -> None:
        _run("compile", deadline=deadline, model=model, settings=settings, out=out)

    def gen_dev_srs(self, out: Path, logrows: int) -> None:
        _run("gen_srs", out=out, logrows=logrows)

    def setup(
        self,
        circuit: Path,
        srs: Path,
        vk_out: Path,
        pk_out: Path,
        memory_limit: int | None,
        deadline: Deadline | None = None,
    ) -> None:
        _run("setup", memory_limit, deadline, circuit=circuit, srs=srs, vk=vk_out, pk=pk_out)

    def params_commitment(self, circuit: Path, data: Path) -> list[str]:
        hashes: list[str] = _run("witness", data=data, circuit=circuit, out=data.with_suffix(".witness.json"))
        return hashes

    def prove(
        self,
        circuit: Path,
        pk: Path,
        srs: Path,
        data: Path,
        out: Path,
        memory_limit: int | None,
        deadline: Deadline | None = None,
    ) -> None:
        witness = out.with_name(out.name + ".witness.json")
        run_steps(
            CHILD,
            [
                ("witness", {"data": str(data), "circuit": str(circuit), "out": str(witness)}),
                (
                    "prove",
                    {"witness": str(witness), "circuit": str(circuit), "pk": str(pk), "srs": str(srs), "out": str(out)},
                ),
            ],
            memory_limit=memory_limit,
            deadline=deadline,
        )

    def measure_cost(self, mode: str, sizes: tuple[int, ...], folder: Path) -> list[CostPoint]:
        points: list[object] = _run("measure_cost", folder=folder, mode=mode, sizes=list(sizes))
        return [CostPoint.parse(point) for point in points]

    def verify(self, proof: Path, settings: Path, vk: Path, srs: Path) -> str | None:
        reason: str | None = _run("verify", proof=proof, settings=settings, vk=vk, srs=srs)
        return reason

    def verify_all(self, proofs: list[Path], settings: Path, vk: Path, srs: Path) -> list[str | None]:
        reasons: list[str | None] = run_steps(
            CHILD,
            [
                ("verify", {"proof": str(proof), "settings": str(settings), "vk": str(vk), "srs": str(srs)})
                for proof in proofs
            ],
            memory_limit=None,
        )
        return reasons

    def decode(self, instances: list[list[str]], settings: CircuitSettings, mode: str) -> PublicValues:
        ezkl = untyped_ezkl()

        input_scales, output_scales = settings.input_scales, settings.output_scales
        sizes = settings.value_counts
        column = instances[0] if len(instances) == 1 else None
        hashed = 1 if mode == "hashed" else 0
        if column is None or len(column) != hashed + sum(sizes):
            raise ProofInstancesShape(
                f"the proof's public instances do not have the shape the settings give ({hashed + sum(sizes)} values)",
            )
        commitment, rest = column[:hashed], column[hashed:]
        chunks: list[list[str]] = []
        for size in sizes:
            chunks.append(rest[:size])
            rest = rest[size:]
        inputs, outputs = chunks[: len(input_scales)], chunks[len(input_scales) :]
        try:
            return PublicValues(
                params_commitment=commitment,
                inputs=[
                    [ezkl.felt_to_float(felt, scale) for felt in chunk]
                    for chunk, scale in zip(inputs, input_scales, strict=True)
                ],
                outputs=[
                    [ezkl.felt_to_float(felt, scale) for felt in chunk]
                    for chunk, scale in zip(outputs, output_scales, strict=True)
                ],
                input_elements=inputs,
            )
        except BaseException as exc:  # a malformed field element panics inside the library
            if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
                raise
            raise ProofInstancesMalformed(f"a public instance is not a field element: {exc}") from None

    def encode_inputs(self, values: list[list[float]], settings: CircuitSettings) -> list[list[str]]:
        ezkl = untyped_ezkl()

        kinds = {
            "F16": ezkl.PyInputType.F16,
            "F32": ezkl.PyInputType.F32,
            "F64": ezkl.PyInputType.F64,
            "Int": ezkl.PyInputType.Int,
        }
        types = [kinds.get(name, ezkl.PyInputType.F32) for name in settings.input_types or ["F32"] * len(values)]
        try:
            return [
                [ezkl.float_to_felt(value, scale, kind) for value in chunk]
                for chunk, scale, kind in zip(values, settings.input_scales, types, strict=True)
            ]
        except BaseException as exc:  # a value out of the quantisable range: OSError, or a panic
            if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
                raise
            raise ProofInputMismatch(f"an input value cannot be encoded at the circuit's scale: {exc}") from None
