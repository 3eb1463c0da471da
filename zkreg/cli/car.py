"""CAR files: `zkreg export` and `zkreg import`, the offline way to hand an artefact over."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zkreg.api import ExportCarRequest, ImportCarRequest, export_car, import_car
from zkreg.cli.app import JsonFlag, command_set, echo, open_repo
from zkreg.cli.render import emit_json

commands = command_set()


@commands.command("export")
def export_(
    ref: Annotated[str, typer.Argument(help="Manifest CID, name@version or name (latest).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The CAR file to write.")],
    json_out: JsonFlag = False,
) -> None:
    """Write a manifest and every block it reaches to a CARv1 file (imports into IPFS with `ipfs dag import`)."""
    repo = open_repo()
    cid = repo.resolve(ref)
    blocks = export_car(repo, ExportCarRequest(cid, output))
    if json_out:
        emit_json({"cid": cid, "file": str(output), "blocks": blocks})
    else:
        echo(f"wrote {blocks} blocks of {cid} to {output}")


@commands.command("import")
def import_(
    car: Annotated[Path, typer.Argument(help="A CARv1 file (from `zkreg export` or `ipfs dag export`).")],
    json_out: JsonFlag = False,
) -> None:
    """Verify every block of a CAR file and its manifests' signatures, then store it and record its refs."""
    result = import_car(open_repo(), ImportCarRequest(car))
    if json_out:
        emit_json({"roots": result.roots, "blocks": result.blocks, "bytes": result.bytes, "refs": result.refs})
    else:
        echo(f"imported {result.blocks} blocks ({result.bytes} bytes)")
        for root in result.roots:
            echo(root)
        for ref in result.refs:
            echo(f"ref {ref}")
