"""Start-up stays light: `zkreg --help` lists the commands from cli/main's table without importing any command
module, a command's own help imports its module but not the proof system, and the signature worker starts on
PyNaCl and CBOR alone."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest
import typer

from zkreg.cli.main import COMMANDS, app

PROOF_SYSTEM = ("ezkl", "onnx", "numpy", "scipy")
CODECS = ("multiformats", "dag_cbor", "cbor2", "fastjsonschema", "jsonschema")
NETWORK = ("httpx", "fastapi", "uvicorn", "starlette", "pydantic")
LIBRARY = (
    "zkreg.api",
    "zkreg.app",
    "zkreg.config",
    "zkreg.home",
    "zkreg.identity",
    "zkreg.peer",
    "zkreg.registry",
    "zkreg.reputation",
    "zkreg.serve",
    "zkreg.zk",
)
COMMAND_MODULES = tuple(sorted({module for module, _ in COMMANDS.values()}))

BUDGETS = [
    pytest.param(
        ["-m", "zkreg", "--help"],
        (*PROOF_SYSTEM, *CODECS, *NETWORK, "rich", "zkreg.cli.app", *COMMAND_MODULES, *LIBRARY),
        id="zkreg --help",
    ),
    pytest.param(["-m", "zkreg", "publish", "--help"], PROOF_SYSTEM, id="zkreg publish --help"),
    pytest.param(["-m", "zkreg", "prove", "--help"], PROOF_SYSTEM, id="zkreg prove --help"),
    pytest.param(["-m", "zkreg", "verify", "--help"], PROOF_SYSTEM, id="zkreg verify --help"),
    pytest.param(
        ["-m", "zkreg.reputation.signature_worker"],
        (
            *PROOF_SYSTEM,
            *NETWORK,
            "jsonschema",
            "typer",
            "multiformats",
            "dag_cbor",
            "zkreg.api",
            "zkreg.registry.store",
        ),
        id="signature worker",
    ),
]


def imported_modules(args: list[str]) -> set[str]:
    """Every module the entry point imports, as `-X importtime` reports them (stdin closed: the worker exits)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}


@pytest.mark.parametrize(("args", "forbidden"), BUDGETS)
def test_entry_point_imports_nothing_it_does_not_need(args: list[str], forbidden: tuple[str, ...]) -> None:
    imported = imported_modules(args)
    assert "zkreg" in imported  # the probe sees our imports at all
    over_budget = sorted(
        name for name in imported if any(name == banned or name.startswith(f"{banned}.") for banned in forbidden)
    )
    assert over_budget == [], f"{' '.join(args)} imported {over_budget}"


def test_the_command_table_names_every_command_with_its_own_help() -> None:
    defined = {}
    for module in COMMAND_MODULES:
        group = typer.main.get_group(importlib.import_module(module).commands)
        defined |= {name: (module, command) for name, command in group.commands.items()}
    assert sorted(defined) == sorted(COMMANDS)
    for name, (module, text) in COMMANDS.items():
        defined_in, command = defined[name]
        assert defined_in == module, name
        assert command.help is not None
        assert text == " ".join(command.help.split("\n\n")[0].split()), name
    assert app.registered_commands == []  # every command lives in a module the table names


def test_a_mistyped_command_is_answered_with_the_closest_names_from_the_table() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "zkreg", "pul"], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 2
    assert "No such command 'pul'. Did you mean 'pull', 'publish'?" in proc.stderr
