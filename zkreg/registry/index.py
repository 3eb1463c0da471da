"""The local SQLite index (`index.db`): which blocks the local store holds, and the refs (name@version -> manifest
CID). Every SQL statement about it is here; the discipline (WAL, one `BEGIN IMMEDIATE` transaction per change)
is `zkreg.storage`'s."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from zkreg.errors import IndexUnreadable
from zkreg.storage import open_database, transaction

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS blocks (cid TEXT PRIMARY KEY, size INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS refs ("
    "id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, version TEXT NOT NULL, cid TEXT NOT NULL, "
    "author TEXT NOT NULL, kind TEXT NOT NULL, created TEXT NOT NULL, UNIQUE (name, version))",
    "CREATE INDEX IF NOT EXISTS refs_cid ON refs (cid)",
)


class Ref(NamedTuple):
    """A recorded `name@version` and the manifest it names."""

    name: str
    version: str
    cid: str
    author: str
    kind: str
    created: str


class Mark(NamedTuple):
    """A row's position in its table (rowid or id) and the CID it holds: for scanning what arrived since."""

    position: int
    cid: str


class Index:
    def __init__(self, path: Path) -> None:
        self.conn = open_database(path, _SCHEMA, what="the index", unreadable=IndexUnreadable)

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[Index]:
        """One `BEGIN IMMEDIATE` transaction: the methods called inside it commit together."""
        with transaction(self.conn):
            yield self

    def integrity_check(self) -> str:
        return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])

    # ---- refs ------------------------------------------------------------------------------------------------

    def ref_cid(self, name: str, version: str) -> str | None:
        row = self.conn.execute("SELECT cid FROM refs WHERE name = ? AND version = ?", (name, version)).fetchone()
        return None if row is None else str(row["cid"])

    def latest_ref(self, name: str) -> Ref | None:
        """The version of `name` recorded last."""
        row = self.conn.execute(
            "SELECT name, version, cid, author, kind, created FROM refs WHERE name = ? ORDER BY id DESC LIMIT 1",
            (name,),
        ).fetchone()
        return None if row is None else Ref(*row)

    def refs(self) -> list[Ref]:
        """Every ref, by name then in the order recorded."""
        rows = self.conn.execute("SELECT name, version, cid, author, kind, created FROM refs ORDER BY name, id")
        return [Ref(*row) for row in rows]

    def ref_cids(self) -> list[str]:
        return [str(row["cid"]) for row in self.conn.execute("SELECT cid FROM refs")]

    def versions(self, name: str) -> list[str]:
        return [str(row["version"]) for row in self.conn.execute("SELECT version FROM refs WHERE name = ?", (name,))]

    def add_ref(self, ref: Ref, *, keep_existing: bool = False) -> None:
        """Record `ref`; with `keep_existing`, a `name@version` already recorded stays as it was (else it fails)."""
        if keep_existing:
            self.conn.execute(
                "INSERT OR IGNORE INTO refs (name, version, cid, author, kind, created) VALUES (?, ?, ?, ?, ?, ?)", ref
            )
        else:
            self.conn.execute(
                "INSERT INTO refs (name, version, cid, author, kind, created) VALUES (?, ?, ?, ?, ?, ?)", ref
            )

    def refs_after(self, ref_id: int) -> list[Mark]:
        """(id, manifest CID) of the refs recorded after the one with `ref_id`, in order."""
        rows = self.conn.execute("SELECT id, cid FROM refs WHERE id > ? ORDER BY id", (ref_id,))
        return [Mark(*row) for row in rows]

    # ---- blocks ----------------------------------------------------------------------------------------------

    def add_blocks(self, blocks: Iterable[tuple[str, int]]) -> None:
        """Record (CID, size) of held blocks; one already listed stays as it was."""
        self.conn.executemany("INSERT OR IGNORE INTO blocks (cid, size) VALUES (?, ?)", blocks)

    def remove_blocks(self, cids: Iterable[str]) -> None:
        self.conn.executemany("DELETE FROM blocks WHERE cid = ?", ((cid,) for cid in cids))

    def lists_block(self, cid: str) -> bool:
        return self.conn.execute("SELECT 1 FROM blocks WHERE cid = ?", (cid,)).fetchone() is not None

    def block_count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM blocks").fetchone()[0])

    def blocks_after(self, rowid: int) -> list[Mark]:
        """(rowid, CID) of the blocks listed after `rowid`, in order."""
        rows = self.conn.execute("SELECT rowid, cid FROM blocks WHERE rowid > ? ORDER BY rowid", (rowid,))
        return [Mark(*row) for row in rows]


def open_index(path: Path) -> Index:
    """The index at `path`; `StoreBusy` or a `store/index-unreadable` error instead of a SQLite exception."""
    return Index(path)
