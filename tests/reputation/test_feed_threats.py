"""The issue's threats against feeds, one test each, against a real SQLite ledger on disk."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from zkreg.errors import (
    BrokenChain,
    FeedRejected,
    FeedsRejected,
    ForgedSignature,
    ImplausibleTimestamp,
    MalformedCar,
    OversizedImport,
    RevokedKeyUsed,
    SeqGap,
)
from zkreg.reputation.entry import sign_entry
from zkreg.reputation.ledger import Ledger
from zkreg.reputation.score import compute_scores
from zkreg.reputation.sync import CarFileTransport, export_car, pull
from zkreg.reputation.verify import FeedState, FeedVerifier

from .ledger_helpers import T0, blocks, endorse, feed, identity, manifest_cid, publishes

ALICE, BOB, MALLORY = identity("alice"), identity("bob"), identity("mallory")


def test_byte_flipped_in_a_stored_entry_is_named_by_author_and_seq(ledger: Ledger) -> None:
    ledger.import_blocks(blocks(publishes(ALICE, 5)))
    row = ledger.conn.execute("SELECT cid, block FROM entries WHERE author = ? AND seq = 3", (ALICE.did,)).fetchone()
    flipped = bytearray(row["block"])
    flipped[-5] ^= 0x01
    ledger.conn.execute("UPDATE entries SET block = ? WHERE cid = ?", (bytes(flipped), row["cid"]))
    with pytest.raises(FeedRejected) as caught:
        ledger.verify_all()
    assert (caught.value.author, caught.value.seq) == (ALICE.did, 3)
    assert caught.value.exit_code == 4


def test_signature_by_the_wrong_key_is_refused(ledger: Ledger) -> None:
    forged = publishes(MALLORY, 1, author=ALICE.did)  # claims to be Alice's feed, signed by Mallory
    with pytest.raises(FeedsRejected) as caught:
        ledger.import_blocks(blocks(forged))
    assert isinstance(caught.value.report.rejected[0], ForgedSignature)
    assert (caught.value.author, caught.value.seq) == (ALICE.did, 1)
    assert ledger.count() == 0


def test_reordered_entries_are_refused_and_nothing_past_the_gap_is_applied(ledger: Ledger) -> None:
    entries = publishes(ALICE, 6)
    reordered = [entries[0], entries[1], entries[3], entries[2], entries[4], entries[5]]
    with pytest.raises(FeedsRejected) as caught:
        ledger.import_blocks(blocks(reordered))
    assert isinstance(caught.value.report.rejected[0], SeqGap)
    assert caught.value.seq == 4
    assert ledger.state(ALICE.did).seq == 2
    assert ledger.count() == 2


def test_seq_gap_from_a_dropped_entry_applies_nothing_past_it(ledger: Ledger) -> None:
    entries = publishes(ALICE, 5)
    with pytest.raises(FeedsRejected) as caught:
        ledger.import_blocks(blocks(entries[:2] + entries[3:]))
    assert isinstance(caught.value.report.rejected[0], SeqGap)
    assert [entry.seq for entry in ledger.entries(ALICE.did)] == [1, 2]


def test_entry_replayed_from_another_feed_is_refused(ledger: Ledger) -> None:
    alice = publishes(ALICE, 3)
    bob = publishes(BOB, 3)
    ledger.import_blocks(blocks(alice))
    # Bob's third entry is validly signed but chains to Bob's feed, not Alice's: spliced in as Alice's seq 4 ...
    spliced = sign_entry(
        BOB, seq=4, prev=bob[2].cid, ts=T0 + 10, type_="publish", body={"manifest": manifest_cid("x")}, author=ALICE.did
    )
    verifier = FeedVerifier(ledger.state(ALICE.did), T0 + 1000)
    with pytest.raises(BrokenChain):
        verifier.extend(spliced)
    # ... and with the right prev it still carries Bob's signature, not Alice's.
    spliced = sign_entry(
        BOB,
        seq=4,
        prev=alice[2].cid,
        ts=T0 + 10,
        type_="publish",
        body={"manifest": manifest_cid("x")},
        author=ALICE.did,
    )
    with pytest.raises(FeedsRejected) as caught:
        ledger.import_blocks([spliced.block])
    assert isinstance(caught.value.report.rejected[0], ForgedSignature)
    assert ledger.state(ALICE.did).seq == 3


def test_replayed_import_is_a_no_op_and_counted_once(ledger: Ledger, tmp_path: Path) -> None:
    provider_feed = feed(
        BOB, [("receipt", {"request": "r1", "consumer": ALICE.did, "proof": None, "output_hash": "0" * 64})]
    )
    consumer_feed = feed(ALICE, [("use", {"manifest": manifest_cid("m"), "provider": BOB.did, "request": "r1"})])
    first = ledger.import_blocks(blocks(provider_feed + consumer_feed))
    before = compute_scores(ledger, [ALICE.did])
    car = tmp_path / "feeds.car"
    export_car(ledger, car)
    again = pull(ledger, CarFileTransport(car))
    replay = ledger.import_blocks(blocks(provider_feed + consumer_feed))
    after = compute_scores(ledger, [ALICE.did])
    assert (first.accepted, again.accepted, again.duplicates, replay.duplicates) == (2, 0, 2, 2)
    assert ledger.count() == 2
    assert after.uses == before.uses == {(ALICE.did, BOB.did): 1}
    assert after.debit == before.debit == {ALICE.did: 1.0}


def test_fork_equivocation_is_kept_as_evidence_and_closes_the_feed(ledger: Ledger, tmp_path: Path) -> None:
    common = publishes(MALLORY, 2)
    branch_a = publishes(MALLORY, 2, after=common[-1], ts=T0 + 100)
    branch_b = feed(MALLORY, [endorse(BOB), endorse(ALICE)], after=common[-1], ts=T0 + 200)
    ledger.import_blocks(blocks(feed(ALICE, [endorse(MALLORY, 5)])))
    ledger.import_blocks(blocks(common + branch_a))
    report = ledger.import_blocks(blocks(branch_b))
    assert report.forks == [(MALLORY.did, 3)]
    evidence = ledger.evidence(MALLORY.did)
    assert [(record.seq, record.held, record.other) for record in evidence] == [
        (3, branch_a[0].cid, branch_b[0].cid),
        (4, branch_a[1].cid, branch_b[1].cid),
    ]
    record = evidence[0]
    assert ledger.state(MALLORY.did).forked
    late = publishes(MALLORY, 1, after=branch_a[-1], ts=T0 + 300)
    assert ledger.import_blocks(blocks(late)).refused_forked == 1
    assert ledger.state(MALLORY.did).seq == 4

    scores = compute_scores(ledger, [ALICE.did])
    reputation = scores.show(MALLORY.did)
    assert reputation.trust == 0.0
    assert reputation.forked is not None
    assert "seq 3" in reputation.forked["reason"]
    assert reputation.forked["evidence"][0]["cids"] == [record.held, record.other]

    # The evidence travels: a peer importing our export reaches the same verdict.
    car = tmp_path / "evidence.car"
    export_car(ledger, car, MALLORY.did)
    peer = Ledger(tmp_path / "peer.db")
    peer_report = pull(peer, CarFileTransport(car))
    assert peer_report.forks == [(MALLORY.did, 3)]
    assert peer.state(MALLORY.did).forked
    assert peer.verify_all() == ledger.count() - 1  # everything but Alice's feed, which was not exported
    peer.close()


def test_rollback_to_an_older_head_changes_nothing(ledger: Ledger, tmp_path: Path) -> None:
    entries = publishes(ALICE, 8)
    old_export = Ledger(tmp_path / "old.db")
    old_export.import_blocks(blocks(entries[:3]))
    stale = tmp_path / "stale.car"
    export_car(old_export, stale)
    old_export.close()
    ledger.import_blocks(blocks(entries))
    report = pull(ledger, CarFileTransport(stale))
    assert (report.accepted, report.duplicates) == (0, 3)
    state = ledger.state(ALICE.did)
    assert (state.seq, state.head) == (8, entries[-1].cid)
    assert ledger.verify_all() == 8


def test_rotation_signed_only_by_the_new_key_is_refused(ledger: Ledger) -> None:
    new_key = identity("alice-new")
    start = publishes(ALICE, 2)
    rotation = feed(new_key, [("rotate", {"new_key": new_key.did})], after=start[-1])
    ledger.import_blocks(blocks(start))
    with pytest.raises(FeedsRejected) as caught:
        ledger.import_blocks(blocks(rotation))
    assert isinstance(caught.value.report.rejected[0], ForgedSignature)
    assert ledger.state(ALICE.did).keys == ()


def test_entries_by_the_old_key_after_rotation_are_refused(ledger: Ledger) -> None:
    new_key = identity("alice-new")
    rotated = feed(ALICE, [("publish", {"manifest": manifest_cid("a")}), ("rotate", {"new_key": new_key.did})])
    by_new_key = publishes(new_key, 1, after=rotated[-1])
    ledger.import_blocks(blocks(rotated + by_new_key))
    assert ledger.state(ALICE.did).keys == ((3, new_key.did),)
    by_old_key = publishes(ALICE, 1, after=by_new_key[-1])
    with pytest.raises(FeedsRejected) as caught:
        ledger.import_blocks(blocks(by_old_key))
    assert isinstance(caught.value.report.rejected[0], RevokedKeyUsed)
    assert ledger.state(ALICE.did).seq == 3
    assert ledger.verify_all() == 3


def test_absurd_timestamps_are_refused() -> None:
    now = T0 + 1000
    for ts in (0, now + 24 * 3600 * 1000):
        verifier = FeedVerifier(FeedState(ALICE.did), now)
        with pytest.raises(ImplausibleTimestamp):
            verifier.extend(publishes(ALICE, 1, ts=ts)[0])
    earlier = publishes(ALICE, 2)
    backwards = publishes(ALICE, 1, after=earlier[0], ts=T0 - 1)
    verifier = FeedVerifier(FeedState(ALICE.did), now)
    verifier.extend(earlier[0])
    with pytest.raises(ImplausibleTimestamp):
        verifier.extend(backwards[0])


def test_oversized_import_file_is_rejected_before_parsing(tmp_path: Path) -> None:
    huge = tmp_path / "huge.car"
    with open(huge, "wb") as handle:
        handle.truncate(2 * 1024 * 1024)
    with pytest.raises(OversizedImport):
        CarFileTransport(huge, max_bytes=1024 * 1024)


def test_oversized_block_inside_an_import_is_rejected(ledger: Ledger, tmp_path: Path) -> None:
    car = tmp_path / "ok.car"
    export_car(ledger, car)  # an empty but valid header
    from multiformats import varint

    with open(car, "ab") as handle:
        handle.write(varint.encode(1024 * 1024) + b"\x00" * 64)
    with pytest.raises(OversizedImport):
        pull(ledger, CarFileTransport(car))


def test_block_that_does_not_match_its_claimed_cid_in_an_import_is_refused(ledger: Ledger, tmp_path: Path) -> None:
    source = Ledger(tmp_path / "source.db")
    source.import_blocks(blocks(publishes(ALICE, 3)))
    car = tmp_path / "feeds.car"
    export_car(source, car)
    source.close()
    data = bytearray(car.read_bytes())
    data[-3] ^= 0x40
    car.write_bytes(bytes(data))
    with pytest.raises(MalformedCar, match="does not match its CID") as caught:
        pull(ledger, CarFileTransport(car))
    assert ledger.count() == 0  # the batch it was in is never committed
    assert "0 valid entries before it were kept" in caught.value.message


def test_tampered_sqlite_file_is_reported_not_crashed(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    path.write_bytes(b"this is not a database" * 100)
    from zkreg.errors import ZkregError
    from zkreg.reputation.ledger import open_ledger

    with pytest.raises(ZkregError):
        open_ledger(path)
    assert not isinstance(sqlite3.DatabaseError, ZkregError)
