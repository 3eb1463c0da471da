"""The local ledger: every feed this peer holds, in SQLite on disk (`ledger.db` in the data dir).

WAL mode, `synchronous=FULL`, and one `BEGIN IMMEDIATE` transaction per appended entry or imported batch, so a
crash (even `kill -9`) leaves every acknowledged entry in place and nothing half-written, and two processes
appending to the same feed serialise instead of forking it. `UNIQUE(author, seq)` is the last line of defence.

Each entry is stored as its exact signed block plus a few columns extracted from it for scoring queries, each
named for what it holds (an entry type fills only its own); the verdict about a block always comes from
`zkreg.reputation.verify`, never from the columns. The same database caches proof verdicts (`proof_verdicts`, see
`zkreg.reputation.proofs`). Every SQL statement about it is here; schema versions and the opener are
`zkreg.storage`'s.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

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
from zkreg.reputation.entry import Entry, decode_entry, sign_entry
from zkreg.reputation.pipeline import decoded_batches
from zkreg.reputation.verify import FeedState, FeedVerifier, classify, verify_chain
from zkreg.storage import Migration, open_database, transaction

IMPORT_BATCH = 2000
"""Entries per import transaction: large enough to amortise the fsync, small enough to lose little on a crash."""

_ENTRIES = (
    "CREATE TABLE entries (cid TEXT NOT NULL, author TEXT NOT NULL, seq INTEGER NOT NULL, prev TEXT, "
    "ts INTEGER NOT NULL, type TEXT NOT NULL, manifest TEXT, provider TEXT, consumer TEXT, request TEXT, "
    "proof TEXT, verdict TEXT, endorsed TEXT, weight INTEGER, new_key TEXT, block BLOB NOT NULL, "
    "vouched TEXT, credits INTEGER, UNIQUE (author, seq))",
    "CREATE INDEX entries_type ON entries (type, manifest)",
    "CREATE INDEX entries_request ON entries (request) WHERE request IS NOT NULL",
)
_PROOF_VERDICTS = (
    "CREATE TABLE IF NOT EXISTS proof_verdicts (proof TEXT PRIMARY KEY, ok INTEGER NOT NULL, manifest TEXT, "
    "prover TEXT, reason TEXT)",
)
_SCHEMA = (
    *_ENTRIES,
    "CREATE TABLE feeds (author TEXT PRIMARY KEY, seq INTEGER NOT NULL, head TEXT NOT NULL, ts INTEGER NOT NULL, "
    "keys TEXT NOT NULL DEFAULT '[]', forked INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE evidence (cid TEXT PRIMARY KEY, author TEXT NOT NULL, seq INTEGER NOT NULL, held TEXT NOT NULL, "
    "block BLOB NOT NULL)",
    "CREATE TABLE trust_roots (did TEXT PRIMARY KEY, added INTEGER NOT NULL)",
    *_PROOF_VERDICTS,
)


def _add_proof_verdicts(conn: sqlite3.Connection) -> None:
    """Version 1: the proof-verdict cache, which older versions created on first use (so it may exist)."""
    for statement in _PROOF_VERDICTS:
        conn.execute(statement)


_INSERT_ENTRY = (
    "INSERT INTO entries (cid, author, seq, prev, ts, type, manifest, provider, consumer, request, proof, verdict, "
    "endorsed, weight, new_key, vouched, credits, block) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SELECT_V0_ENTRIES = (
    "SELECT rowid, cid, author, seq, prev, ts, type, block, manifest, CASE type WHEN 'use' THEN peer END, "
    "CASE type WHEN 'receipt' THEN peer END, request, CASE type WHEN 'receipt' THEN detail END, "
    "CASE type WHEN 'attest' THEN detail END, CASE type WHEN 'endorse' THEN peer END, weight, "
    "CASE type WHEN 'rotate' THEN peer END FROM entries_v0 ORDER BY rowid"
)
"""Version 0's entries with its shared columns (`peer`, `detail`) mapped to the named ones (see `_columns`)."""


