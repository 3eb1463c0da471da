"""Commands over the registry: identity, publish, pull, show, log, ls, verify."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from zkreg.api import (
    CidRequest,
    ConsensusRequest,
    LineageRequest,
    MetricsRequest,
    ProvenMetric,
    PublishRequest,
    PullRequest,
    Repo,
    VerifyRequest,
    VerifyResult,
    VerifySummaryRequest,
    compute_cids,
    lineage_graph,
    proven_metrics,
    verify_summary,
    write_svg,
)
from zkreg.api import consensus as consensus_of
from zkreg.api import publish as publish_artefact
from zkreg.api import pull as pull_artefact
from zkreg.api import verify as verify_artefact
from zkreg.app.pages import visibility
from zkreg.cli.app import JsonFlag, command_set, echo, open_repo
from zkreg.cli.render import emit_json, one_line, progress_for
from zkreg.cli.zk import verify_proof_command
from zkreg.errors import PolicyNotMet
from zkreg.registry.manifest import Manifest
from zkreg.reputation.consensus import DEFAULT_THRESHOLD
from zkreg.vsa import looks_like_summary

commands = command_set()

CidProfileOption = Annotated[
    str | None,
    typer.Option(
        "--cid-profile",
        help="unixfs-v1-2025 | unixfs-v0-2015 | kubo-v1-legacy (IPIP-499); default: the latest version's, "
        "then cid_profile in config.toml, then unixfs-v1-2025.",
    ),
]

StoreOption = Annotated[
    str | None,
    typer.Option(help="local | ipfs (the node at ZKREG_IPFS_API); default: ipfs if ZKREG_IPFS_API is set."),
]


@commands.command()
def init(json_out: JsonFlag = False) -> None:
    """Create the data dir and an Ed25519 identity (ZKREG_HOME overrides the location)."""
    repo = Repo.init(passphrase=os.environ.get("ZKREG_PASSPHRASE") or None)
    if json_out:
        emit_json({"did": repo.identity.did, "home": str(repo.home)})
    else:
        echo(f"initialised {repo.home}\nidentity {repo.identity.did}")


@commands.command("id")
def id_(json_out: JsonFlag = False) -> None:
    """Show this identity (did:key) and its data dir."""
    repo = open_repo()
    if json_out:
        emit_json({"did": repo.identity.did, "home": str(repo.home)})
    else:
        echo(f"{repo.identity.did}\n{repo.home}")


@commands.command()
def publish(
    paths: Annotated[list[Path], typer.Argument(help="Files or directories to publish.", metavar="PATH")],
    name: Annotated[str, typer.Option("--name", "-n", help="Name of the artefact.")],
    version: Annotated[str | None, typer.Option(help="Version; default: the next integer.")] = None,
    kind: Annotated[str | None, typer.Option(help="model | dataset; default: model if an .onnx is given.")] = None,
    dataset: Annotated[str | None, typer.Option(help="Ref of the dataset this model was trained on.")] = None,
    weights: Annotated[str, typer.Option(help="public | private.")] = "public",
    message: Annotated[str | None, typer.Option("--message", "-m", help="A note kept in the manifest.")] = None,
    store: StoreOption = None,
    pin: Annotated[bool, typer.Option("--pin/--no-pin", help="Pin the published DAG on the IPFS node.")] = True,
    zk: Annotated[str | None, typer.Option(help="fixed | hashed: set up zk proofs (default fixed if private).")] = None,
    calibration: Annotated[Path | None, typer.Option(help="zk: a representative input (JSON).")] = None,
    zk_target: Annotated[
        str | None,
        typer.Option(help="zk calibration: resources (default; smallest circuit) | accuracy (least drift)."),
    ] = None,
    srs: Annotated[Path | None, typer.Option(help="zk: a KZG ceremony SRS file; default: an insecure dev SRS.")] = None,
    price: Annotated[int | None, typer.Option(min=0, help="Credits per proof when served (default 1).")] = None,
    private: Annotated[
        bool, typer.Option("--private", help="Dataset: publish a row commitment and no row (rows stay here).")
    ] = False,
    label: Annotated[str | None, typer.Option(help="Dataset: the CSV label column (default: the last).")] = None,
    commit_rows: Annotated[
        bool, typer.Option("--commit-rows", help="Public dataset: also commit every row, to evaluate on it.")
    ] = False,
    eval_batch: Annotated[
        int | None, typer.Option(min=1, max=256, help="zk model with a --dataset with rows: rows per eval proof.")
    ] = None,
    metrics_proof: Annotated[
        Path | None, typer.Option(help="An evaluation bundle (zkreg eval) of these weights: proven accuracy.")
    ] = None,
    cid_profile: CidProfileOption = None,
    json_out: JsonFlag = False,
) -> None:
    """Commit files as content-addressed blocks and a signed manifest; print the manifest CID."""
    repo = open_repo()
    with progress_for(json_out) as progress:
        request = PublishRequest(
            paths=paths,
            name=name,
            version=version,
            kind=kind,
            dataset=dataset,
            weights=weights,
            message=message,
            store=store,
            pin=pin,
            zk=zk,
            calibration=calibration,
            zk_target=zk_target,
            srs=srs,
            price=price,
            private=private,
            label=label,
            commit_rows=commit_rows,
            eval_batch=eval_batch,
            metrics_proof=metrics_proof,
            cid_profile=cid_profile,
        )
        result = publish_artefact(repo, request, progress)
    if result.zk_srs == "dev":
        typer.echo("warning: zk set up with an insecure dev SRS (no --srs): fine for development only", err=True)
    if json_out:
        emit_json(
            {"cid": result.cid, "name": result.name, "version": result.version, "created": result.created}
            | ({"zk_estimate": result.zk_estimate, "zk_srs": result.zk_srs} if result.zk_estimate else {})
        )
    else:
        if result.zk_estimate:
            echo(f"zk set up: {result.zk_estimate}")
        note = "published" if result.created else "unchanged, already published as"
        echo(f"{note} {result.name}@{result.version}")
        echo(result.cid)


@commands.command()
def cid(
    paths: Annotated[list[Path], typer.Argument(help="Files or directories.", metavar="PATH")],
    cid_profile: Annotated[
        str | None,
        typer.Option(
            "--cid-profile",
            help="unixfs-v1-2025 | unixfs-v0-2015 | kubo-v1-legacy; default: cid_profile in config.toml, "
            "then unixfs-v1-2025.",
        ),
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """Print the CID of each file or folder without storing anything (like `ipfs add --only-hash`).

    A folder's CID covers every file below it, hidden ones included (`ipfs add -r --hidden`); empty folders are
    left out, as publish leaves them out.
    """
    repo = open_repo()
    with progress_for(json_out) as progress:
        result = compute_cids(repo, CidRequest(paths, cid_profile), progress)
    if json_out:
        emit_json(
            {
                "profile": result.profile,
                "entries": [{"path": e.path, "cid": e.cid, "size": e.size, "type": e.kind} for e in result.entries],
            }
        )
    else:
        for entry in result.entries:
            echo(f"{entry.cid}  {entry.path}")


@commands.command()
def pull(
    ref: Annotated[str, typer.Argument(help="Manifest CID, name@version or name (latest).")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Target folder; default: ./NAME.")] = None,
    store: StoreOption = None,
    remote: Annotated[str | None, typer.Option(help="Fetch it from this peer (`zkreg serve` URL).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace files that already exist in the target.")] = False,
    json_out: JsonFlag = False,
) -> None:
    """Fetch an artefact, verifying every block and the manifest's signature.

    With --remote, from the peer that published it, which signs a receipt for this use. An existing file is
    replaced only with --force; a symlink in the target is never followed.
    """
    repo = open_repo()
    if remote is not None:
        # local: httpx and jsonschema (~0.2 s) only for a peer
        from zkreg.app.remote import RemotePullRequest, pull_remote

        result = pull_remote(repo, RemotePullRequest(remote, ref, output, force=force)).result
    else:
        with progress_for(json_out) as progress:
            result = pull_artefact(repo, PullRequest(ref, output, store=store, force=force), progress)
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
            echo(f"{pulled.cid}  {pulled.size:>12}  {one_line(str(result.directory / pulled.path))}")


def _describe(
    manifest: Manifest, metrics: tuple[ProvenMetric, ...] = (), claimed: dict[str, object] | None = None
) -> str:
    claimed = claimed or {}
    lines = [
        f"manifest {manifest.cid}",
        f"{manifest.kind} {one_line(manifest.name)}@{one_line(manifest.version)}  ({visibility(manifest)})",
        f"author   {manifest.author}",
        f"created  {manifest.created}",
    ]
    if manifest.dataset:
        lines.append(f"dataset  {manifest.dataset}")
    for parent in manifest.parents:
        lines.append(f"parent   {parent}")
    if manifest.rows is not None:
        rows = manifest.rows
        lines.append(
            f"rows     {rows['count']} ({rows['visibility']}: "
            + ("a commitment, no row" if rows["visibility"] == "private" else "committed")
            + f"), label {one_line(rows['label'])}, {len(rows['classes'])} classes, "
            f"{len(rows['columns'])} features"
        )
    for metric in metrics:
        lines.append(
            f"metric   {one_line(metric.name)} {metric.value} proven ({metric.correct}/{metric.rows} rows of "
            f"dataset {metric.dataset}, evaluation {metric.evaluation})"
        )
    for name, value in claimed.items():
        lines.append(f"metric   {one_line(name)} {one_line(str(value))} claimed")
    if manifest.message:
        lines.append(f"\n{_indented(manifest.message)}\n")
    lines.append(f"tree     {manifest.tree}")
    lines.extend(f"  {cid}  {manifest.sizes[path]:>12}  {one_line(path)}" for path, cid in manifest.files.items())
    return "\n".join(lines)


def _indented(message: str) -> str:
    """A manifest's message, every line of it indented, so no line of it can pass for a field of the listing."""
    return "\n".join(f"    {one_line(line)}" for line in message.split("\n"))


