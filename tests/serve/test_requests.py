"""Threats against signed requests and the provider's bounds, over real HTTP on 127.0.0.1.

Receipt requests (`POST /v1/receipts`, no proof needed) exercise the same checks as prove requests: shape,
signature, freshness, rate and single use all run before anything is looked up or written.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.serve.conftest import RunningPeer, StartPeer
from zkreg.api import PublishRequest, Repo, publish
from zkreg.app.remote import RemotePullRequest, pull_remote
from zkreg.identity import Identity
from zkreg.peer.envelope import canonical_json, sign_request
from zkreg.peer.limits import Limits
from zkreg.registry.unixfs import KUBO_V1_LEGACY
from zkreg.reputation.ledger import now_ms


def publish_dataset(peer: RunningPeer, folder: Path, name: str = "flowers") -> str:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data.csv").write_text("sepal,petal\n1,2\n3,4\n" * 50)
    repo = peer.repo()
    try:
        return publish(repo, PublishRequest([folder / "data.csv"], name=name, kind="dataset")).cid
    finally:
        repo.close()


def receipts_of(peer: RunningPeer) -> list[dict[str, Any]]:
    repo = peer.repo()
    try:
        return [entry.body for entry in repo.ledger.entries(peer.did) if entry.type == "receipt"]
    finally:
        repo.close()


@pytest.fixture
def bob(tmp_path: Path) -> Iterator[Repo]:
    repo = Repo.init(tmp_path / "bob")
    yield repo
    repo.close()


def receipt_request(identity: Identity, manifest: str, **changes: Any) -> dict[str, Any]:
    document = sign_request(identity, "receipt", manifest, [], now_ms()).document
    return {**document, **changes}


def test_pull_remote_records_a_use_and_the_provider_signs_the_matching_receipt(
    start_peer: StartPeer, bob: Repo, tmp_path: Path
) -> None:
    alice = start_peer("alice")
    cid = publish_dataset(alice, tmp_path / "data")
    pulled = pull_remote(bob, RemotePullRequest(alice.url, cid, tmp_path / "out"))
    assert (tmp_path / "out" / "data.csv").read_text().startswith("sepal,petal")
    uses = [entry.body for entry in bob.ledger.entries(bob.identity.did) if entry.type == "use"]
    assert uses == [{"manifest": cid, "provider": alice.did, "request": uses[0]["request"]}]
    receipts = receipts_of(alice)
    assert [(r["request"], r["consumer"], r["proof"]) for r in receipts] == [
        (uses[0]["request"], bob.identity.did, None)
    ]
    assert pulled.receipt


def test_unsigned_or_wrongly_signed_request_is_refused_and_changes_nothing(
    start_peer: StartPeer, bob: Repo, tmp_path: Path
) -> None:
    alice = start_peer("alice")
    cid = publish_dataset(alice, tmp_path / "data")
    good = receipt_request(bob.identity, cid)
    mallory = Repo.init(tmp_path / "mallory")
    forged_by_other_key = {**good, "signature": mallory.identity.sign(canonical_json(good)).hex()}
    edited_after_signing = {**good, "ts": good["ts"] + 1}
    unsigned = {key: value for key, value in good.items() if key != "signature"}
    for document, status, code in [
        (forged_by_other_key, 401, "request/bad-signature"),
        (edited_after_signing, 401, "request/bad-signature"),
        (unsigned, 422, "request/malformed"),
    ]:
        response = httpx.post(f"{alice.url}/v1/receipts", json=document)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code)
        assert response.json()["error"]["exit_code"] == 4
    assert receipts_of(alice) == []
    mallory.close()


def test_replayed_nonce_is_refused(start_peer: StartPeer, bob: Repo, tmp_path: Path) -> None:
    alice = start_peer("alice")
    cid = publish_dataset(alice, tmp_path / "data")
    document = receipt_request(bob.identity, cid)
    assert httpx.post(f"{alice.url}/v1/receipts", json=document).status_code == 200
    replay = httpx.post(f"{alice.url}/v1/receipts", json=document)
    assert (replay.status_code, replay.json()["error"]["code"]) == (409, "request/replayed")
    assert len(receipts_of(alice)) == 1


def test_stale_timestamp_is_refused(start_peer: StartPeer, bob: Repo, tmp_path: Path) -> None:
    alice = start_peer("alice")
    cid = publish_dataset(alice, tmp_path / "data")
    for skew_ms in (-10 * 60_000, 10 * 60_000):
        document = sign_request(bob.identity, "receipt", cid, [], now_ms() + skew_ms).document
        response = httpx.post(f"{alice.url}/v1/receipts", json=document)
        assert (response.status_code, response.json()["error"]["code"]) == (401, "request/stale")
    assert receipts_of(alice) == []


def test_oversized_body_is_refused_before_it_is_read(start_peer: StartPeer) -> None:
    alice = start_peer("alice", Limits(max_body_bytes=4096))
    response = httpx.post(f"{alice.url}/v1/receipts", content=b"x" * 5000, headers={"content-type": "application/json"})
    assert (response.status_code, response.json()["error"]["code"]) == (413, "request/too-large")
    pushed = httpx.post(f"{alice.url}/v1/feeds", content=b"\0" * (65 * 1024 * 1024 + 1))
    assert pushed.status_code == 413


def test_slow_client_is_cut_off_after_the_body_timeout(start_peer: StartPeer) -> None:
    alice = start_peer("alice", Limits(body_timeout_s=1.0))
    port = int(alice.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(
            b"POST /v1/receipts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
        )
        started = time.monotonic()
        answer = conn.recv(4096)
        # The JSON body may come in a later segment than the headers: read until it is complete.
        while not answer.endswith(b"}") and (more := conn.recv(4096)):
            answer += more
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"request/timeout" in answer
    assert waited < 8


def test_a_flood_of_requests_from_one_key_is_throttled(start_peer: StartPeer, bob: Repo, tmp_path: Path) -> None:
    alice = start_peer("alice", Limits(rate_burst=3, rate_per_s=0.1))
    cid = publish_dataset(alice, tmp_path / "data")
    answers = [httpx.post(f"{alice.url}/v1/receipts", json=receipt_request(bob.identity, cid)) for _ in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert int(answers[3].headers["retry-after"]) >= 1
    assert answers[3].json()["error"]["code"] == "policy/throttled"
    carol = Repo.init(tmp_path / "carol")
    assert httpx.post(f"{alice.url}/v1/receipts", json=receipt_request(carol.identity, cid)).status_code == 200
    carol.close()


def test_private_bytes_in_the_store_are_never_served_as_blocks(start_peer: StartPeer, tmp_path: Path) -> None:
    alice = start_peer("alice")
    cid = publish_dataset(alice, tmp_path / "data")
    secret = tmp_path / "weights.bin"
    secret.write_bytes(b"private weights " * 40_000)  # two chunks: a dag-pb root and raw leaves
    repo = alice.repo()
    private = repo.store.put_file(secret, KUBO_V1_LEGACY)
    manifest = repo.manifest(cid)
    repo.close()
    served = httpx.get(f"{alice.url}/v1/blocks/{manifest.files['data.csv']}")
    assert served.status_code == 200
    assert httpx.get(f"{alice.url}/v1/blocks/{manifest.tree}").status_code == 200
    refused = httpx.get(f"{alice.url}/v1/blocks/{private.cid}")
    assert (refused.status_code, refused.json()["error"]["code"]) == (404, "not-found/block")


def test_manifests_are_served_by_cid_and_by_name(start_peer: StartPeer, tmp_path: Path) -> None:
    alice = start_peer("alice")
    cid = publish_dataset(alice, tmp_path / "data")
    for ref in (cid, "flowers", "flowers@1"):
        document = httpx.get(f"{alice.url}/v1/manifests/{ref}").json()
        assert document["cid"] == cid
    missing = httpx.get(f"{alice.url}/v1/manifests/nothing@9")
    assert missing.status_code == 404
    assert json.loads(missing.text)["error"]["exit_code"] == 3


def test_cli_pull_remote_writes_the_files_and_gets_a_receipt(start_peer: StartPeer, cli: Any, tmp_path: Path) -> None:
    alice = start_peer("alice")
    cid = publish_dataset(alice, tmp_path / "data")
    assert cli("init").code == 0
    pulled = cli("pull", cid, "--remote", alice.url, "-o", str(tmp_path / "got"), "--json")
    assert pulled.code == 0, pulled.stderr
    assert pulled.json()["cid"] == cid
    assert (tmp_path / "got" / "data.csv").read_text().startswith("sepal,petal")
    assert [r["consumer"] for r in receipts_of(alice)] == [cli("id", "--json").json()["did"]]
    missing = cli("pull", "nothing@1", "--remote", alice.url, "--json")
    assert (missing.code, missing.json()["error"]["code"]) == (3, "not-found/ref")


def test_a_peer_that_accepts_but_never_answers_is_a_timeout_exit_6() -> None:
    from zkreg.errors import BackendUnavailable
    from zkreg.peer.client import PeerClient

    with socket.socket() as silent:  # a real listening socket that never responds
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        with PeerClient(url, timeout_s=1.0) as client, pytest.raises(BackendUnavailable) as timed_out:
            client.heads()
    assert timed_out.value.code == "peer/timeout"
    assert timed_out.value.exit_code == 6
    assert time.monotonic() - started < 8
