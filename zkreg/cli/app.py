"""The Typer app and what every command module shares: the --json flag, opening the repo, plain output."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from zkreg.api import Repo

app = typer.Typer(
    name="zkreg",
    help="Share ML models and datasets as signed, content-addressed commitments.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: Typer's Rich help formatter costs ~55 ms of imports on every `zkreg --help`.
    rich_markup_mode=None,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
state = {"debug": False}


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show a traceback for errors.")] = False,
) -> None:
    state["debug"] = debug


def open_repo() -> Repo:
    from zkreg.api import Repo

    return Repo.open(passphrase=os.environ.get("ZKREG_PASSPHRASE"))


def echo(text: str) -> None:
    """Human output: through `render.write_out`, which escapes terminal control characters."""
    from zkreg.cli.render import write_out

    write_out(text)