def _name_columns(conn: sqlite3.Connection) -> None:
    """Version 2: columns named for what they hold, re-extracted from each stored block. A block that no longer
    decodes keeps what its old columns said (mapped by type), so the ledger still opens and `ledger verify` can
    name it."""
    conn.execute("ALTER TABLE entries RENAME TO entries_v0")
    conn.execute("DROP INDEX IF EXISTS entries_type")
    conn.execute("DROP INDEX IF EXISTS entries_request")
    for statement in _ENTRIES:
        conn.execute(statement)
    for row in conn.execute(_SELECT_V0_ENTRIES).fetchall():
        try:
            columns = _columns(decode_entry(bytes(row["block"]), expected_cid=row["cid"]))
        except MalformedEntry:
            columns = (*tuple(row)[8:], None, None)  # version 0 had no vouch entries
        conn.execute(
            "INSERT INTO entries (rowid, cid, author, seq, prev, ts, type, manifest, provider, consumer, request, "
            "proof, verdict, endorsed, weight, new_key, vouched, credits, block) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*tuple(row)[:7], *columns, row["block"]),
        )
    conn.execute("DROP TABLE entries_v0")


def _add_vouch_columns(conn: sqlite3.Connection) -> None:
    """Version 3: the `vouched` and `credits` of `vouch` entries. A ledger that went through step 2 in this zkreg
    already has them (step 2 builds the current table); an older ledger holds no vouch entry, so nothing to fill."""
    present = {row["name"] for row in conn.execute("PRAGMA table_info(entries)")}
    for column, kind in (("vouched", "TEXT"), ("credits", "INTEGER")):
        if column not in present:
            conn.execute(f"ALTER TABLE entries ADD COLUMN {column} {kind}")


_MIGRATIONS: Sequence[Migration] = (_add_proof_verdicts, _name_columns, _add_vouch_columns)


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


def _columns(entry: Entry) -> tuple[Any, ...]:
    """(manifest, provider, consumer, request, proof, verdict, endorsed, weight, new_key, vouched, credits) of an
    entry, for the scoring queries: `manifest` is the manifest a publish, use or revoke names, or an attest's
    subject; `endorsed` the peer an endorse names, `vouched` the one a vouch names; a column another entry type
    fills is None."""
    body, type_ = entry.body, entry.type
    if type_ == "use":
        return body["manifest"], body["provider"], None, body["request"], None, None, None, None, None, None, None
    if type_ == "receipt":
        return None, None, body["consumer"], body["request"], body["proof"], None, None, None, None, None, None
    if type_ in ("publish", "revoke"):
        return body["manifest"], None, None, None, None, None, None, None, None, None, None
    if type_ == "attest":
        return body["subject"], None, None, None, None, body["verdict"], None, None, None, None, None
    if type_ == "endorse":
        return None, None, None, None, None, None, body["peer"], body["weight"], None, None, None
    if type_ == "vouch":
        return None, None, None, None, None, None, None, None, None, body["peer"], body["credits"]
    return None, None, None, None, None, None, None, None, body["new_key"], None, None


class CachedVerdict(NamedTuple):
    """A proof bundle's cached verdict: whether it verifies, what it binds to if it does, why not if not."""

    ok: bool
    manifest: str | None
    prover: str | None
    reason: str | None


class Mark(NamedTuple):
    """A row's rowid and the CID it holds: for scanning what arrived since."""

    position: int
    cid: str


class Named(NamedTuple):
    """A CID an author's entries name."""

    author: str
    cid: str


class PairedUse(NamedTuple):
    """A consumer's `use` and the provider's `receipt` for the same request."""

    consumer: str
    provider: str
    request: str
    manifest: str
    proof: str | None


class HeldAttestation(NamedTuple):
    """An attester's latest `attest` entry for one subject, as stored (the entry's CID and exact block)."""

    author: str
    seq: int
    cid: str
    verdict: str
    details: str
    block: bytes


class Vouch(NamedTuple):
    source: str
    target: str
    weight: int


class Stake(NamedTuple):
    """A voucher's standing `vouch` for a key: the latest credits (what the key may still be served against) and
    the most it ever staked for that key (what the voucher stays liable for after lowering or withdrawing)."""

    voucher: str
    key: str
    credits: int
    liable: int


