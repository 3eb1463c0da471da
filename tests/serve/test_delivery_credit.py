"""Credit for delivered artefacts: a remote pull is a bilateral use (the consumer's `use`, the provider's
`receipt`), which counts after `zkreg sync` only when the used manifest is held and the receipt is what the
manifest calls for."""

from __future__ import annotations

from pathlib import Path

from tests.reputation.ledger_helpers import feed, identity
from tests.serve.conftest import StartPeer
from tests.serve.test_requests import publish_dataset
from zkreg.api import Repo, scores, trust_peer
from zkreg.app.remote import RemotePullRequest, pull_remote
from zkreg.app.sync import SyncRequest, sync


def test_remote_pull_credits_the_provider_once_the_consumer_syncs(start_peer: StartPeer, tmp_path: Path) -> None:
    bob = start_peer("bob")
    cid = publish_dataset(bob, tmp_path / "data")
    alice = Repo.init(tmp_path / "alice")
    pull_remote(alice, RemotePullRequest(bob.url, cid, tmp_path / "out"))
    bob_repo = bob.repo()
    before = scores(bob_repo).show(bob.did)
    assert before.credit == 0.0  # Bob holds his receipt but not Alice's use yet
    sync(alice, SyncRequest(bob.url))
    for repo in (alice, bob_repo):  # the same roots on both sides: the same numbers
        trust_peer(repo, alice.identity.did)
        trust_peer(repo, bob.did)
    seen_by_bob = scores(bob_repo)
    seen_by_alice = scores(alice)
    assert seen_by_bob.show(bob.did).credit > 0.5  # trust-weighted: Alice is one of two roots
    assert seen_by_alice.show(alice.identity.did).debit == 1.0
    assert seen_by_bob.trust == seen_by_alice.trust
    assert seen_by_bob.credit == seen_by_alice.credit
    bob_repo.close()
    alice.close()


def test_a_receipt_for_an_unknown_manifest_or_with_a_proof_for_a_dataset_gives_no_credit(
    start_peer: StartPeer, tmp_path: Path
) -> None:
    bob = start_peer("bob")
    cid = publish_dataset(bob, tmp_path / "data")
    bob_repo = bob.repo()
    consumer = identity("consumer")
    trust_peer(bob_repo, consumer.did)
    unknown = "bafyreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    uses = [("use", {"manifest": m, "provider": bob.did, "request": r}) for m, r in ((unknown, "r1"), (cid, "r2"))]
    bob_repo.ledger.import_blocks(entry.block for entry in feed(consumer, uses))
    fake_proof = "bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    for request, proof in (("r1", None), ("r2", fake_proof)):
        receipt = {"request": request, "consumer": consumer.did, "proof": proof, "output_hash": "00" * 32}
        bob_repo.ledger.append(bob_repo.identity, "receipt", receipt)
    assert scores(bob_repo).show(bob.did).credit == 0.0
    delivery = {"request": "r2", "consumer": consumer.did, "proof": None, "output_hash": "00" * 32}
    bob_repo.ledger.append(bob_repo.identity, "receipt", delivery)
    assert scores(bob_repo).show(bob.did).credit > 0.5  # the well-formed delivery receipt does count
    bob_repo.close()
