"""Checks an ONNX model before it is published: it must parse, pass `onnx.checker`, and keep any external
weights inside the model's folder and among the published files."""

from __future__ import annotations

from pathlib import Path

import onnx
from google.protobuf.message import DecodeError

from zkreg.errors import OnnxExternalData, OnnxInvalid


def check_onnx_model(path: Path, published: set[Path]) -> None:
    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, ValueError, OSError, RuntimeError) as exc:
        raise OnnxInvalid(f"{path.name} is not a valid ONNX model: {exc}") from exc
    folder = path.parent.resolve()
    for tensor in onnx.external_data_helper._get_all_tensors(model):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        location = next((entry.value for entry in tensor.external_data if entry.key == "location"), "")
        target = (folder / location).resolve()
        if not target.is_relative_to(folder):
            raise OnnxExternalData(
                f"{path.name}: tensor {tensor.name!r} points at external data outside the model's folder: {location!r}",
            )
        if target not in published:
            raise OnnxExternalData(
                f"{path.name}: external data file {location!r} is not among the published files",
                hint="publish the model's folder, or the data file alongside the model",
            )
    try:
        onnx.checker.check_model(str(path))
    except (onnx.checker.ValidationError, ValueError, OSError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise OnnxInvalid(f"{path.name} fails the ONNX checker: {first_line}") from exc
