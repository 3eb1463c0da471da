"""What the circuit compiler cannot handle, found before any long step and named in the error.

Measured with ezkl 23.0.5: Conv needs explicit strides/pads/dilations; a symbolic dimension fails ("Undetermined
symbol"); linear Resize, Pow with a computed exponent, Mod and If fail. Softmax, Sigmoid, LayerNorm, BatchNorm,
pooling, Gather and MatMul work.
"""

from __future__ import annotations

from pathlib import Path

from zkreg.errors import InvalidInput

UNSUPPORTED_OPS = frozenset({"Mod", "If", "Loop", "Scan"})
EXPLICIT_ATTRIBUTES = {"Conv": ("strides", "pads", "dilations"), "ConvTranspose": ("strides", "pads", "dilations")}


def _refuse(message: str) -> InvalidInput:
    return InvalidInput(
        message,
        hint="export the model without it, or publish with --weights public and no --zk",
        code="input/zk-unsupported-model",
    )


def check_provable(path: Path) -> list[list[int]]:
    """The model's input shapes, if every op and dimension is one the circuit compiler handles."""
    import onnx

    model = onnx.load(str(path))
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
    return shapes
