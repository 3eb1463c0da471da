"""JSON Schemas: the versioned wire contract. `validate` turns a mismatch into a `MalformedObject`."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from zkreg.errors import MalformedObject


def load(name: str) -> dict[str, Any]:
    """The schema `name` (e.g. "manifest.v1") as a fresh dict, which the caller may change."""
    schema: dict[str, Any] = json.loads(resources.files(__name__).joinpath(f"{name}.json").read_text())
    return schema


@cache
def _validator(name: str) -> Any:
    import jsonschema

    schema = load(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def validate(name: str, instance: object, *, what: str) -> None:
    errors = sorted(_validator(name).iter_errors(instance), key=lambda error: list(error.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(part) for part in first.absolute_path) or "(root)"
        raise MalformedObject(f"{what} does not match schema {name}: {where}: {first.message}")
