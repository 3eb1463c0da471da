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


@cache
def _property_validator(name: str, prop: str) -> Any:
    """A validator for one top-level property of schema `name`, with the schema's `$defs`."""
    import jsonschema

    schema = load(name)
    part = {"$schema": schema["$schema"], "$defs": schema.get("$defs", {}), **schema["properties"][prop]}
    jsonschema.Draft202012Validator.check_schema(part)
    return jsonschema.Draft202012Validator(part)


def validate(name: str, instance: object, *, what: str, prop: str | None = None) -> None:
    """Check `instance` against schema `name` (or against its top-level property `prop`)."""
    validator = _validator(name) if prop is None else _property_validator(name, prop)
    errors = sorted(validator.iter_errors(instance), key=lambda error: list(error.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(part) for part in first.absolute_path) or "(root)"
        raise MalformedObject(f"{what} does not match schema {name}: {where}: {first.message}")
