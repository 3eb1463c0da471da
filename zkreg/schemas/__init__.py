"""JSON Schemas: the versioned wire contract. `validate` turns a mismatch into a `MalformedObject`."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from zkreg.errors import MalformedObject


@cache
def _validator(name: str) -> Any:
    import jsonschema

    schema = json.loads(resources.files(__name__).joinpath(f"{name}.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def validate(name: str, instance: object, *, what: str) -> None:
    errors = sorted(_validator(name).iter_errors(instance), key=lambda error: list(error.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(part) for part in first.absolute_path) or "(root)"
        raise MalformedObject(f"{what} does not match schema {name}: {where}: {first.message}")
