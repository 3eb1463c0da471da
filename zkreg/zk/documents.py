"""The zk documents that cross a trust boundary, each parsed once into a frozen, checked object.

A proof bundle (from a peer, a receipt or a user's file), the circuit settings a manifest names (`zk/settings.json`,
fetched from whoever published it) and a manifest's `zk` section are foreign data. Each parser here bounds the
size before reading, bounds nesting depth before decoding, refuses non-finite numbers, checks the schema and the
cross-field facts the code relies on, and raises one `ZkregError` subclass; code past this module reads typed
fields only. The shape follows python-tuf's `Metadata.from_bytes`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any

from zkreg.errors import BadCircuitSettings, MalformedObject, PathNotFound, ZkregError
from zkreg.identity import verify_signature
from zkreg.registry.manifest import ZK_LINKS
from zkreg.schemas import validate
from zkreg.zk.bundle import canonical

MAX_DEPTH = 64
"""Nesting deeper than any zk document has (a bundle is 4 deep, ezkl's settings about 6)."""
MAX_BUNDLE_BYTES = 1 << 20
"""A bundle holds ~3-4 KB of fields, the proof (a few KB of bytes, each written as up to 4 characters) and the
public instances (64 hex characters per input and output value): the tiny models' bundles are 25-30 KB. 1 MiB
leaves room for models with tens of thousands of public values and refuses a large file before any parsing."""
MAX_SETTINGS_BYTES = 1 << 20
"""ezkl's settings for the tiny models are ~2 KB; they grow with the number of lookups, not the weights."""
MAX_VALUES = 1 << 20
"""Public values (inputs plus outputs) a circuit may have: the bundle schema's bound on one row."""

MAX_INT_DIGITS = 40
"""Longer integers are no count, size or byte zkreg reads, and would overflow a float."""

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class _NotANumberWeTake(ValueError):
    """A number json.loads would turn into inf, nan or a giant integer."""


def _refuse_constant(name: str) -> float:
    raise _NotANumberWeTake(f"non-finite number {name}")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _NotANumberWeTake(f"an integer of {len(text)} digits")
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotANumberWeTake(f"non-finite number {text[:40]}")
    return value


def _depth(data: bytes) -> int:
    """The deepest nesting of `data` as JSON, found without parsing it (strings removed, then brackets counted)."""
    steps = (1 if bracket in (b"[", b"{") else -1 for bracket in _BRACKETS.findall(_STRING.sub(b"", data)))
    return max(accumulate(steps, initial=0))


def parse_json(
    data: bytes,
    *,
    what: str,
    max_bytes: int,
    error: type[ZkregError],
    number_error: type[ZkregError] | None = None,
) -> Any:
    """`data` as JSON, or `error` (`number_error` for a non-finite or giant number, if given): at most
    `max_bytes`, nested at most `MAX_DEPTH` deep, finite numbers only, Unicode strings only."""
    if len(data) > max_bytes:
        raise error(f"{what} is larger than {max_bytes} bytes")
    if _depth(data) > MAX_DEPTH:  # (json.loads's RecursionError stays caught below, for encodings the scan misreads)
        raise error(f"{what} is nested deeper than {MAX_DEPTH} levels")
    try:
        document = json.loads(data, parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_bounded_int)
    except _NotANumberWeTake as exc:
        raise (number_error or error)(f"{what} holds a number that is not finite or too long: {exc}") from None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise error(f"{what} is not JSON with finite numbers: {str(exc)[:200]}") from None
    if _SURROGATE_ESCAPE.search(data) and _holds_lone_surrogate(document):
        raise error(f"{what} holds a string that is not Unicode text (a lone surrogate)")
    return document


def _holds_lone_surrogate(document: Any) -> bool:
    """Whether any string (or key) in `document` cannot be encoded as UTF-8: it could not be signed, stored in
    SQLite or printed."""
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            try:
                item.encode()
            except UnicodeEncodeError:
                return True
    return False


def read_bounded(path: Path, *, what: str, max_bytes: int, error: type[ZkregError]) -> bytes:
    """The bytes of the regular file `path`, refused past `max_bytes`; at most `max_bytes` + 1 are ever read (the
    file may grow after a size check, so the read itself is bounded)."""
    if not path.is_file():
        raise PathNotFound(f"no such {what}: {path}")
    with path.open("rb") as stream:
        data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise error(f"{what} {path.name} is larger than {max_bytes} bytes")
    return data


def join_bounded(chunks: Iterable[bytes], *, what: str, max_bytes: int, error: type[ZkregError]) -> bytes:
    """The chunks (a file streamed from the store) joined, refused as soon as they pass `max_bytes`."""
    data = bytearray()
    for chunk in chunks:
        data += chunk
        if len(data) > max_bytes:
            raise error(f"{what} is larger than {max_bytes} bytes")
    return bytes(data)


def _validate(schema: str, document: Any, what: str, error: type[ZkregError], prop: str | None = None) -> None:
    try:
        validate(schema, document, what=what, prop=prop)
    except MalformedObject as exc:
        raise error(exc.message) from None


# ---- the manifest's zk section ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ZkSection:
    """A manifest's `zk` section: which backend, artefacts (CIDs) and weight binding its proofs use."""

    backend: str
    version: str
    mode: str
    settings: str
    vk: str
    srs: str
    srs_kind: str
    logrows: int
    params_commitment: tuple[str, ...]
    eval_settings: str | None = None
    """The evaluation circuit (`zkreg.zk.evaluation`), if the model was published with one."""
    eval_vk: str | None = None
    eval_batch: int | None = None
    eval_width: int | None = None
    eval_logrows: int | None = None

    @classmethod
    def parse(cls, section: Any, *, what: str) -> ZkSection:
        """The section as `Manifest.zk` holds it (CIDs as strings), checked against the manifest schema's part."""
        if not isinstance(section, dict):
            raise MalformedObject(f"{what}: the zk section is not an object")
        linked = {key: {"/": value} if key in ZK_LINKS else value for key, value in section.items()}
        _validate("manifest.v1", linked, f"{what}'s zk section", MalformedObject, prop="zk")
        return cls(
            backend=section["backend"],
            version=section["version"],
            mode=section["mode"],
            settings=section["settings"],
            vk=section["vk"],
            srs=section["srs"],
            srs_kind=section["srs_kind"],
            logrows=section["logrows"],
            params_commitment=tuple(section.get("params_commitment", ())),
            eval_settings=section.get("eval_settings"),
            eval_vk=section.get("eval_vk"),
            eval_batch=section.get("eval_batch"),
            eval_width=section.get("eval_width"),
            eval_logrows=section.get("eval_logrows"),
        )


# ---- circuit settings ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CircuitSettings:
    """The parts of ezkl's circuit settings zkreg reads: the public values' shapes, scales and input types. The
    file itself is handed to ezkl unchanged, which parses the rest."""

    instance_shapes: tuple[tuple[int, ...], ...]
    input_scales: tuple[int, ...]
    output_scales: tuple[int, ...]
    input_types: tuple[str, ...] | None

    @property
    def input_shapes(self) -> list[list[int]]:
        """The shapes of the model's inputs (the leading instances)."""
        return [list(shape) for shape in self.instance_shapes[: len(self.input_scales)]]

    @property
    def value_counts(self) -> list[int]:
        return [math.prod(shape) for shape in self.instance_shapes]

    @classmethod
    def from_bytes(cls, data: bytes, *, what: str = "circuit settings") -> CircuitSettings:
        document = parse_json(data, what=what, max_bytes=MAX_SETTINGS_BYTES, error=BadCircuitSettings)
        _validate("circuit-settings.v1", document, what, BadCircuitSettings)
        shapes = tuple(tuple(shape) for shape in document["model_instance_shapes"])
        inputs, outputs = tuple(document["model_input_scales"]), tuple(document["model_output_scales"])
        if len(inputs) + len(outputs) != len(shapes):
            raise BadCircuitSettings(
                f"{what}: {len(shapes)} instance shapes for {len(inputs)} inputs and {len(outputs)} outputs"
            )
        if sum(math.prod(shape) for shape in shapes) > MAX_VALUES:
            raise BadCircuitSettings(f"{what}: more than {MAX_VALUES} public values")
        types = document.get("input_types")
        if types is not None and len(types) != len(inputs):
            raise BadCircuitSettings(f"{what}: {len(types)} input types for {len(inputs)} inputs")
        return cls(shapes, inputs, outputs, None if types is None else tuple(types))

    @classmethod
    def load(cls, path: Path, *, what: str = "circuit settings") -> CircuitSettings:
        data = read_bounded(path, what=what, max_bytes=MAX_SETTINGS_BYTES, error=BadCircuitSettings)
        return cls.from_bytes(data, what=what)


# ---- proof bundles ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProofBundle:
    """A signed proof bundle (schema `proof-bundle.v1`) whose signature is the prover's (see `zkreg.zk.bundle`)."""

    manifest: str
    backend_name: str
    backend_version: str
    settings: str
    vk: str
    srs: str
    input: list[list[float]]
    output: list[list[float]]
    proof: dict[str, Any]
    """ezkl's proof JSON (the covered keys), handed to ezkl's verifier as it is."""
    instances: list[list[str]]
    prover: str
    created: str

    @classmethod
    def from_bytes(cls, data: bytes, *, what: str = "proof bundle") -> ProofBundle:
        document = parse_json(data, what=what, max_bytes=MAX_BUNDLE_BYTES, error=MalformedObject)
        _validate("proof-bundle.v1", document, what, MalformedObject)
        body = {key: value for key, value in document.items() if key != "signature"}
        verify_signature(document["prover"], canonical(body), bytes.fromhex(document["signature"]))
        return cls(
            manifest=document["manifest"],
            backend_name=document["backend"]["name"],
            backend_version=document["backend"]["version"],
            settings=document["settings"],
            vk=document["vk"],
            srs=document["srs"],
            input=[[float(value) for value in row] for row in document["input"]],
            output=[[float(value) for value in row] for row in document["output"]],
            proof=document["proof"],
            instances=document["proof"]["instances"],
            prover=document["prover"],
            created=document["created"],
        )

    @classmethod
    def load(cls, path: Path) -> ProofBundle:
        data = read_bounded(path, what="proof bundle", max_bytes=MAX_BUNDLE_BYTES, error=MalformedObject)
        return cls.from_bytes(data, what=f"proof bundle {path.name}")
