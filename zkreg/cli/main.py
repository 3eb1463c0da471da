"""`zkreg`'s entry point. Errors are mapped to output and exit codes here, in one place.

Commands load lazily: `COMMANDS` names each command, its one-line help and the module that defines it, and
`LazyCommands` imports that module only when the command is invoked (or its own `--help` is asked for). So
`zkreg --help` imports Typer, this module, `render` and `errors`, and no command module or library module; the
command modules import the library at their top.

Interrupts: Ctrl-C (SIGINT) is a `KeyboardInterrupt` wherever it lands; the library cleans up on the way out (a
failed publish removes the blocks it added, a pull its staging folder) and the process exits 130 with one line.
Typer turns the interrupt into a returned exit code of 130, so that return value is read here too. A reader that
closes our stdout (`zkreg log NAME | head -1`) ends the command quietly with 141 (128 + SIGPIPE), the status a
shell reports for a tool that SIGPIPE stops, as `git log | head -1` does.
"""

from __future__ import annotations

import importlib
import os
import sys
from difflib import get_close_matches
from functools import cache
from typing import Annotated

import typer
from typer import _click as click  # Typer vendors click; its TyperGroup is built on this copy
from typer.core import TyperGroup

from zkreg.cli.render import OutputClosed, emit_json, terminal_safe
from zkreg.errors import OperatingSystemError, ZkregError

COMMANDS: dict[str, tuple[str, str]] = {
    "export": (
        "zkreg.cli.car",
        "Write a manifest and every block it reaches to a CARv1 file (imports into IPFS with `ipfs dag import`).",
    ),
    "import": (
        "zkreg.cli.car",
        "Verify every block of a CAR file and its manifests' signatures, then store it and record its refs.",
    ),
    "gc": (
        "zkreg.cli.gc",
        "Remove blocks no held manifest or receipted proof reaches (a failed publish's, unlinked CAR blocks).",
    ),
    "init": ("zkreg.cli.registry", "Create the data dir and an Ed25519 identity (ZKREG_HOME overrides the location)."),
    "id": ("zkreg.cli.registry", "Show this identity (did:key) and its data dir."),
    "publish": (
        "zkreg.cli.registry",
        "Commit files as content-addressed blocks and a signed manifest; print the manifest CID.",
    ),
    "cid": (
        "zkreg.cli.registry",
        "Print the CID of each file or folder without storing anything (like `ipfs add --only-hash`).",
    ),
    "pull": ("zkreg.cli.registry", "Fetch an artefact, verifying every block and the manifest's signature."),
    "show": ("zkreg.cli.registry", "Show a verified manifest and the consensus of its attesters."),
    "consensus": (
        "zkreg.cli.registry",
        "The trust-weighted verdict of the attestations held for a manifest, seen from this peer's trust roots.",
    ),
    "log": (
        "zkreg.cli.registry",
        "The history of a name, newest first, following each manifest's parents (like `git log`).",
    ),
    "ls": ("zkreg.cli.registry", "List known refs."),
    "verify": (
        "zkreg.cli.registry",
        "Verify a manifest: its CID, schema and signature, and every block of every file it names; or, given "
        "a file that is not a known ref, a zero-knowledge proof bundle or a verification summary (exit 4 with the "
        "reason if it does not verify).",
    ),
    "serve": (
        "zkreg.cli.serve",
        "Serve reputation-gated proofs, feed sync and public artefacts over HTTP until interrupted.",
    ),
    "sync": (
        "zkreg.cli.serve",
        "Pull the peer's feeds, push ours, and fetch the manifests and proofs that scoring needs.",
    ),
    "prove": (
        "zkreg.cli.zk",
        "Run the model on an input and write a signed zero-knowledge proof bundle of the output.",
    ),
    "eval": (
        "zkreg.cli.zk",
        "Prove how many rows of a committed dataset a committed model classifies correctly; write a signed "
        "evaluation bundle that anyone can verify without seeing a row or a weight.",
    ),
    "ledger": ("zkreg.cli.ledger", "The signed, hash-chained feeds this peer holds."),
    "rep": ("zkreg.cli.ledger", "Proof of Reputation: trust, credit, debit and balance."),
    "peer": ("zkreg.cli.peer", "Peers and local trust roots."),
}
"""Command name -> (the module whose `commands` defines it, the first paragraph of its help). A test keeps the
help texts equal to the commands' own."""

INTERRUPTED = 130
"""128 + SIGINT."""
OUTPUT_CLOSED = 141
"""128 + SIGPIPE."""


@cache
def _module_commands(module: str) -> TyperGroup:
    return typer.main.get_group(importlib.import_module(module).commands)


class LazyCommands(TyperGroup):
    """The root group: lists `COMMANDS` from the table and imports a command's module only to run it."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            command = _module_commands(COMMANDS[cmd_name][0]).get_command(ctx, cmd_name)
            if command is not None:
                self.commands[cmd_name] = command
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = [(name, click.utils.make_default_short_help(text, limit)) for name, (_, text) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        # Typer suggests among the loaded commands only; a mistyped name loads none, so suggest from the table.
        name = args[0] if args else ""
        matches = get_close_matches(name, COMMANDS) if name not in COMMANDS and not name.startswith("-") else []
        if matches:
            ctx.fail(f"No such command {name!r}. Did you mean {', '.join(repr(match) for match in matches)}?")
        return super().resolve_command(ctx, args)


app = typer.Typer(
    cls=LazyCommands,
    name="zkreg",
    help="Share ML models and datasets as signed, content-addressed commitments.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: Typer's Rich help formatter costs ~55 ms of imports on every `zkreg --help`.
    rich_markup_mode=None,
)
state = {"debug": False}


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show a traceback for errors.")] = False,
) -> None:
    state["debug"] = debug


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
