"""JSON Schemas: the versioned wire contract, in one dialect (draft-07), checked by fastjsonschema.

Draft-07 because fastjsonschema compiles it to Python: a manifest is checked in ~11 µs against ~140 µs with
`jsonschema`'s Draft 2020-12 validator, and the ledger checks every entry of a sync. The schemas need nothing
2020-12 added (`$defs` is `definitions`; `if`/`then`/`else`, `const`, `propertyNames` are draft-07).
`validate` turns a mismatch into a `MalformedObject`; `mismatch` gives callers with their own error the reason.
Ledger entries, checked by the hundred thousand in an import, first ask jsonschema-rs (the same schema file, ~5x
faster); fastjsonschema stays the reference for every entry it refuses (`zkreg.reputation.entry`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema

from zkreg.errors import MalformedObject

DIALECT = "http://json-schema.org/draft-07/schema#"
Validator = Callable[[Any], Any]


def load(name: str) -> dict[str, Any]:
    """The schema `name` (e.g. "manifest.v1") as a fresh dict, which the caller may change."""
    schema: dict[str, Any] = json.loads(resources.files(__name__).joinpath(f"{name}.json").read_text())
    return schema


def compile_schema(schema: dict[str, Any]) -> Validator:
    """A validator for a draft-07 schema (the only dialect: a schema naming another one is a programming error)."""
    dialect = schema.get("$schema", DIALECT)
    if dialect != DIALECT:
        raise ValueError(f"schema {schema.get('$id', '')!r} is in dialect {dialect}, not {DIALECT}")
    return fastjsonschema.compile(schema)


@cache
def _validator(name: str, prop: str | None) -> Validator:
    schema = load(name)
    if prop is not None:  # one top-level property, with the schema's definitions
        schema = {"$schema": DIALECT, "definitions": schema.get("definitions", {}), **schema["properties"][prop]}
    return compile_schema(schema)


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


def mismatch(validator: Validator, instance: object) -> str | None:
    """Why `instance` fails `validator` ("where: what", at most ~300 characters), or None if it passes. The
    caller bounds the depth first (`validate` does; peer answers and entries are depth-checked as they are read)."""
    try:
        validator(instance)
    except fastjsonschema.JsonSchemaValueException as exc:
        where = "/".join(str(part) for part in (exc.path or [])[1:]) or "(root)"
        message = exc.message if len(exc.message) <= 300 else exc.message[:300] + "…"
        return f"{where}: {message}"
    return None


def validate(name: str, instance: object, *, what: str, prop: str | None = None) -> None:
    """Check `instance` against schema `name` (or against its top-level property `prop`)."""
    if _nested_too_deep(instance):
        raise MalformedObject(f"{what} is nested more than {MAX_DEPTH} levels deep (schema {name})")
    problem = mismatch(_validator(name, prop), instance)
    if problem is not None:
        raise MalformedObject(f"{what} does not match schema {name}: {problem}")
