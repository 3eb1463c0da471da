"""Feed sync over HTTP between real peers: pull and push, paging, equivocation seen by everyone, the CLI."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import CliResult
from tests.reputation.ledger_helpers import endorse, feed, identity
from tests.serve.conftest import StartPeer
from zkreg.api import Repo, scores
from zkreg.app import provider as provider_module
from zkreg.app.sync import SyncRequest, push, sync
from zkreg.peer.client import HttpFeedTransport, PeerClient
from zkreg.registry.car import car_stream
from zkreg.registry.cid import DAG_CBOR, compute


def entries_by_author(repo: Repo) -> dict[str, list[str]]:
    held: dict[str, list[str]] = {}
    for entry in repo.ledger.entries():
        held.setdefault(entry.author, []).append(entry.cid)
    return held


def test_sync_pulls_and_pushes_until_both_peers_hold_the_same_feeds(start_peer: StartPeer, tmp_path: Path) -> None:
    alice = start_peer("alice")
    alice_repo = alice.repo()
    bob = Repo.init(tmp_path / "bob")
    for n in range(3):
        alice_repo.ledger.append(alice_repo.identity, *endorse(identity(f"a{n}")))
    for n in range(2):
        bob.ledger.append(bob.identity, *endorse(identity(f"b{n}")))
    report = sync(bob, SyncRequest(alice.url))
    assert (report.pulled.accepted, report.pushed["accepted"]) == (3, 2)
    assert entries_by_author(bob) == entries_by_author(alice_repo)
    again = sync(bob, SyncRequest(alice.url))
    assert (again.pulled.accepted, again.pushed.get("sent", 0)) == (0, 0)
    alice_repo.close()
    bob.close()


class CountingClient(PeerClient):
    pages = 0

    def feed(self, author: str, after: int) -> tuple[bytes, int]:
        self.pages += 1
        return super().feed(author, after)


def test_sync_pages_through_a_feed_longer_than_one_page(
    start_peer: StartPeer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = start_peer("alice")
    alice_repo = alice.repo()
    alice_repo.ledger.append_batch(alice_repo.identity, [endorse(identity(f"p{n}")) for n in range(25)])
    bob = Repo.init(tmp_path / "bob")
    small = httpx.get(f"{alice.url}/v1/feeds/{alice.did}", params={"after": 10, "limit": 7})
    assert small.headers["x-zkreg-last-seq"] == "17"
    monkeypatch.setattr(provider_module, "FEED_PAGE", 4)  # pages of 4 entries: the client must follow them
    with CountingClient(alice.url) as client:
        fetched = list(HttpFeedTransport(client, lambda author, seq: None).blocks({}))
        assert len(fetched) == 25
        assert client.pages == 7
    report = sync(bob, SyncRequest(alice.url))
    assert report.pulled.accepted == 25
    assert entries_by_author(bob) == entries_by_author(alice_repo)
    alice_repo.close()
    bob.close()


def test_an_equivocating_third_peer_is_detected_by_both_peers_after_sync(start_peer: StartPeer, tmp_path: Path) -> None:
    alice, bob = start_peer("alice"), start_peer("bob")
    carol = identity("carol")
    first = feed(carol, [endorse(identity("x"))])
    told_alice = feed(carol, [endorse(identity("y"))], after=first[0])
    told_bob = feed(carol, [endorse(identity("z"))], after=first[0])
    for peer, version in ((alice, told_alice), (bob, told_bob)):
        with PeerClient(peer.url) as client:
            client.push(b"".join(car_stream([], [(e.cid, e.block) for e in first + version])))
    bob_repo = bob.repo()
    report = sync(bob_repo, SyncRequest(alice.url))
    assert report.pulled.forks == [(carol.did, 2)]
    alice_repo = alice.repo()
    for repo in (alice_repo, bob_repo):
        reputation = scores(repo).show(carol.did)
        assert reputation.forked
        assert reputation.trust == 0.0
        assert [item["seq"] for item in reputation.forked["evidence"]] == [2]
    alice_repo.close()
    bob_repo.close()


def test_an_equivocator_that_extends_the_other_story_is_detected_not_refused(
    start_peer: StartPeer, tmp_path: Path
) -> None:
    bob = start_peer("bob")
    carol = identity("carol")
    first = feed(carol, [endorse(identity("x"))])
    told_alice = feed(carol, [endorse(identity("y"))], after=first[0])
    told_bob = feed(carol, [endorse(identity("z")), endorse(identity("w"))], after=first[0])
    alice = Repo.init(tmp_path / "alice")
    alice.ledger.import_blocks([e.block for e in first + told_alice])
    with PeerClient(bob.url) as client:
        client.push(b"".join(car_stream([], [(e.cid, e.block) for e in first + told_bob])))
    report = sync(alice, SyncRequest(bob.url))
    assert report.pulled.forks == [(carol.did, 2)]
    assert report.pulled.rejected == []
    assert scores(alice).show(carol.did).trust == 0.0
    alice.close()


def test_a_feed_push_that_does_not_verify_is_refused_and_keeps_the_valid_prefix(
    start_peer: StartPeer, tmp_path: Path
) -> None:
    alice = start_peer("alice")
    mallory = identity("mallory")
    entries = feed(mallory, [endorse(identity("x")), endorse(identity("y")), endorse(identity("z"))])
    forged = entries[2].block.replace(b"weight\x01", b"weight\x02")
    assert forged != entries[2].block
    sections = [(e.cid, e.block) for e in entries[:2]] + [(compute(DAG_CBOR, forged), forged)]
    car = b"".join(car_stream([], sections))
    response = httpx.post(f"{alice.url}/v1/feeds", content=car)
    assert response.status_code == 422
    assert (response.json()["error"]["code"], response.json()["error"]["exit_code"]) == ("feed/bad-signature", 4)
    repo = alice.repo()
    assert repo.ledger.state(mallory.did).seq == 2
    repo.close()


def test_push_sends_only_what_the_peer_lacks(start_peer: StartPeer, tmp_path: Path) -> None:
    alice = start_peer("alice")
    bob = Repo.init(tmp_path / "bob")
    bob.ledger.append_batch(bob.identity, [endorse(identity(f"q{n}")) for n in range(5)])
    with PeerClient(alice.url) as client:
        assert push(bob, client)["accepted"] == 5
        bob.ledger.append(bob.identity, *endorse(identity("later")))
        assert push(bob, client) == {"sent": 1, "accepted": 1, "duplicates": 0}
    bob.close()


def test_cli_peer_add_then_sync_without_url_and_exit_6_for_a_dead_peer(
    start_peer: StartPeer, cli: object, tmp_path: Path
) -> None:
    run = cli
    alice = start_peer("alice")
    assert run("init").code == 0  # type: ignore[operator]
    added: CliResult = run("peer", "add", alice.url, "--json")  # type: ignore[operator]
    assert added.code == 0, added.stderr
    assert added.json() == {"url": alice.url, "did": alice.did, "added": True}
    synced: CliResult = run("sync", "--json")  # type: ignore[operator]
    assert synced.code == 0, synced.stderr
    assert synced.json()[0]["url"] == alice.url
    dead: CliResult = run("sync", "http://127.0.0.1:9", "--json")  # type: ignore[operator]
    assert dead.code == 6
    assert dead.json()["error"]["code"] == "peer/unreachable"
