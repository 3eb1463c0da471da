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
    import jsonschema  # local: ~0.15 s to import; the signature worker imports this module

    schema = load(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


MAX_DEPTH = 64
"""No zkreg document nests deeper; a deeper one would exhaust the stack of the validator (or of its messages)."""


def _nested_too_deep(instance: object) -> bool:
    stack = [(instance, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                return True
            stack.extend((item, depth + 1) for item in (value.values() if isinstance(value, dict) else value))
    return False


@cache
def _property_validator(name: str, prop: str) -> Any:
    """A validator for one top-level property of schema `name`, with the schema's `$defs`."""
    import jsonschema  # local: ~0.15 s to import; the signature worker imports this module

    schema = load(name)
    part = {"$schema": schema["$schema"], "$defs": schema.get("$defs", {}), **schema["properties"][prop]}
    jsonschema.Draft202012Validator.check_schema(part)
    return jsonschema.Draft202012Validator(part)


def validate(name: str, instance: object, *, what: str, prop: str | None = None) -> None:
    """Check `instance` against schema `name` (or against its top-level property `prop`)."""
    if _nested_too_deep(instance):
        raise MalformedObject(f"{what} is nested more than {MAX_DEPTH} levels deep (schema {name})")
    validator = _validator(name) if prop is None else _property_validator(name, prop)
    errors = sorted(validator.iter_errors(instance), key=lambda error: list(error.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(part) for part in first.absolute_path) or "(root)"
        message = first.message if len(first.message) <= 300 else first.message[:300] + "…"
        raise MalformedObject(f"{what} does not match schema {name}: {where}: {message}")
