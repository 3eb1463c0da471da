"""Inference input files: a flat JSON list of numbers, or ezkl's `{"input_data": [[...], ...]}` (one list per
model input). Bounded (size, depth, finite numbers) and checked against the model's input shapes before anything
is proved."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from zkreg.errors import InputBadShape, InputNotJson, InputNotNumeric, InputTooLarge
from zkreg.zk.documents import parse_json, read_bounded

MAX_INPUT_BYTES = 1 << 20


def load_input(path: Path, shapes: list[list[int]]) -> list[list[float]]:
    data = read_bounded(path, what="input file", max_bytes=MAX_INPUT_BYTES, error=InputTooLarge)
    document: Any = parse_json(
        data,
        what=f"input {path.name}",
        max_bytes=MAX_INPUT_BYTES,
        error=InputNotJson,
        number_error=InputNotNumeric,
    )
    if isinstance(document, dict) and set(document) == {"input_data"}:
        document = document["input_data"]
    elif isinstance(document, list) and all(not isinstance(item, list) for item in document):
        document = [document]
    if not isinstance(document, list) or not all(isinstance(item, list) for item in document):
        raise InputBadShape(f'input {path.name} must be a list of numbers or {{"input_data": [[numbers]]}}')
    return check_values(document, shapes, path.name)


def check_values(document: list[Any], shapes: list[list[int]], what: str) -> list[list[float]]:
    if len(document) != len(shapes):
        raise InputBadShape(f"{what}: the model takes {len(shapes)} input(s), got {len(document)}")
    values: list[list[float]] = []
    for index, (items, shape) in enumerate(zip(document, shapes, strict=True)):
        if len(items) != math.prod(shape):
            raise InputBadShape(
                f"{what}: input {index} needs {math.prod(shape)} values (shape {shape}), got {len(items)}",
            )
        for item in items:
            if isinstance(item, bool) or not isinstance(item, int | float) or not math.isfinite(item):
                raise InputNotNumeric(f"{what}: input {index} holds a non-numeric value {item!r}")
        values.append([float(item) for item in items])
    return values
