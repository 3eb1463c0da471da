"""What the circuit compiler cannot handle, found before any long step and named in the error.

Measured with ezkl 23.0.5: Conv needs explicit strides/pads/dilations; a symbolic dimension fails ("Undetermined
symbol"); linear Resize, Pow with a computed exponent, Mod and If fail. Softmax, Sigmoid, LayerNorm, BatchNorm,
pooling, Gather and MatMul work.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import onnx
from google.protobuf.message import DecodeError
from onnx.external_data_helper import ExternalDataInfo, _get_all_tensors, convert_model_from_external_data

from zkreg.errors import InvalidInput, OnnxExternalData, OnnxInvalid, ZkUnsupportedModel

UNSUPPORTED_OPS = frozenset({"Mod", "If", "Loop", "Scan"})
EXPLICIT_ATTRIBUTES = {"Conv": ("strides", "pads", "dilations"), "ConvTranspose": ("strides", "pads", "dilations")}


def _refuse(message: str) -> InvalidInput:
    return ZkUnsupportedModel(
        message,
        hint="export the model without it, or publish with --weights public and no --zk",
    )


@dataclass(frozen=True)
class ExternalData:
    """A file holding some of the model's tensors (ONNX external data), named relative to the model's folder."""

    location: PurePosixPath
    path: Path


@dataclass(frozen=True)
class ProvableModel:
    input_shapes: list[list[int]]
    external_data: tuple[ExternalData, ...]
    """Every file the model's tensors are read from besides the model itself: its weights too."""


TensorSpan = tuple[str, int, int]
"""A tensor's name, and the offset and length of its bytes in an external-data file."""


def _refuse_external(message: str) -> InvalidInput:
    return OnnxExternalData(message)


def external_locations(path: Path, model: onnx.ModelProto | None = None) -> dict[PurePosixPath, list[TensorSpan]]:
    """The external-data files `model` (loaded from `path` without them) references, relative to its folder, with
    each tensor's (name, offset, length) in it; refused if a location leaves the folder."""
    if model is None:
        model = _load_graph(path)
    found: dict[PurePosixPath, list[TensorSpan]] = {}
    for tensor in _get_all_tensors(model):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        try:
            info = ExternalDataInfo(tensor)
            offset, length = int(info.offset or 0), int(info.length or 0)
        except (ValueError, TypeError) as exc:
            raise _refuse_external(f"{path.name}: tensor {tensor.name!r} has malformed external data: {exc}") from None
        location = PurePosixPath(info.location)
        if not info.location or location.is_absolute() or ".." in location.parts or "\\" in info.location:
            raise _refuse_external(
                f"{path.name}: tensor {tensor.name!r} points at external data outside the model's folder: "
                f"{info.location!r}"
            )
        found.setdefault(location, []).append((tensor.name, offset, length))
    return found


def external_data_of(path: Path, model: onnx.ModelProto) -> tuple[ExternalData, ...]:
    """The external-data files `model` references, each checked: present, inside the model's folder (links
    resolved), and every tensor's bytes within the file."""
    folder = path.parent.resolve()
    found: list[ExternalData] = []
    for location, tensors in external_locations(path, model).items():
        target = (folder / location).resolve()
        if not target.is_relative_to(folder):
            raise _refuse_external(f"{path.name}: external data {str(location)!r} leads outside the model's folder")
        if not target.is_file():
            raise _refuse_external(f"{path.name}: external data file {str(location)!r} is missing")
        size = target.stat().st_size
        for name, offset, length in tensors:
            if offset < 0 or length < 0 or offset + length > size:
                raise _refuse_external(
                    f"{path.name}: tensor {name!r} reads bytes {offset}..{offset + length} of "
                    f"{str(location)!r}, which has {size}"
                )
        found.append(ExternalData(location, target))
    return tuple(found)


def write_self_contained(model: Path, out: Path) -> None:
    """`model` as one file at `out`, its external data (already checked) read back into the tensors: the circuit
    compiler reads only the model file."""
    try:
        loaded = onnx.load(str(model))
        convert_model_from_external_data(loaded)
        onnx.save(loaded, str(out))
    except (ValueError, OSError, RuntimeError) as exc:
        raise _refuse_external(f"{model.name}: its external data cannot be read into one model: {exc}") from None


def _load_graph(path: Path) -> onnx.ModelProto:
    try:
        return onnx.load(str(path), load_external_data=False)
    except (DecodeError, ValueError, OSError, RuntimeError) as exc:
        raise OnnxInvalid(f"{path.name} is not a valid ONNX model: {exc}") from None


def check_provable(path: Path) -> ProvableModel:
    """The model's input shapes and external-data files, if every op and dimension is one the circuit compiler
    handles. Tensors are not loaded: only the graph and the external-data references are read."""

    model = _load_graph(path)
    external = external_data_of(path, model)
    graph = model.graph
    initializers = {tensor.name for tensor in graph.initializer}
    constants = initializers | {out for node in graph.node if node.op_type == "Constant" for out in node.output}
    for node in graph.node:
        label = f"{node.op_type} node {node.name!r}" if node.name else f"{node.op_type} node"
        if node.op_type in UNSUPPORTED_OPS:
            raise _refuse(f"{path.name}: op {node.op_type} is not supported by the proof system ({label})")
        present = {attribute.name for attribute in node.attribute}
        missing = [name for name in EXPLICIT_ATTRIBUTES.get(node.op_type, ()) if name not in present]
        if missing:
            raise _refuse(f"{path.name}: op {node.op_type} needs explicit {', '.join(missing)} ({label})")
        if node.op_type == "Resize":
            mode = next((a.s.decode() for a in node.attribute if a.name == "mode"), "nearest")
            if mode != "nearest":
                raise _refuse(f"{path.name}: op Resize with mode {mode!r} is not supported, only 'nearest' ({label})")
        if node.op_type == "Pow" and len(node.input) > 1 and node.input[1] not in constants:
            raise _refuse(f"{path.name}: op Pow with a computed exponent is not supported ({label})")
    shapes: list[list[int]] = []
    for value in graph.input:
        if value.name in initializers:
            continue
        dims = value.type.tensor_type.shape.dim
        if any(not dim.HasField("dim_value") or dim.dim_value <= 0 for dim in dims):
            symbolic = [dim.dim_param or "?" for dim in dims if not dim.HasField("dim_value")]
            raise _refuse(
                f"{path.name}: input {value.name!r} has symbolic dimension(s) {symbolic}; fix them (e.g. batch 1)"
            )
        shapes.append([dim.dim_value for dim in dims])
    if not shapes:
        raise _refuse(f"{path.name}: the model has no inputs")
    return ProvableModel(shapes, external)
