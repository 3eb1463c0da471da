"""`zkreg`: the Typer app. Every command parses its arguments, calls `zkreg.api`, and renders the result.

Errors are mapped to output and exit codes in one place, `main()`. This module imports only Typer and light
zkreg modules at start-up; the API (and through it multiformats, onnx, ...) is imported inside each command.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from zkreg.cli.render import emit_json, progress_for
from zkreg.errors import ZkregError

if TYPE_CHECKING:
    from zkreg.api import Repo
    from zkreg.registry.manifest import Manifest

app = typer.Typer(
    name="zkreg",
    help="Share ML models and datasets as signed, content-addressed commitments.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
_state = {"debug": False}


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show a traceback for errors.")] = False,
) -> None:
    _state["debug"] = debug


def _repo() -> Repo:
    from zkreg.api import Repo

    return Repo.open(passphrase=os.environ.get("ZKREG_PASSPHRASE"))


def _echo(text: str) -> None:
    typer.echo(text)


@app.command()
def init(json_out: JsonFlag = False) -> None:
    """Create the data dir and an Ed25519 identity (ZKREG_HOME overrides the location)."""
    from zkreg.api import Repo

    repo = Repo.init(passphrase=os.environ.get("ZKREG_PASSPHRASE") or None)
    if json_out:
        emit_json({"did": repo.identity.did, "home": str(repo.home)})
    else:
        _echo(f"initialised {repo.home}\nidentity {repo.identity.did}")


@app.command("id")
def id_(json_out: JsonFlag = False) -> None:
    """Show this identity (did:key) and its data dir."""
    repo = _repo()
    if json_out:
        emit_json({"did": repo.identity.did, "home": str(repo.home)})
    else:
        _echo(f"{repo.identity.did}\n{repo.home}")


@app.command()
def publish(
    paths: Annotated[list[Path], typer.Argument(help="Files or directories to publish.")],
    name: Annotated[str, typer.Option("--name", "-n", help="Name of the artefact.")],
    version: Annotated[str | None, typer.Option(help="Version; default: the next integer.")] = None,
    kind: Annotated[str | None, typer.Option(help="model | dataset; default: model if an .onnx is given.")] = None,
    dataset: Annotated[str | None, typer.Option(help="Ref of the dataset this model was trained on.")] = None,
    weights: Annotated[str, typer.Option(help="public | private.")] = "public",
    message: Annotated[str | None, typer.Option("--message", "-m", help="A note kept in the manifest.")] = None,
    json_out: JsonFlag = False,
) -> None:
    """Commit files as content-addressed blocks and a signed manifest; print the manifest CID."""
    repo = _repo()
    with progress_for(json_out) as progress:
        result = repo.publish(
            paths,
            name=name,
            version=version,
            kind=kind,
            dataset=dataset,
            weights=weights,
            message=message,
            progress=progress,
        )
    if json_out:
        emit_json({"cid": result.cid, "name": result.name, "version": result.version, "created": result.created})
    else:
        note = "published" if result.created else "unchanged, already published as"
        _echo(f"{note} {result.name}@{result.version}")
        _echo(result.cid)


@app.command()
def pull(
    ref: Annotated[str, typer.Argument(help="Manifest CID, name@version or name (latest).")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Target folder; default: ./NAME.")] = None,
    json_out: JsonFlag = False,
) -> None:
    """Fetch an artefact, verifying every block and the manifest's signature."""
    repo = _repo()
    with progress_for(json_out) as progress:
        manifest = repo.show(ref)
        result = repo.pull(manifest.cid, output or Path(manifest.name), progress)
    if json_out:
        emit_json(
            {
                "cid": result.manifest.cid,
                "directory": str(result.directory),
                "files": [{"path": f.path, "cid": f.cid, "size": f.size} for f in result.files],
            }
        )
    else:
        for pulled in result.files:
            _echo(f"{pulled.cid}  {pulled.size:>12}  {result.directory / pulled.path}")


