"""A ledger.db written by the schema before versions (shared `peer`/`detail` columns, no `proof_verdicts` unless
a proof was judged) opens as the current one: columns named for what they hold, re-extracted from the stored
blocks, the proof-verdict cache declared, every scoring query answering as on a ledger built new."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from zkreg.errors import FeedRejected, ZkregError
from zkreg.reputation.entry import Entry
from zkreg.reputation.ledger import CachedVerdict, Ledger
from zkreg.reputation.score import compute_scores
from zkreg.reputation.verify import verify_chain

from .ledger_helpers import T0, blocks, endorse, feed, identity, manifest_cid

ALICE, BOB, CAROL, NEW_KEY = (identity(name) for name in ("mig-alice", "mig-bob", "mig-carol", "mig-new-key"))
CURRENT_VERSION = 3

OLD_DDL = """
CREATE TABLE entries (
    cid TEXT NOT NULL, author TEXT NOT NULL, seq INTEGER NOT NULL, prev TEXT, ts INTEGER NOT NULL,
    type TEXT NOT NULL, manifest TEXT, peer TEXT, request TEXT, detail TEXT, weight INTEGER, block BLOB NOT NULL,
    UNIQUE (author, seq)
);
CREATE INDEX entries_type ON entries (type, manifest);
CREATE INDEX entries_request ON entries (request) WHERE request IS NOT NULL;
CREATE TABLE feeds (
    author TEXT PRIMARY KEY, seq INTEGER NOT NULL, head TEXT NOT NULL, ts INTEGER NOT NULL,
    keys TEXT NOT NULL DEFAULT '[]', forked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE evidence (cid TEXT PRIMARY KEY, author TEXT NOT NULL, seq INTEGER NOT NULL, held TEXT NOT NULL,
    block BLOB NOT NULL);
CREATE TABLE trust_roots (did TEXT PRIMARY KEY, added INTEGER NOT NULL);
"""
OLD_VERDICTS_DDL = (
    "CREATE TABLE proof_verdicts (proof TEXT PRIMARY KEY, ok INTEGER NOT NULL, manifest TEXT, prover TEXT, reason TEXT)"
)
PROOF = manifest_cid("mig-proof")
MODEL = manifest_cid("mig-model")


def old_row(entry: Entry) -> tuple[object, ...]:
    """An `entries` row as the old ledger wrote it: its columns (manifest, peer, request, detail, weight)."""
    body = entry.body
    columns = {
        "publish": (body.get("manifest"), None, None, None, None),
        "use": (body.get("manifest"), body.get("provider"), body.get("request"), None, None),
        "receipt": (None, body.get("consumer"), body.get("request"), body.get("proof"), None),
        "attest": (body.get("subject"), None, None, body.get("verdict"), None),
        "endorse": (None, body.get("peer"), None, None, body.get("weight")),
        "rotate": (None, body.get("new_key"), None, None, None),
    }[entry.type]
    return (entry.cid, entry.author, entry.seq, entry.prev, entry.ts, entry.type, *columns, entry.block)


def feeds() -> list[list[Entry]]:
    alice = feed(ALICE, [("publish", {"manifest": MODEL}), endorse(BOB, 3), endorse(BOB, 7)])
    bob = feed(
        BOB,
        [
            ("use", {"manifest": MODEL, "provider": ALICE.did, "request": "r1"}),
            ("use", {"manifest": MODEL, "provider": ALICE.did, "request": "r2"}),
            ("attest", {"subject": MODEL, "verdict": "ok", "details": ""}),
            ("rotate", {"new_key": NEW_KEY.did}),
        ],
    )
    receipts = [
        ("receipt", {"request": request, "consumer": BOB.did, "proof": proof, "output_hash": "ab" * 32})
        for request, proof in (("r1", PROOF), ("r2", None), ("r3", None))
    ]
    alice += feed(ALICE, receipts, after=alice[-1])
    carol = feed(CAROL, [("attest", {"subject": MODEL, "verdict": "fail", "details": "bad"}), endorse(ALICE)])
    return [alice, bob, carol]


def write_old_ledger(path: Path, *, verdicts: bool) -> None:
    """A ledger.db exactly as the old schema wrote it (its DDL, its column extraction), user_version 0."""
    db = sqlite3.connect(path)
    db.executescript(OLD_DDL)
    for entries in feeds():
        for entry in entries:
            db.execute(
                "INSERT INTO entries (cid, author, seq, prev, ts, type, manifest, peer, request, detail, weight, block)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                old_row(entry),
            )
        state = verify_chain(entries[0].author, entries, T0 + 10_000)
        db.execute(
            "INSERT INTO feeds (author, seq, head, ts, keys) VALUES (?, ?, ?, ?, ?)",
            (state.author, state.seq, state.head, state.ts, json.dumps(state.keys)),
        )
    db.execute("INSERT INTO trust_roots (did, added) VALUES (?, ?)", (CAROL.did, T0))
    if verdicts:
        db.execute(OLD_VERDICTS_DDL)
        db.execute(
            "INSERT INTO proof_verdicts (proof, ok, manifest, prover, reason) VALUES (?, 1, ?, ?, NULL)",
            (PROOF, MODEL, ALICE.did),
        )
    db.commit()
    db.close()


def user_version(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


def same_queries(migrated: Ledger, fresh: Ledger) -> None:
    assert migrated.paired_uses() == fresh.paired_uses()
    assert len(migrated.paired_uses()) == 2  # r3 has no use: not paired
    assert sorted(migrated.attest_vouches()) == sorted(fresh.attest_vouches()) == [(BOB.did, ALICE.did, 1)]
    assert sorted(migrated.endorsements()) == sorted(fresh.endorsements())
    assert (ALICE.did, BOB.did, 7) in migrated.endorsements()  # the latest endorsement, from the `endorsed` column
    assert migrated.unpaid_receipts(ALICE.did, BOB.did) == fresh.unpaid_receipts(ALICE.did, BOB.did) == 1
    assert migrated.used_manifests() == fresh.used_manifests()
    assert migrated.paired_receipt_proofs() == fresh.paired_receipt_proofs() == [(ALICE.did, PROOF)]
    assert migrated.receipt_proofs() == {PROOF}
    assert [mark.cid for mark in migrated.receipts_by(ALICE.did, 0)] == [PROOF]
    assert [entry.cid for entry in migrated.entries()] == [entry.cid for entry in fresh.entries()]
    before, after = compute_scores(migrated, [CAROL.did]), compute_scores(fresh, [CAROL.did])
    assert (before.trust, before.credit, before.debit) == (after.trust, after.credit, after.debit)


@pytest.mark.parametrize("verdicts", [False, True], ids=["never-judged", "verdict-table-made-on-first-use"])
def test_an_old_ledger_migrates_to_named_columns_and_the_verdict_cache(tmp_path: Path, verdicts: bool) -> None:
    old = tmp_path / "old.db"
    write_old_ledger(old, verdicts=verdicts)
    fresh = Ledger(tmp_path / "fresh.db")
    for entries in feeds():
        fresh.import_blocks(blocks(entries))

    migrated = Ledger(old)
    try:
        assert migrated.verify_all(clock_ms=T0 + 10_000) == fresh.count() == 12
        assert migrated.trust_roots() == [CAROL.did]
        same_queries(migrated, fresh)
        kept = migrated.proof_verdict(PROOF)
        assert kept == (CachedVerdict(True, MODEL, ALICE.did, None) if verdicts else None)
        migrated.record_proof_verdict(PROOF, CachedVerdict(False, None, None, "proof/invalid: junk"))
        assert migrated.failed_proofs() == {PROOF}
        assert migrated.verified_proofs_after(0) == []
    finally:
        migrated.close()
        fresh.close()
    assert user_version(old) == user_version(tmp_path / "fresh.db") == CURRENT_VERSION

    reopened = Ledger(old)  # a migrated ledger is not migrated again
    try:
        assert reopened.proof_verdict(PROOF) == CachedVerdict(False, None, None, "proof/invalid: junk")
        assert reopened.count() == 12
    finally:
        reopened.close()


def test_an_old_ledger_with_a_damaged_block_still_opens_and_verify_names_it(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    write_old_ledger(path, verdicts=False)
    db = sqlite3.connect(path)
    block = bytearray(db.execute("SELECT block FROM entries WHERE author = ? AND seq = 2", (BOB.did,)).fetchone()[0])
    block[-3] ^= 0x01
    db.execute("UPDATE entries SET block = ? WHERE author = ? AND seq = 2", (bytes(block), BOB.did))
    db.commit()
    db.close()

    ledger = Ledger(path)
    try:
        # The damaged use kept what its old columns said: it still pairs with r2's receipt.
        assert {pair.request for pair in ledger.paired_uses()} == {"r1", "r2"}
        with pytest.raises(FeedRejected) as rejected:
            ledger.verify_all(clock_ms=T0 + 10_000)
        assert (rejected.value.author, rejected.value.seq) == (BOB.did, 2)
    finally:
        ledger.close()
    assert user_version(path) == CURRENT_VERSION


def test_a_ledger_from_a_newer_zkreg_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    Ledger(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {CURRENT_VERSION + 1}")
    db.close()
    with pytest.raises(ZkregError) as refused:
        Ledger(path)
    assert refused.value.code == "feed/db-unreadable"
    assert "newer" in refused.value.message
    assert user_version(path) == CURRENT_VERSION + 1


def test_a_version_2_ledger_gains_the_vouch_columns_and_keeps_its_entries(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    ledger = Ledger(path)
    for entries in feeds():
        ledger.import_blocks(blocks(entries), clock_ms=T0 + 10_000)
    ledger.close()
    db = sqlite3.connect(path)  # as version 2 wrote it: no `vouched`, no `credits`
    db.execute("ALTER TABLE entries DROP COLUMN vouched")
    db.execute("ALTER TABLE entries DROP COLUMN credits")
    db.execute("PRAGMA user_version = 2")
    db.commit()
    db.close()

    migrated = Ledger(path)
    try:
        assert migrated.count() == 12
        migrated.append(CAROL, "vouch", {"peer": BOB.did, "credits": 4})
        assert [tuple(stake) for stake in migrated.stakes()] == [(CAROL.did, BOB.did, 4, 4)]
    finally:
        migrated.close()
    assert user_version(path) == CURRENT_VERSION
