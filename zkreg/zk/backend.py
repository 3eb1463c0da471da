"""The interface a proof system implements. ezkl is the one we ship (`ezkl_backend`); another proof system is a
new module implementing `ProofBackend`, with its name and version recorded in every artefact it makes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from zkreg.zk.cost import CostPoint
    from zkreg.zk.documents import CircuitSettings
    from zkreg.zk.runner import Deadline

MODES = ("fixed", "hashed")
"""How the weights bind: `fixed` bakes them into the circuit (the vk is the commitment); `hashed` keeps the vk
weight-independent and exposes a hash of the weights as a public instance (the hash is the commitment)."""

TARGETS = ("resources", "accuracy")
"""ezkl's calibration targets: `resources` picks the smallest circuit (fewest rows, lowest scales) that keeps the
calibration data in range; `accuracy` the scales that fit the float model best, at whatever size that needs."""


@dataclass(frozen=True)
class PublicValues:
    """What a proof's public instances say, decoded. Never read from anything a prover could edit freely."""

    params_commitment: list[str]
    inputs: list[list[float]]
    outputs: list[list[float]]
    input_elements: list[list[str]]


class ProofBackend(Protocol):
    """A step given a `deadline` is stopped when it passes (its processes killed) with `ProveTimeout`."""

    name: str
    version: str

    def make_settings(self, model: Path, calibration: Path, mode: str, target: str, out: Path) -> int:
        """Write circuit settings for `model` calibrated for `target` (one of `TARGETS`); the circuit's size as
        log2(rows)."""

    def make_eval_settings(self, model: Path, calibration: Path, mode: str, out: Path, input_scale: int) -> int:
        """Settings for an evaluation circuit (`zk.evaluation`): inputs hashed at `input_scale`; its log2(rows)."""

    def compile(self, model: Path, settings: Path, out: Path, deadline: Deadline | None = None) -> None: ...

    def gen_dev_srs(self, out: Path, logrows: int) -> None:
        """An insecure structured reference string, for development: whoever made it can forge proofs."""

    def setup(
        self,
        circuit: Path,
        srs: Path,
        vk_out: Path,
        pk_out: Path,
        memory_limit: int | None,
        deadline: Deadline | None = None,
    ) -> None: ...

    def params_commitment(self, circuit: Path, data: Path) -> list[str]:
        """The public commitment to the weights the circuit holds (empty when the weights are fixed)."""

    def prove(
        self,
        circuit: Path,
        pk: Path,
        srs: Path,
        data: Path,
        out: Path,
        memory_limit: int | None,
        deadline: Deadline | None = None,
    ) -> None: ...

    def measure_cost(self, mode: str, sizes: tuple[int, ...], folder: Path) -> list[CostPoint]:
        """Setup and prove a probe circuit of each size (log2 rows) in `mode`, scratch files in `folder`: the
        seconds and peak memory each took on this machine (see `zkreg.zk.cost`)."""

    def verify(self, proof: Path, settings: Path, vk: Path, srs: Path) -> str | None:
        """None if the proof verifies, else the reason it does not."""

    def verify_all(self, proofs: list[Path], settings: Path, vk: Path, srs: Path) -> list[str | None]:
        """`verify` for each proof, in one process (an evaluation's proofs share the circuit)."""

    def decode(self, instances: list[list[str]], settings: CircuitSettings, mode: str) -> PublicValues:
        """Split and decode a proof's public instances (raises `ProofInvalid` if they do not fit the settings)."""

    def encode_inputs(self, values: list[list[float]], settings: CircuitSettings) -> list[list[str]]:
        """The field elements an input becomes, to compare with a proof's instances."""
