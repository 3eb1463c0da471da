"""The local SQLite index (`index.db`): which blocks the local store holds, where its packed blocks lie, and the
refs (name@version -> manifest CID). Every SQL statement about it is here; the discipline (WAL, one
`BEGIN IMMEDIATE` transaction per change) is `zkreg.storage`'s."""

from __future__ import annotations

import sqlite3
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

_PACKED = (
    "CREATE TABLE packed (cid TEXT PRIMARY KEY, pack TEXT NOT NULL, offset INTEGER NOT NULL, "
    "size INTEGER NOT NULL, touched_ns INTEGER NOT NULL)",
    "CREATE INDEX packed_pack ON packed (pack)",
)
"""Blocks held in pack files (`LocalStore` packs the blocks of large files): a row exists only once its bytes are
durable in the pack, so the row is the block's existence. `touched_ns` is what a loose block's mtime is to `gc`."""


def _add_packed(conn: sqlite3.Connection) -> None:
    for statement in _PACKED:
        conn.execute(statement)


_MIGRATIONS = (_add_packed,)


class Ref(NamedTuple):
    """A recorded `name@version` and the manifest it names."""

    name: str
    version: str
    cid: str
    author: str
    kind: str
    created: str


class PackedBlock(NamedTuple):
    """Where a packed block lies: `size` bytes at `offset` of the pack file named `pack`."""

    pack: str
    offset: int
    size: int
    touched_ns: int


class Mark(NamedTuple):
    """A row's position in its table (rowid or id) and the CID it holds: for scanning what arrived since."""

    position: int
    cid: str


class Index:
    def __init__(self, path: Path) -> None:
        self.conn = open_database(
            path, (*_SCHEMA, *_PACKED), what="the index", unreadable=IndexUnreadable, migrations=_MIGRATIONS
        )

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
        """Forget blocks, packed ones included (their pack files are reclaimed once no row names them)."""
        doomed = [(cid,) for cid in cids]
        self.conn.executemany("DELETE FROM blocks WHERE cid = ?", doomed)
        self.conn.executemany("DELETE FROM packed WHERE cid = ?", doomed)

    # ---- packed blocks ---------------------------------------------------------------------------------------

    def add_packed(self, rows: Iterable[tuple[str, str, int, int]], touched_ns: int) -> None:
        """Record (CID, pack, offset, size) of blocks made durable in a pack; a block already packed elsewhere
        keeps its first place (the copy in this pack is dead space)."""
        self.conn.executemany(
            "INSERT OR IGNORE INTO packed (cid, pack, offset, size, touched_ns) VALUES (?, ?, ?, ?, ?)",
            ((cid, pack, offset, size, touched_ns) for cid, pack, offset, size in rows),
        )

    def packed_location(self, cid: str) -> PackedBlock | None:
        row = self.conn.execute("SELECT pack, offset, size, touched_ns FROM packed WHERE cid = ?", (cid,)).fetchone()
        return None if row is None else PackedBlock(*row)

    def packed_cids(self) -> Iterator[str]:
        return (str(row[0]) for row in self.conn.execute("SELECT cid FROM packed"))

    def touch_packed(self, cids: Iterable[str], touched_ns: int) -> None:
        """Mark packed blocks stored again, so a `gc` that began before leaves them."""
        self.conn.executemany(
            "UPDATE packed SET touched_ns = max(touched_ns, ?) WHERE cid = ?", ((touched_ns, cid) for cid in cids)
        )

    def remove_packed_untouched(self, cid: str, before_ns: int) -> int | None:
        """Forget a packed block unless it was stored (again) at `before_ns` or later; its size if forgotten."""
        row = self.conn.execute(
            "DELETE FROM packed WHERE cid = ? AND touched_ns < ? RETURNING size", (cid, before_ns)
        ).fetchone()
        return None if row is None else int(row[0])

    def packs_in_use(self) -> set[str]:
        return {str(row[0]) for row in self.conn.execute("SELECT DISTINCT pack FROM packed")}

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