@commands.command()
def show(ref: str, json_out: JsonFlag = False) -> None:
    """Show a verified manifest and the consensus of its attesters."""
    repo = open_repo()
    manifest = repo.show(ref)
    report = proven_metrics(repo, MetricsRequest(manifest.cid, verify=False))
    if json_out:
        emit_json(
            manifest.to_json()
            | {
                "proven_metrics": [metric.to_json() for metric in report.proven],
                "claimed_metrics": report.claimed,
            }
        )
    else:
        echo(_describe(manifest, report.proven, report.claimed))
        echo(consensus_of(repo, ConsensusRequest(manifest.cid)).line())


@commands.command()
def consensus(
    ref: Annotated[str, typer.Argument(help="Manifest CID, name@version or name (latest).")],
    threshold: Annotated[
        float, typer.Option(help="Share of the weight a verdict needs (above 0.5, at most 1).")
    ] = DEFAULT_THRESHOLD,
    json_out: JsonFlag = False,
) -> None:
    """The trust-weighted verdict of the attestations held for a manifest, seen from this peer's trust roots.

    Each attester's latest verdict counts, weighted by its Proof of Reputation trust (an identity without trust
    weighs nothing; a forked one is dropped), and no attester weighs more than all the others together.
    """
    result = consensus_of(open_repo(), ConsensusRequest(ref, threshold))
    if json_out:
        emit_json(result.to_json())
        return
    echo(f"{result.subject}\n{result.line()}")
    for item in result.attesters:
        echo(f"  {item.vote.verdict:<4}  {item.weight:.6f}  {item.vote.identity}  {one_line(item.vote.details)}")


