"""What every command module shares: its `commands` set, the --json flag, opening the repo, plain output.

Only command modules import this (`zkreg --help` does not), so it may import the library at its top.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from zkreg.api import Repo
from zkreg.cli.render import write_out

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


def command_set(**options: Any) -> typer.Typer:
    """A command module's `commands` (or a command group of it), rendered as plain help like the root's."""
    return typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None, **options)


def open_repo() -> Repo:
    return Repo.open(passphrase=os.environ.get("ZKREG_PASSPHRASE"))


def echo(text: str) -> None:
    """Human output: through `render.write_out`, which escapes terminal control characters."""
    write_out(text)
