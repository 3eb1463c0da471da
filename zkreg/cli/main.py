"""`zkreg`'s entry point. Errors are mapped to output and exit codes here, in one place.

Start-up imports only Typer and light zkreg modules; each command imports the API (and through it multiformats,
onnx, ...) when it runs, so `zkreg --help` stays fast.
"""

from __future__ import annotations

import os
import sys

import typer

from zkreg.cli import car, gc, ledger, registry, serve, zk  # noqa: F401  (each registers its commands)
from zkreg.cli.app import app, state
from zkreg.cli.render import emit_json
from zkreg.errors import ZkregError


def _render_error(error: ZkregError, json_mode: bool) -> None:
    if json_mode:
        emit_json(error.to_json())
    message = f"zkreg: error[{error.code}]: {error.message}"
    if error.hint:
        message += f" (hint: {error.hint})"
    sys.stderr.write(message + "\n")


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; every failure ends here as one readable line and a stable exit code."""
    args = sys.argv[1:] if argv is None else argv
    json_mode = "--json" in args
    command = typer.main.get_command(app)
    try:
        command.main(args=args, prog_name="zkreg", standalone_mode=False)
    except ZkregError as error:
        if state["debug"] or os.environ.get("ZKREG_DEBUG"):
            raise
        _render_error(error, json_mode)
        sys.exit(error.exit_code)
    except typer.exceptions.TyperException as error:  # found by the parser: a usage error (exit code 2)
        if json_mode:
            emit_json({"error": {"code": "usage", "message": error.format_message()}})
        sys.stderr.write(f"zkreg: error[usage]: {error.format_message()} (see `zkreg --help`)\n")
        sys.exit(error.exit_code)
    except typer.Abort:
        sys.stderr.write("zkreg: aborted\n")
        sys.exit(130)
    except OSError as error:
        if state["debug"] or os.environ.get("ZKREG_DEBUG"):
            raise
        _render_error(
            ZkregError(f"{error.strerror or error}: {error.filename or ''}".rstrip(": "), code="os-error"), json_mode
        )
        sys.exit(1)
