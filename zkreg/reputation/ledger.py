"""The local ledger: every feed this peer holds, in SQLite on disk (`ledger.db` in the data dir).

WAL mode, `synchronous=FULL`, and one `BEGIN IMMEDIATE` transaction per appended entry or imported batch, so a
crash (even `kill -9`) leaves every acknowledged entry in place and nothing half-written, and two processes
appending to the same feed serialise instead of forking it. `UNIQUE(author, seq)` is the last line of defence.

Each entry is stored as its exact signed block plus a few columns extracted from it for scoring queries; the
verdict about a block always comes from `zkreg.reputation.verify`, never from the columns.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zkreg.errors import (
    FeedRejected,
    FeedsRejected,
    ForkedFeed,
    LedgerDamaged,
    LedgerUnreadable,
    MalformedEntry,
    MalformedObject,
)
from zkreg.identity import Identity, public_key_from_did
from zkreg.progress import SILENT, Progress
from zkreg.registry.index import open_database, transaction
from zkreg.reputation.entry import Entry, decode_entry, sign_entry
from zkreg.reputation.pipeline import decoded_batches
from zkreg.reputation.verify import FeedState, FeedVerifier, classify, verify_chain

IMPORT_BATCH = 2000
"""Entries per import transaction: large enough to amortise the fsync, small enough to lose little on a crash."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    cid TEXT NOT NULL,
    author TEXT NOT NULL,
    seq INTEGER NOT NULL,
    prev TEXT,
    ts INTEGER NOT NULL,
    type TEXT NOT NULL,
    manifest TEXT,
    peer TEXT,
    request TEXT,
    detail TEXT,
    weight INTEGER,
    block BLOB NOT NULL,
    UNIQUE (author, seq)
);
CREATE INDEX IF NOT EXISTS entries_type ON entries (type, manifest);
CREATE INDEX IF NOT EXISTS entries_request ON entries (request) WHERE request IS NOT NULL;
CREATE TABLE IF NOT EXISTS feeds (
    author TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    head TEXT NOT NULL,
    ts INTEGER NOT NULL,
    keys TEXT NOT NULL DEFAULT '[]',
    forked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS evidence (
    cid TEXT PRIMARY KEY,
    author TEXT NOT NULL,
    seq INTEGER NOT NULL,
    held TEXT NOT NULL,
    block BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS trust_roots (
    did TEXT PRIMARY KEY,
    added INTEGER NOT NULL
);
"""


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class ImportReport:
    """What one import did. Replays are counted, never applied twice."""

    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    refused_forked: int = 0
    """Entries of authors already proven to equivocate: not applied."""
    forks: list[tuple[str, int]] = field(default_factory=list)
    """(author, seq) of equivocations discovered by this import."""
    rejected: list[FeedRejected] = field(default_factory=list)
    """The first entry that failed per author; nothing of that author past it was applied."""

    def to_json(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "refused_forked": self.refused_forked,
            "forks": [{"author": author, "seq": seq} for author, seq in self.forks],
            "rejected": [
                {"author": error.author, "seq": error.seq, "code": error.code, "message": error.message}
                for error in self.rejected
            ],
        }


@dataclass(frozen=True)
class EvidenceRecord:
    author: str
    seq: int
    held: str
    other: str


def _columns(entry: Entry) -> tuple[str | None, str | None, str | None, str | None, int | None]:
    """(manifest, peer, request, detail, weight) of an entry, for the scoring queries."""
    body = entry.body
    if entry.type in ("publish", "revoke"):
        return body["manifest"], None, None, None, None
    if entry.type == "use":
        return body["manifest"], body["provider"], body["request"], None, None
    if entry.type == "receipt":
        return None, body["consumer"], body["request"], body["proof"], None
    if entry.type == "attest":
        return body["subject"], None, None, body["verdict"], None
    if entry.type == "endorse":
        return None, body["peer"], None, None, body["weight"]
    return None, body["new_key"], None, None, None


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = open_database(path, _SCHEMA, what="the ledger", unreadable=LedgerUnreadable)

    def close(self) -> None:
        self.conn.close()

    # ---- state -----------------------------------------------------------------------------------------------

    def state(self, author: str) -> FeedState:
        row = self.conn.execute("SELECT * FROM feeds WHERE author = ?", (author,)).fetchone()
        if row is None:
            return FeedState(author)
        keys = tuple((int(first), str(did)) for first, did in json.loads(row["keys"]))
        return FeedState(author, row["seq"], row["head"], row["ts"], keys, bool(row["forked"]))

    def _save_state(self, state: FeedState) -> None:
        self.conn.execute(
            "INSERT INTO feeds (author, seq, head, ts, keys, forked) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (author) DO UPDATE SET seq = excluded.seq, head = excluded.head, ts = excluded.ts, "
            "keys = excluded.keys, forked = excluded.forked",
            (state.author, state.seq, state.head, state.ts, json.dumps(state.keys), int(state.forked)),
        )

    def _insert(self, entries: Iterable[Entry]) -> None:
        self.conn.executemany(
            "INSERT INTO entries (cid, author, seq, prev, ts, type, manifest, peer, request, detail, weight, block) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ((e.cid, e.author, e.seq, e.prev, e.ts, e.type, *_columns(e), e.block) for e in entries),
        )

    # ---- writing ---------------------------------------------------------------------------------------------

    def append(self, identity: Identity, type_: str, body: dict[str, Any]) -> Entry:
        """Sign and append one entry to `identity`'s own feed, in its own transaction."""
        return self.append_batch(identity, [(type_, body)])[0]

    def append_batch(self, identity: Identity, items: list[tuple[str, dict[str, Any]]]) -> list[Entry]:
        """Sign and append entries to `identity`'s feed in one transaction: all of them or none."""
        author = identity.did
        with transaction(self.conn):
            state = self.state(author)
            if state.forked:
                raise ForkedFeed(author, state.seq + 1, "this identity's own feed is marked forked")
            verifier = FeedVerifier(state, now_ms())
            for type_, body in items:
                current = verifier.state
                entry = sign_entry(
                    identity,
                    seq=current.seq + 1,
                    prev=current.head,
                    ts=max(now_ms(), current.ts),
                    type_=type_,
                    body=body,
                    author=author,
                )
                verifier.extend(entry)
            self._insert(verifier.accepted)
            self._save_state(verifier.state)
        return verifier.accepted

    def import_blocks(
        self, blocks: Iterable[bytes], *, clock_ms: int | None = None, progress: Progress = SILENT
    ) -> ImportReport:
        """Apply every block that validly extends a feed we hold (or starts one at seq 1).

        One transaction per batch; replays are no-ops; an equivocation is kept as evidence and closes the feed;
        the first invalid entry of an author stops that author's feed for the rest of the import. Raises
        `FeedsRejected` at the end if any entry did not verify, after committing the valid ones.
        """
        report = ImportReport()
        stopped: set[str] = set()
        clock = clock_ms if clock_ms is not None else now_ms()
        progress.begin("importing ledger entries", None)
        try:
            for entries, signed in decoded_batches(blocks, IMPORT_BATCH):
                report.received += len(entries)
                with transaction(self.conn):
                    verifiers: dict[str, FeedVerifier] = {}
                    for entry in entries:
                        if entry.author in stopped:
                            continue
                        verifier = verifiers.get(entry.author)
                        if verifier is None:
                            verifier = verifiers[entry.author] = FeedVerifier(
                                self.state(entry.author), clock, signed=signed
                            )
                        try:
                            self._apply(verifier, entry, report)
                        except FeedRejected as exc:
                            stopped.add(entry.author)
                            report.rejected.append(exc)
                    for verifier in verifiers.values():
                        self._insert(verifier.accepted)
                        if verifier.state.head is not None:
                            self._save_state(verifier.state)
                progress.advance(len(entries))
        except MalformedObject as exc:  # bytes that do not parse end the import; say what was kept (same class)
            kept = f" (import stopped there; {report.accepted} valid entries before it were kept)"
            raise type(exc)(exc.message + kept, hint=exc.hint) from exc
        finally:
            progress.end()
        if report.rejected:
            raise FeedsRejected(report)
        return report

    def _apply(self, verifier: FeedVerifier, entry: Entry, report: ImportReport) -> None:
        state = verifier.state
        if entry.seq <= state.seq:
            held = self._held_cid(verifier, entry.seq)
            if classify(state, entry, held) == "replay":
                report.duplicates += 1
                return
            if self.conn.execute("SELECT 1 FROM evidence WHERE cid = ?", (entry.cid,)).fetchone():
                report.duplicates += 1
                return
            self.conn.execute(
                "INSERT INTO evidence (cid, author, seq, held, block) VALUES (?, ?, ?, ?, ?)",
                (entry.cid, entry.author, entry.seq, held, entry.block),
            )
            if not state.forked:
                report.forks.append((entry.author, entry.seq))
                verifier.state = FeedState(state.author, state.seq, state.head, state.ts, state.keys, forked=True)
            return
        if state.forked:
            report.refused_forked += 1
            return
        verifier.extend(entry)
        report.accepted += 1

    def _held_cid(self, verifier: FeedVerifier, seq: int) -> str:
        """The CID of the entry we hold at `seq`: accepted in this batch (not yet written), or stored."""
        pending = verifier.accepted
        if pending and pending[0].seq <= seq:
            return pending[seq - pending[0].seq].cid
        return str(self.held_at(verifier.state.author, seq))

    # ---- trust roots -----------------------------------------------------------------------------------------

    def add_trust_root(self, did: str) -> bool:
        """Trust `did` as a root of this peer's reputation computation; False if it already was one."""
        public_key_from_did(did)
        with transaction(self.conn):
            cursor = self.conn.execute("INSERT OR IGNORE INTO trust_roots (did, added) VALUES (?, ?)", (did, now_ms()))
        return cursor.rowcount == 1

    def trust_roots(self) -> list[str]:
        return [row["did"] for row in self.conn.execute("SELECT did FROM trust_roots ORDER BY did")]

    # ---- reading ---------------------------------------------------------------------------------------------

    def has_entry(self, author: str, type_: str, manifest: str) -> bool:
        """Whether `author`'s feed holds an entry of `type_` naming `manifest` (e.g. the `publish` of a ref)."""
        row = self.conn.execute(
            "SELECT 1 FROM entries WHERE type = ? AND manifest = ? AND author = ? LIMIT 1", (type_, manifest, author)
        ).fetchone()
        return row is not None

    def authors(self) -> list[str]:
        return [row["author"] for row in self.conn.execute("SELECT author FROM feeds ORDER BY author")]

    def entries(self, author: str | None = None) -> Iterator[Entry]:
        """Stored entries (re-decoded from their blocks), by author then seq."""
        query = "SELECT cid, author, seq, block FROM entries"
        args: tuple[str, ...] = ()
        if author is not None:
            query += " WHERE author = ?"
            args = (author,)
        for row in self.conn.execute(query + " ORDER BY author, seq", args):
            yield self._decode_stored(row)

    def blocks(self, author: str, after: int = 0, limit: int = -1) -> Iterator[tuple[int, str, bytes]]:
        """(seq, CID, block) of an author's stored entries with seq > `after` (at most `limit`; -1: all) in seq
        order, as stored (`verify_all` checks them)."""
        rows = self.conn.execute(
            "SELECT seq, cid, block FROM entries WHERE author = ? AND seq > ? ORDER BY seq LIMIT ?",
            (author, after, limit),
        )
        for row in rows:
            yield row["seq"], row["cid"], bytes(row["block"])

    def held_at(self, author: str, seq: int) -> str | None:
        """The CID of the entry stored at (`author`, `seq`), if any."""
        row = self.conn.execute("SELECT cid FROM entries WHERE author = ? AND seq = ?", (author, seq)).fetchone()
        return None if row is None else str(row["cid"])

    def held_block(self, author: str, seq: int) -> bytes | None:
        """The entry stored at (`author`, `seq`), if any."""
        row = self.conn.execute("SELECT block FROM entries WHERE author = ? AND seq = ?", (author, seq)).fetchone()
        return None if row is None else bytes(row["block"])

    def _decode_stored(self, row: sqlite3.Row) -> Entry:
        try:
            entry = decode_entry(bytes(row["block"]), expected_cid=row["cid"])
        except MalformedEntry as exc:
            raise FeedRejected(row["author"], row["seq"], f"stored entry is corrupt: {exc.message}") from exc
        if (entry.author, entry.seq) != (row["author"], row["seq"]):
            raise FeedRejected(row["author"], row["seq"], "stored entry is filed under another (author, seq)")
        return entry

    def _evidence_rows(self, author: str | None) -> list[sqlite3.Row]:
        query = "SELECT author, seq, held, cid, block FROM evidence"
        args: tuple[str, ...] = ()
        if author is not None:
            query += " WHERE author = ?"
            args = (author,)
        return self.conn.execute(query + " ORDER BY author, seq, cid", args).fetchall()

    def evidence(self, author: str | None = None) -> list[EvidenceRecord]:
        """Equivocations held: for each, the entry in the feed (`held`) and the conflicting one (`other`)."""
        return [EvidenceRecord(r["author"], r["seq"], r["held"], r["cid"]) for r in self._evidence_rows(author)]

    def evidence_blocks(self, author: str | None = None) -> list[bytes]:
        return [bytes(row["block"]) for row in self._evidence_rows(author)]

    def heads(self, author: str | None = None) -> list[FeedState]:
        return [self.state(did) for did in ([author] if author else self.authors())]

    def count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM entries").fetchone()[0])

    def verify_all(self, *, clock_ms: int | None = None, progress: Progress = SILENT) -> int:
        """Re-verify every stored feed and piece of evidence from its bytes; the number of entries checked.

        Raises `FeedRejected` naming the first (author, seq) that fails, `IntegrityError` if SQLite is damaged.
        """
        check = self.conn.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise LedgerDamaged(f"ledger database {self.path} is damaged: {check}")
        clock = clock_ms if clock_ms is not None else now_ms()
        checked = 0
        progress.begin("verifying feeds", self.count())
        try:
            for author in self.authors():
                entries = list(self.entries(author))
                state = verify_chain(author, entries, clock)
                stored = self.state(author)
                if (state.seq, state.head) != (stored.seq, stored.head):
                    raise FeedRejected(author, stored.seq, "the recorded head does not match the verified chain")
                for row in self._evidence_rows(author):
                    other = self._decode_stored(row)
                    if classify(state, other, row["held"]) != "equivocation":
                        raise FeedRejected(author, row["seq"], "recorded evidence is not a conflicting entry")
                checked += len(entries)
                progress.advance(len(entries))
        finally:
            progress.end()
        return checked


def open_ledger(path: Path) -> Ledger:
    """The ledger at `path`; `StoreBusy` or a `feed/db-unreadable` error instead of a SQLite exception."""
    return Ledger(path)