def _feed_state(row: sqlite3.Row) -> FeedState:
    keys = tuple((int(first), str(did)) for first, did in json.loads(row["keys"]))
    return FeedState(row["author"], row["seq"], row["head"], row["ts"], keys, bool(row["forked"]))


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = open_database(path, _SCHEMA, what="the ledger", unreadable=LedgerUnreadable, migrations=_MIGRATIONS)

    def close(self) -> None:
        self.conn.close()

    # ---- state -----------------------------------------------------------------------------------------------

    def state(self, author: str) -> FeedState:
        row = self.conn.execute("SELECT * FROM feeds WHERE author = ?", (author,)).fetchone()
        return FeedState(author) if row is None else _feed_state(row)

    def _save_state(self, state: FeedState) -> None:
        self.conn.execute(
            "INSERT INTO feeds (author, seq, head, ts, keys, forked) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (author) DO UPDATE SET seq = excluded.seq, head = excluded.head, ts = excluded.ts, "
            "keys = excluded.keys, forked = excluded.forked",
            (state.author, state.seq, state.head, state.ts, json.dumps(state.keys), int(state.forked)),
        )

    def _insert(self, entries: Iterable[Entry]) -> None:
        self.conn.executemany(
            _INSERT_ENTRY,
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

    def integrity_check(self) -> str:
        return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])

    # ---- scoring and fetching --------------------------------------------------------------------------------

    def paired_uses(self) -> list[PairedUse]:
        """Every `use` of another's manifest that the provider's receipt for the same request pairs with."""
        rows = self.conn.execute(
            "SELECT DISTINCT u.author, u.provider, u.request, u.manifest, r.proof FROM entries u "
            "JOIN entries r ON r.request = u.request AND r.type = 'receipt' AND r.author = u.provider "
            "AND r.consumer = u.author WHERE u.type = 'use' AND u.author != u.provider "
            "ORDER BY u.author, u.provider, u.request"
        )
        return [PairedUse(*row) for row in rows]

    def attest_vouches(self) -> list[Vouch]:
        """(attester, publisher, how many of the publisher's manifests the attester's latest verdict calls `ok`):
        a later `fail` for the same manifest withdraws the vouch."""
        rows = self.conn.execute(
            "SELECT a.author, p.author, count(DISTINCT a.manifest) FROM entries a "
            "JOIN entries p ON p.type = 'publish' AND p.manifest = a.manifest "
            "WHERE a.type = 'attest' AND a.verdict = 'ok' AND a.author != p.author "
            "AND a.seq = (SELECT max(l.seq) FROM entries l WHERE l.type = 'attest' AND l.manifest = a.manifest "
            "AND l.author = a.author) GROUP BY a.author, p.author"
        )
        return [Vouch(*row) for row in rows]

    def latest_attestations(self, subject: str) -> list[HeldAttestation]:
        """Each attester's latest `attest` entry for `subject` (by seq), one per author, sorted by author."""
        # SQLite takes the bare columns from the row that holds max(seq): the latest verdict replaces earlier ones.
        rows = self.conn.execute(
            "SELECT author, max(seq) AS seq, cid, block FROM entries WHERE type = 'attest' AND manifest = ? "
            "GROUP BY author ORDER BY author",
            (subject,),
        ).fetchall()
        held = []
        for row in rows:
            entry = self._decode_stored(row)
            held.append(
                HeldAttestation(
                    entry.author, entry.seq, entry.cid, entry.body["verdict"], entry.body["details"], entry.block
                )
            )
        return held

    def endorsements(self) -> list[Vouch]:
        """(endorser, endorsed, weight) of each endorser's latest endorsement of each other peer."""
        # SQLite takes the bare column `weight` from the row that holds max(seq): the latest endorsement counts.
        rows = self.conn.execute(
            "SELECT author, endorsed, weight, max(seq) FROM entries "
            "WHERE type = 'endorse' AND author != endorsed GROUP BY author, endorsed"
        )
        return [Vouch(row[0], row[1], row[2]) for row in rows]

    def stakes(self) -> list[Stake]:
        """Each voucher's latest `vouch` of each other key (its credits) and its largest one (the liability)."""
        # As in `endorsements`, the bare column `credits` comes from the row that holds max(seq).
        rows = self.conn.execute(
            "SELECT author, vouched, credits, max(seq), (SELECT max(v.credits) FROM entries v WHERE v.type = 'vouch' "
            "AND v.author = e.author AND v.vouched = e.vouched) FROM entries e "
            "WHERE type = 'vouch' AND author != vouched GROUP BY author, vouched ORDER BY author, vouched"
        )
        return [Stake(row[0], row[1], row[2], row[4]) for row in rows]

    def unpaid_receipts(self, provider: str, consumer: str) -> int:
        """Receipts `provider` signed for `consumer` with no `use` by `consumer` for the same request."""
        row = self.conn.execute(
            "SELECT count(*) FROM entries r WHERE r.type = 'receipt' AND r.author = ? AND r.consumer = ? "
            "AND NOT EXISTS (SELECT 1 FROM entries u WHERE u.type = 'use' AND u.request = r.request "
            "AND u.author = r.consumer)",
            (provider, consumer),
        ).fetchone()
        return int(row[0])

    def used_manifests(self) -> list[Named]:
        """(author, manifest) of every `use`, the most recently stored first."""
        rows = self.conn.execute(
            "SELECT author, manifest, MAX(rowid) AS newest FROM entries WHERE type = 'use' "
            "GROUP BY author, manifest ORDER BY newest DESC"
        )
        return [Named(row[0], row[1]) for row in rows]

    def paired_receipt_proofs(self) -> list[Named]:
        """(provider, proof) of every receipt that names a proof and pairs with a `use`, most recent first."""
        rows = self.conn.execute(
            "SELECT r.author, r.proof, MAX(r.rowid) AS newest FROM entries r "
            "JOIN entries u ON u.request = r.request AND u.type = 'use' AND u.author = r.consumer "
            "AND u.provider = r.author WHERE r.type = 'receipt' AND r.proof IS NOT NULL "
            "GROUP BY r.author, r.proof ORDER BY newest DESC"
        )
        return [Named(row[0], row[1]) for row in rows]

    def receipt_proofs(self) -> set[str]:
        """Every proof bundle a receipt names."""
        rows = self.conn.execute("SELECT DISTINCT proof FROM entries WHERE type = 'receipt' AND proof IS NOT NULL")
        return {str(row[0]) for row in rows}

    def receipts_by(self, author: str, after_rowid: int) -> list[Mark]:
        """(rowid, proof) of `author`'s receipts stored after `after_rowid` that name a proof, in order."""
        rows = self.conn.execute(
            "SELECT rowid, proof FROM entries WHERE rowid > ? AND author = ? AND type = 'receipt' "
            "AND proof IS NOT NULL ORDER BY rowid",
            (after_rowid, author),
        )
        return [Mark(*row) for row in rows]

    # ---- proof verdicts --------------------------------------------------------------------------------------

    def proof_verdict(self, proof: str) -> CachedVerdict | None:
        """The cached verdict on the proof bundle `proof` (a CID); None if it was never judged here."""
        row = self.conn.execute(
            "SELECT ok, manifest, prover, reason FROM proof_verdicts WHERE proof = ?", (proof,)
        ).fetchone()
        return None if row is None else CachedVerdict(bool(row[0]), row[1], row[2], row[3])

    def record_proof_verdict(self, proof: str, verdict: CachedVerdict) -> None:
        """Cache `verdict` on `proof`, replacing any earlier one, in its own transaction."""
        with transaction(self.conn):
            self.conn.execute(
                "INSERT OR REPLACE INTO proof_verdicts (proof, ok, manifest, prover, reason) VALUES (?, ?, ?, ?, ?)",
                (proof, int(verdict.ok), verdict.manifest, verdict.prover, verdict.reason),
            )

    def proof_verdicts(self) -> dict[str, CachedVerdict]:
        """Every cached verdict, by proof CID."""
        rows = self.conn.execute("SELECT proof, ok, manifest, prover, reason FROM proof_verdicts")
        return {row[0]: CachedVerdict(bool(row[1]), row[2], row[3], row[4]) for row in rows}

    def failed_proofs(self) -> set[str]:
        """The proofs judged here not to verify."""
        return {str(row[0]) for row in self.conn.execute("SELECT proof FROM proof_verdicts WHERE ok = 0")}

    def verified_proofs_after(self, rowid: int) -> list[Mark]:
        """(rowid, proof) of the proofs judged to verify since `rowid`, in order: the only proofs a peer serves."""
        rows = self.conn.execute(
            "SELECT rowid, proof FROM proof_verdicts WHERE rowid > ? AND ok = 1 ORDER BY rowid", (rowid,)
        )
        return [Mark(*row) for row in rows]

    def heads(self, author: str | None = None) -> list[FeedState]:
        """Every feed's state by author (one query: a sync asks for them all, and a ledger may hold 10k feeds)."""
        if author:
            return [self.state(author)]
        return [_feed_state(row) for row in self.conn.execute("SELECT * FROM feeds ORDER BY author")]

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
