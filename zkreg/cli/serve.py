"""Commands between peers: `serve` and `sync` (`peer add` is in `peer`, `--remote` with `prove` and `pull`)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from zkreg.app.provider import Provider
from zkreg.app.sync import SyncRequest, added_peer_urls
from zkreg.app.sync import sync as sync_with
from zkreg.cli.app import JsonFlag, command_set, echo, open_repo
from zkreg.cli.render import emit_json
from zkreg.peer.limits import Limits
from zkreg.reputation.policy import DEFAULT_FREE_QUOTA, DEFAULT_NEWCOMER_BUDGET, DEFAULT_NEWCOMER_WINDOW_S, Policy
from zkreg.serve.server import bind, make_server

commands = command_set()


@commands.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind; loopback unless you mean to expose it.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port; 0 picks a free one.")] = 8740,
    free_quota: Annotated[
        float, typer.Option(min=0, help="Credits an identity with trust from this peer's roots may spend on credit.")
    ] = DEFAULT_FREE_QUOTA,
    newcomer_budget: Annotated[
        int,
        typer.Option(
            min=0,
            help="Free proofs (credits) per window shared by every identity the first rule refuses: keys without "
            "trust or a counting vouch, and spent ones.",
        ),
    ] = DEFAULT_NEWCOMER_BUDGET,
    newcomer_window: Annotated[
        float, typer.Option(min=1, help="Seconds of the newcomer budget's sliding window.")
    ] = DEFAULT_NEWCOMER_WINDOW_S,
    prove_timeout: Annotated[float, typer.Option(min=1, help="Seconds a proof may take.")] = 300.0,
    max_active: Annotated[int, typer.Option(min=1, help="Proofs at once.")] = 1,
    max_queued: Annotated[int, typer.Option(min=0, help="Prove requests that may wait; more get 503.")] = 4,
    json_out: JsonFlag = False,
) -> None:
    """Serve reputation-gated proofs, feed sync and public artefacts over HTTP until interrupted."""
    repo = open_repo()
    home = repo.home
    repo.close()
    limits = Limits(prove_timeout_s=prove_timeout, max_active=max_active, max_queued=max_queued)
    policy = Policy(free_quota=free_quota, newcomer_budget=newcomer_budget, newcomer_window_s=newcomer_window)
    provider = Provider(home, limits, policy)
    sock = bind(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    url = f"http://{bound_host}:{bound_port}"
    if json_out:
        emit_json({"url": url, "did": provider.did})
    else:
        echo(f"serving {provider.did}\non {url} (Ctrl-C to stop)")
    sys.stdout.flush()
    make_server(provider).run(sockets=[sock])


@commands.command()
def sync(
    url: Annotated[str | None, typer.Argument(help="A peer's URL; default: every peer added with `peer add`.")] = None,
    json_out: JsonFlag = False,
) -> None:
    """Pull the peer's feeds, push ours, and fetch the manifests and proofs that scoring needs."""
    repo = open_repo()
    urls = [url] if url else added_peer_urls(repo)
    reports = [sync_with(repo, SyncRequest(each)) for each in urls]
    if json_out:
        emit_json(reports[0].to_json() if url else [report.to_json() for report in reports])
        return
    for report in reports:
        pulled = report.pulled
        echo(
            f"{report.url}: pulled {pulled.accepted} new entries ({pulled.duplicates} already held), "
            f"pushed {report.pushed.get('accepted', 0)}, fetched {report.manifests} manifests and "
            f"{report.proofs} proofs"
        )
        for author, seq in pulled.forks:
            echo(f"equivocation: {author} signed two entries with seq {seq}; its trust is now zero")
