"""`zkreg gc`: remove blocks that no held manifest reaches (dry run unless `--yes`)."""

from __future__ import annotations

from typing import Annotated

import typer

from zkreg.api import GcRequest
from zkreg.api import gc as collect_garbage
from zkreg.cli.app import JsonFlag, command_set, echo, open_repo
from zkreg.cli.render import emit_json

commands = command_set()


@commands.command()
def gc(
    yes: Annotated[bool, typer.Option("--yes", help="Delete them; without it, only count them.")] = False,
    json_out: JsonFlag = False,
) -> None:
    """Remove blocks no held manifest or receipted proof reaches (a failed publish's, unlinked CAR blocks)."""
    with open_repo() as repo:
        result = collect_garbage(repo, GcRequest(dry_run=not yes))
    if json_out:
        emit_json({"blocks": result.blocks, "bytes": result.bytes, "deleted": result.deleted})
    elif result.deleted:
        echo(f"removed {result.blocks} blocks ({result.bytes} bytes)")
    else:
        echo(f"{result.blocks} blocks ({result.bytes} bytes) are reached by no manifest; `zkreg gc --yes` removes them")