@commands.command()
def log(
    ref: Annotated[str, typer.Argument(help="A name (or name@version) whose history to show.")],
    graph: Annotated[
        Path | None,
        typer.Option("--graph", help="Also draw the lineage (parents and datasets) to this SVG file (needs `dot`)."),
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """The history of a name, newest first, following each manifest's parents (like `git log`)."""
    repo = open_repo()
    history = repo.log(ref)
    if graph is not None:
        write_svg(lineage_graph(repo, LineageRequest(history[0].cid)), graph)
    if json_out:
        emit_json([manifest.to_json() for manifest in history])
        return
    for manifest in history:
        echo(f"manifest {manifest.cid}  {one_line(manifest.name)}@{one_line(manifest.version)}")
        echo(f"author   {manifest.author}\ncreated  {manifest.created}")
        echo(f"\n{_indented(manifest.message or '(no message)')}\n")


@commands.command("ls")
def ls_(json_out: JsonFlag = False) -> None:
    """List known refs."""
    entries = open_repo().ls()
    if json_out:
        emit_json([entry.__dict__ for entry in entries])
        return
    for entry in entries:
        echo(f"{entry.cid}  {entry.kind:<8} {one_line(entry.name)}@{one_line(entry.version)}")


@commands.command()
def verify(
    ref: str,
    attest: Annotated[bool, typer.Option("--attest", help="Append the verdict to this identity's feed.")] = False,
    policy: Annotated[
        Path | None, typer.Option(help="A policy file (TOML) whose every rule must pass; exit 5 if one does not.")
    ] = None,
    vsa_out: Annotated[
        Path | None, typer.Option(help="Write a signed verification summary (in-toto, SLSA VSA, DSSE) here.")
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """Verify a manifest: its CID, schema and signature, and every block of every file it names; or, given a
    file that is not a known ref, a zero-knowledge proof bundle or a verification summary (exit 4 with the reason
    if it does not verify).

    With --policy, every rule of the file is judged and reported (exit 5 if one is not met). A known ref wins over
    a same-named file in the current folder: write ./NAME to verify that file."""
    repo = open_repo()
    if Path(ref).is_file() and not repo.knows_ref(ref):
        if looks_like_summary(Path(ref)):
            _verify_summary_command(repo, Path(ref), json_out)
        else:
            verify_proof_command(Path(ref), json_out, attest)
        return
    with progress_for(json_out) as progress:
        request = VerifyRequest(ref, attest=attest, policy=policy, vsa_out=vsa_out)
        result = verify_artefact(repo, request, progress)
    report = result.policy
    if json_out and (report is None or report.passed):
        emit_json(_verify_json(result))
    elif not json_out:
        echo(
            f"ok {result.manifest.name}@{result.manifest.version}: signature valid, "
            f"{result.files} files, {result.bytes} bytes verified"
        )
        for metric in result.metrics:
            echo(f"ok proven {metric.name} {metric.value} ({metric.correct}/{metric.rows} rows) re-verified")
        if result.consensus is not None:
            echo(result.consensus.line())
        for rule in report.rules if report is not None else ():
            echo(f"{'pass' if rule.passed else 'FAIL'}  {rule.rule}: {rule.detail}")
    if report is not None and not report.passed:
        raise PolicyNotMet(result.manifest.cid, [rule.to_json() for rule in report.rules])


def _verify_json(result: VerifyResult) -> dict[str, object]:
    document: dict[str, object] = {
        "ok": True,
        "cid": result.manifest.cid,
        "files": result.files,
        "bytes": result.bytes,
        "checks": result.checks,
        "metrics": [metric.to_json() for metric in result.metrics],
    }
    if result.policy is not None:
        document["policy"] = result.policy.to_json()
    if result.consensus is not None:
        document["consensus"] = result.consensus.to_json()
    return document


def _verify_summary_command(repo: Repo, path: Path, json_out: bool) -> None:
    with progress_for(json_out) as progress:
        verdict = verify_summary(repo, VerifySummaryRequest(path), progress)
    summary = verdict.summary
    if json_out:
        emit_json({"ok": True, "summary": summary.to_json()})
        return
    manifest = verdict.manifest
    result = "PASSED" if summary.passed else "FAILED"
    echo(f"ok verification summary of {one_line(manifest.name)}@{one_line(manifest.version)} ({manifest.cid})")
    echo(f"verifier {summary.verifier}: {result} at {one_line(summary.time_verified)}")
    echo(f"policy   {one_line(summary.policy_uri)} sha256 {summary.policy_sha256 or '-'}")
    echo(f"subjects {len(summary.subjects)} file(s), each equal by sha256 to the bytes held here")
