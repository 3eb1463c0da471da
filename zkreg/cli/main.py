"""`zkreg`'s entry point. Errors are mapped to output and exit codes here, in one place.

Start-up imports only Typer and light zkreg modules; each command imports the API (and through it multiformats,
onnx, ...) when it runs, so `zkreg --help` stays fast.

Interrupts: Ctrl-C (SIGINT) is a `KeyboardInterrupt` wherever it lands; the library cleans up on the way out (a
failed publish removes the blocks it added, a pull its staging folder) and the process exits 130 with one line.
Typer turns the interrupt into a returned exit code of 130, so that return value is read here too. A reader that
closes our stdout (`zkreg log NAME | head -1`) ends the command quietly with 141 (128 + SIGPIPE), the status a
shell reports for a tool that SIGPIPE stops, as `git log | head -1` does.
"""

from __future__ import annotations

import os
import sys

import typer

from zkreg.cli import car, gc, ledger, registry, serve, zk  # noqa: F401  (each registers its commands)
from zkreg.cli.app import app, state
from zkreg.cli.render import OutputClosed, emit_json, terminal_safe
from zkreg.errors import OperatingSystemError, ZkregError

INTERRUPTED = 130
"""128 + SIGINT."""
OUTPUT_CLOSED = 141
"""128 + SIGPIPE."""


def _render_error(error: ZkregError, json_mode: bool) -> None:
    if json_mode:
        emit_json(error.to_json())
    message = f"zkreg: error[{error.code}]: {error.message}"
    if error.hint:
        message += f" (hint: {error.hint})"
    sys.stderr.write(terminal_safe(message, keep_newlines=False) + "\n")


def _interrupted() -> None:
    sys.stderr.write("zkreg: interrupted\n")
    sys.exit(INTERRUPTED)


def _output_closed() -> None:
    # Whatever is still buffered for the gone reader must not fail again at exit.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    sys.exit(OUTPUT_CLOSED)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; every failure ends here as one readable line and a stable exit code."""
    args = sys.argv[1:] if argv is None else argv
    json_mode = "--json" in args
    command = typer.main.get_command(app)
    try:
        returned = command.main(args=args, prog_name="zkreg", standalone_mode=False)
        sys.stdout.flush()
    except ZkregError as error:
        if state["debug"] or os.environ.get("ZKREG_DEBUG"):
            raise
        _render_error(error, json_mode)
        sys.exit(error.exit_code)
    except typer.exceptions.TyperException as error:  # found by the parser: a usage error (exit code 2)
        if json_mode:
            emit_json({"error": {"code": "usage", "message": error.format_message()}})
        usage = terminal_safe(error.format_message(), keep_newlines=False)
        sys.stderr.write(f"zkreg: error[usage]: {usage} (see `zkreg --help`)\n")
        sys.exit(error.exit_code)
    except typer.Abort:
        sys.stderr.write("zkreg: aborted\n")
        sys.exit(INTERRUPTED)
    except KeyboardInterrupt:
        _interrupted()
    except (OutputClosed, BrokenPipeError):
        _output_closed()
    except OSError as error:
        if state["debug"] or os.environ.get("ZKREG_DEBUG"):
            raise
        _render_error(
            OperatingSystemError(f"{error.strerror or error}: {error.filename or ''}".rstrip(": ")), json_mode
        )
        sys.exit(1)
    if returned == INTERRUPTED:  # Typer's way of reporting a KeyboardInterrupt it caught
        _interrupted()
    if isinstance(returned, int) and returned:
        sys.exit(returned)
