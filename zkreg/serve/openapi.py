"""Renders docs/openapi.json, the HTTP API's contract, from the app itself; a test keeps the file current.

python -m zkreg.serve.openapi > docs/openapi.json
"""

from __future__ import annotations

import json

from zkreg.serve.app import create_app


def render() -> str:
    return json.dumps(create_app().openapi(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(render(), end="")
