"""One schema dialect (draft-07) and one validator for every schema zkreg ships."""

from __future__ import annotations

from importlib import resources

import pytest

from zkreg.errors import MalformedObject
from zkreg.schemas import DIALECT, MAX_DEPTH, compile_schema, load, validate

NAMES = sorted(
    entry.name.removesuffix(".json")
    for entry in resources.files("zkreg.schemas").iterdir()
    if entry.name.endswith(".json")
)


@pytest.mark.parametrize("name", NAMES)
def test_every_schema_is_draft_07_and_compiles(name: str) -> None:
    schema = load(name)
    assert schema["$schema"] == DIALECT
    assert "$defs" not in schema
    compile_schema(schema)


def test_a_schema_in_another_dialect_is_refused() -> None:
    with pytest.raises(ValueError, match="dialect"):
        compile_schema({"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object"})


def test_validate_names_where_a_document_fails_and_keeps_the_depth_guard() -> None:
    settings = {"model_instance_shapes": [[1, 2]], "model_input_scales": [7], "model_output_scales": [99]}
    with pytest.raises(MalformedObject, match=r"does not match schema circuit-settings.v1: model_output_scales/0: "):
        validate("circuit-settings.v1", settings, what="settings")
    deep: object = "leaf"
    for _ in range(MAX_DEPTH + 1):
        deep = [deep]
    with pytest.raises(MalformedObject, match="nested more than"):
        validate("manifest.v1", {"metrics": deep}, what="manifest")
