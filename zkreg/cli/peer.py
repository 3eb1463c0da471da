"""Commands over peers: `peer trust` (a local trust root) and `peer add` (a peer `zkreg sync` syncs with)."""

from __future__ import annotations

from typing import Annotated

import typer

from zkreg.api import trust_peer
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
