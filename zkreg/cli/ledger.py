"""Commands over the reputation ledger: `ledger log|export|import|verify`, `rep show|top`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from zkreg.api import (
    ExportFeedsRequest,
    ImportFeedsRequest,
    Reputation,
    TrustGraphRequest,
    export_feeds,
    import_feeds,
    scores,
    trust_graph,
    write_svg,
)
from zkreg.cli.app import JsonFlag, command_set, echo, open_repo
from zkreg.cli.render import emit_json, one_line, progress_for
from zkreg.identity import public_key_from_did

ledger_app = command_set(help="The signed, hash-chained feeds this peer holds.", no_args_is_help=True)
rep_app = command_set(help="Proof of Reputation: trust, credit, debit and balance.", no_args_is_help=True)
commands = command_set()
commands.add_typer(ledger_app, name="ledger")
commands.add_typer(rep_app, name="rep")

SHOWN_INPUTS = 5
"""The largest inputs of each kind a terminal shows; `--json` gives all of them."""

AuthorOption = Annotated[str | None, typer.Option("--author", help="Only this identity's feed (did:key).")]


def _time(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@ledger_app.command("log")
def ledger_log(author: AuthorOption = None, json_out: JsonFlag = False) -> None:
    """List the entries of every feed held (or of one author), oldest first."""
    entries = open_repo().ledger.entries(author)
    if json_out:
        emit_json([entry.to_json() for entry in entries])
        return
    for entry in entries:
        fields = " ".join(f"{key}={one_line(str(value))}" for key, value in sorted(entry.body.items()))
        echo(f"{entry.cid}  {entry.author} #{entry.seq}  {_time(entry.ts)}  {entry.type}  {fields}")


@ledger_app.command("export")
def ledger_export(
    output: Annotated[Path, typer.Option("--output", "-o", help="The feed file (CARv1) to write.")],
    author: AuthorOption = None,
    json_out: JsonFlag = False,
) -> None:
    """Write feeds and their equivocation evidence to a CAR file another peer can import."""
    result = export_feeds(open_repo(), ExportFeedsRequest(output, author))
    summary = {"path": str(result.path), "feeds": result.feeds, "entries": result.entries, "evidence": result.evidence}
    if json_out:
        emit_json(summary)
    else:
        echo(f"exported {result.entries} entries of {result.feeds} feeds, {result.evidence} evidence, to {output}")


@ledger_app.command("import")
def ledger_import(
    path: Annotated[Path, typer.Argument(help="A feed file written by `zkreg ledger export`.")],
    json_out: JsonFlag = False,
) -> None:
    """Import a feed file: only valid extensions are applied.

    Replays are no-ops; an equivocation is kept as evidence and closes the author's feed; an entry that does not
    verify stops its author's feed and makes the command exit 4, naming the (author, seq).
    """
    repo = open_repo()
    with progress_for(json_out) as progress:
        report = import_feeds(repo, ImportFeedsRequest(path), progress)
    if json_out:
        emit_json(report.to_json())
        return
    echo(f"{report.accepted} new entries, {report.duplicates} already held, {report.refused_forked} refused (forked)")
    for author, seq in report.forks:
        echo(f"equivocation: {author} signed two entries with seq {seq}; its feed is closed and its trust is zero")


@ledger_app.command("verify")
def ledger_verify(json_out: JsonFlag = False) -> None:
    """Re-verify every stored feed from its bytes; exit 4 naming the (author, seq) that fails."""
    repo = open_repo()
    with progress_for(json_out) as progress:
        checked = repo.ledger.verify_all(progress=progress)
    feeds = len(repo.ledger.authors())
    if json_out:
        emit_json({"ok": True, "feeds": feeds, "entries": checked})
    else:
        echo(f"ok: {checked} entries in {feeds} feeds verify")


def _describe(reputation: Reputation) -> list[str]:
    lines = [
        f"identity {reputation.identity}{'  (trust root)' if reputation.root else ''}",
        f"trust    {reputation.trust:.6f}",
        f"credit   {reputation.credit:.3f}   debit {reputation.debit:.3f}   balance {reputation.balance:.3f}",
    ]
    if reputation.forked:
        lines.append(f"FORKED   {reputation.forked['reason']}; trust set to zero")
        for item in reputation.forked["evidence"]:
            lines.append(f"  evidence seq {item['seq']}: {' vs '.join(item['cids'])}")
    if reputation.covered_for_it or reputation.covered_by_it:
        lines.append(
            f"vouches  covered for it {reputation.covered_for_it:.3f}   covered by it {reputation.covered_by_it:.3f}"
        )
    for item in reputation.trust_inputs[:SHOWN_INPUTS]:
        lines.append(f"  trust from {item.identity} ({item.kind}): {item.amount:.6f}")
    for item in reputation.credit_inputs[:SHOWN_INPUTS]:
        lines.append(f"  credit from {item.identity} ({item.kind}): {item.amount:.3f}")
    for item in reputation.debit_inputs[:SHOWN_INPUTS]:
        lines.append(f"  debit to {item.identity} ({item.kind}): {item.amount:.3f}")
    for stake in reputation.vouches_received:
        lines.append(
            f"  vouched for by {stake.voucher}: {stake.credits} credit(s), {stake.covered:.3f} covered, "
            f"{stake.remaining:.3f} remaining"
        )
    for stake in reputation.vouches_given:
        lines.append(
            f"  vouches for {stake.key}: {stake.credits} credit(s), {stake.covered:.3f} covered (liable up to "
            f"{stake.liable})"
        )
    hidden = sum(
        max(0, len(inputs) - SHOWN_INPUTS)
        for inputs in (reputation.trust_inputs, reputation.credit_inputs, reputation.debit_inputs)
    )
    if hidden:
        lines.append(f"  ... and {hidden} smaller input(s): `--json` lists every one")
    return lines


@rep_app.command("show")
def rep_show(
    key: Annotated[str | None, typer.Argument(help="A did:key; default: this identity.")] = None,
    json_out: JsonFlag = False,
) -> None:
    """One identity's reputation, and the inputs that make it up."""
    repo = open_repo()
    if key is not None:
        public_key_from_did(key)
    reputation = scores(repo).show(key or repo.identity.did)
    if json_out:
        emit_json(reputation.to_json())
    else:
        echo("\n".join(_describe(reputation)))


@rep_app.command("top")
def rep_top(
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many identities.")] = 20,
    json_out: JsonFlag = False,
) -> None:
    """The most trusted identities, from this peer's trust roots."""
    ranked = scores(open_repo()).top(limit)
    if json_out:
        emit_json([reputation.to_json() for reputation in ranked])
        return
    for reputation in ranked:
        flag = "  FORKED" if reputation.forked else ""
        echo(f"{reputation.trust:.6f}  {reputation.balance:>10.3f}  {reputation.identity}{flag}")


@rep_app.command("graph")
def rep_graph(
    output: Annotated[Path, typer.Option("--output", "-o", help="The SVG file to write.")],
    key: Annotated[str | None, typer.Argument(help="A did:key; default: this identity.")] = None,
    json_out: JsonFlag = False,
) -> None:
    """Draw the trust graph around an identity (its strongest trust edges in and out) to an SVG file (needs `dot`)."""
    write_svg(trust_graph(open_repo(), TrustGraphRequest(key)), output)
    if json_out:
        emit_json({"path": str(output)})
    else:
        echo(f"wrote {output}")