def _describe(manifest: Manifest) -> str:
    lines = [
        f"manifest {manifest.cid}",
        f"{manifest.kind} {manifest.name}@{manifest.version}  ({manifest.weights} weights)",
        f"author   {manifest.author}",
        f"created  {manifest.created}",
    ]
    if manifest.dataset:
        lines.append(f"dataset  {manifest.dataset}")
    for parent in manifest.parents:
        lines.append(f"parent   {parent}")
    if manifest.message:
        lines.append(f"\n    {manifest.message}\n")
    lines.append(f"tree     {manifest.tree}")
    lines.extend(f"  {cid}  {manifest.sizes[path]:>12}  {path}" for path, cid in manifest.files.items())
    return "\n".join(lines)


@app.command()
def show(ref: str, json_out: JsonFlag = False) -> None:
    """Show a verified manifest."""
    manifest = _repo().show(ref)
    if json_out:
        emit_json(manifest.to_json())
    else:
        _echo(_describe(manifest))


@app.command()
def log(ref: Annotated[str, typer.Argument(help="A name (or name@version) whose history to show.")],
        json_out: JsonFlag = False) -> None:
    """The history of a name, newest first, following each manifest's parents (like `git log`)."""
    history = _repo().log(ref)
    if json_out:
        emit_json([manifest.to_json() for manifest in history])
        return
    for manifest in history:
        _echo(f"manifest {manifest.cid}  {manifest.name}@{manifest.version}")
        _echo(f"author   {manifest.author}\ncreated  {manifest.created}")
        _echo(f"\n    {manifest.message or '(no message)'}\n")


@app.command("ls")
def ls_(json_out: JsonFlag = False) -> None:
    """List known refs."""
    entries = _repo().ls()
    if json_out:
        emit_json([entry.__dict__ for entry in entries])
        return
    for entry in entries:
        _echo(f"{entry.cid}  {entry.kind:<8} {entry.name}@{entry.version}")


@app.command()
def verify(ref: str, json_out: JsonFlag = False) -> None:
    """Verify a manifest: its CID, schema and signature, and every block of every file it names."""
    repo = _repo()
    with progress_for(json_out) as progress:
        result = repo.verify(ref, progress)
    if json_out:
        emit_json({"ok": True, "cid": result.manifest.cid, "files": result.files, "bytes": result.bytes})
    else:
        _echo(f"ok {result.manifest.name}@{result.manifest.version}: signature valid, "
              f"{result.files} files, {result.bytes} bytes verified")


def _render_error(error: ZkregError, json_mode: bool) -> None:
    if json_mode:
        emit_json(error.to_json())
    message = f"zkreg: error[{error.code}]: {error.message}"
    if error.hint:
        message += f" (hint: {error.hint})"
    sys.stderr.write(message + "\n")


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; every failure ends here as one readable line and a stable exit code."""
    import click

    args = sys.argv[1:] if argv is None else argv
    json_mode = "--json" in args
    command = typer.main.get_command(app)
    try:
        command.main(args=args, prog_name="zkreg", standalone_mode=False)
    except ZkregError as error:
        if _state["debug"] or os.environ.get("ZKREG_DEBUG"):
            raise
        _render_error(error, json_mode)
        sys.exit(error.exit_code)
    except click.ClickException as error:
        if json_mode:
            emit_json({"error": {"code": "usage", "message": error.format_message()}})
        error.show()
        sys.exit(2 if isinstance(error, click.UsageError) else 1)
    except click.exceptions.Abort:
        sys.stderr.write("zkreg: aborted\n")
        sys.exit(130)
    except OSError as error:
        if _state["debug"] or os.environ.get("ZKREG_DEBUG"):
            raise
        _render_error(ZkregError(f"{error.strerror or error}: {error.filename or ''}".rstrip(": "),
                                 code="os-error"), json_mode)
        sys.exit(1)
