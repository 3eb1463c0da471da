"""The layering of the remote workflows: `zkreg.peer` is transport and wire documents, below the application
layer; `zkreg.serve` adapts `zkreg.app.provider` and touches no store itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import zkreg

PACKAGE = Path(zkreg.__file__).parent


def imported_by(package: str) -> dict[str, set[str]]:
    """{module file: every zkreg module it imports}, local and TYPE_CHECKING imports included."""
    found: dict[str, set[str]] = {}
    for path in sorted((PACKAGE / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[str(path.relative_to(PACKAGE))] = {name for name in names if name.split(".")[0] == "zkreg"}
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        pytest.param("peer", ("zkreg.app", "zkreg.api", "zkreg.cli", "zkreg.serve"), id="peer is below the workflows"),
        pytest.param(
            "serve",
            ("zkreg.api", "zkreg.registry", "zkreg.reputation", "zkreg.peer.store", "zkreg.peer.client"),
            id="serve reaches no store, only the provider",
        ),
    ],
)
def test_a_layer_imports_nothing_above_it(package: str, forbidden: tuple[str, ...]) -> None:
    modules = imported_by(package)
    assert modules, f"no modules found under zkreg/{package}"
    wrong = {
        path: sorted(name for name in names if any(name == f or name.startswith(f + ".") for f in forbidden))
        for path, names in modules.items()
    }
    assert {path: names for path, names in wrong.items() if names} == {}


def test_the_remote_workflows_live_in_the_application_layer() -> None:
    assert not (PACKAGE / "peer" / "provider.py").exists()
    assert {"zkreg.app.provider"} <= imported_by("serve")["serve/server.py"]
