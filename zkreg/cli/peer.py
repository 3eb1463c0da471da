"""Commands over peers: `peer trust` (a local trust root), `peer vouch` (a stake for another key) and `peer add`
(a peer `zkreg sync` syncs with)."""

from __future__ import annotations

from typing import Annotated

import typer

from zkreg.api import VouchRequest, trust_peer, vouch_peer
from zkreg.app.sync import add_peer
from zkreg.cli.app import JsonFlag, command_set, echo, open_repo
from zkreg.cli.render import emit_json

peer_app = command_set(help="Peers and local trust roots.", no_args_is_help=True)
commands = command_set()
commands.add_typer(peer_app, name="peer")


@peer_app.command("trust")
def peer_trust(
    key: Annotated[str, typer.Argument(help="The did:key to trust as a root of reputation.")],
    json_out: JsonFlag = False,
) -> None:
    """Seed this peer's reputation computation with KEY (besides its own key)."""
    added = trust_peer(open_repo(), key)
    if json_out:
        emit_json({"did": key, "added": added})
    else:
        echo(f"{'trusting' if added else 'already trusted:'} {key}")


@peer_app.command("vouch")
def peer_vouch(
    key: Annotated[str, typer.Argument(help="The did:key to vouch for (a member or partner).")],
    credits: Annotated[
        int, typer.Option("--credits", min=0, max=1_000_000, help="Credits of your balance staked; 0 withdraws.")
    ],
    json_out: JsonFlag = False,
) -> None:
    """Stake up to CREDITS of your balance for KEY (a signed `vouch` entry, replacing your earlier one for KEY).

    Providers that trust you serve KEY against the stake until it contributes; what KEY consumes without paying
    back is charged to you, up to the most you ever staked for it. A provider's own vouch always counts on its
    own server."""
    entry = vouch_peer(open_repo(), VouchRequest(key, credits))
    if json_out:
        emit_json({"did": key, "credits": credits, "entry": entry.cid, "seq": entry.seq})
    elif credits:
        echo(f"vouched {credits} credit(s) for {key} ({entry.cid})")
    else:
        echo(f"withdrew the vouch for {key} ({entry.cid})")


@peer_app.command("add")
def peer_add(
    url: Annotated[str, typer.Argument(help="The peer's URL, e.g. http://127.0.0.1:8740")],
    json_out: JsonFlag = False,
) -> None:
    """Remember a peer (asks its /healthz for its identity); `zkreg sync` without a URL syncs with all of them."""
    peer, added = add_peer(open_repo(), url)
    if json_out:
        emit_json({"url": peer.url, "did": peer.did, "added": added})
    else:
        echo(f"{'added' if added else 'already known:'} {peer.url} ({peer.did})")
