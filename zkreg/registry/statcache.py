"""The stat cache: what a re-publish need not hash again, like git's index.

One row per (file, CID profile): the file's `stat` as it was when it was hashed (size, mtime_ns, inode, ctime_ns,
device) and the CID and Tsize it gave. A file whose `stat` differs in any of these is hashed again; writing a file
changes its ctime whatever its mtime is set back to, so "same size, same mtime" cannot fool it. A file changed
while or just before it was hashed could still show the old timestamps (file times are taken from a coarse clock),
so, as git does with "racily clean" entries, a row is only written for a file whose mtime and ctime are at least
`RACY_MARGIN_NS` older than the moment hashing began. The cache only saves work: a missing, stale or unreadable
cache means hashing, never a wrong CID, and the caller still checks that the store holds the CID it returns.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from zkreg.errors import StatCacheUnreadable, ZkregError
from zkreg.storage import open_database, transaction

STAT_CACHE_FILE = "statcache.sqlite"
RACY_MARGIN_NS = 1_000_000_000

_SCHEMA = (
    "CREATE TABLE files (path TEXT NOT NULL, profile TEXT NOT NULL, size INTEGER NOT NULL, "
    "mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL, inode INTEGER NOT NULL, device INTEGER NOT NULL, "
    "cid TEXT NOT NULL, tsize INTEGER NOT NULL, PRIMARY KEY (path, profile))",
)


@dataclass(frozen=True)
class Hashed:
    """A file hashed during this run: its stat before hashing, when hashing began, and what it gave."""

    path: Path
    status: os.stat_result
    started_ns: int
    cid: str
    tsize: int


def _key(status: os.stat_result) -> tuple[int, int, int, int, int]:
    return status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino, status.st_dev


class StatCache:
    def __init__(self, home: Path) -> None:
        self._conn = open_database(
            home / STAT_CACHE_FILE, _SCHEMA, what="the stat cache", unreadable=StatCacheUnreadable
        )

    def close(self) -> None:
        self._conn.close()

    def lookup(self, path: Path, status: os.stat_result, profile: str) -> tuple[str, int] | None:
        """(CID, Tsize) recorded for `path` under `profile` if its `stat` still matches in every field."""
        row = self._conn.execute(
            "SELECT size, mtime_ns, ctime_ns, inode, device, cid, tsize FROM files WHERE path = ? AND profile = ?",
            (str(path.resolve()), profile),
        ).fetchone()
        if row is None or tuple(row[:5]) != _key(status):
            return None
        return str(row["cid"]), int(row["tsize"])

    def record(self, hashed: list[Hashed], profile: str) -> None:
        """Remember files hashed in this run, except those changed too close to when their hashing began."""
        rows = [
            (str(h.path.resolve()), profile, *_key(h.status), h.cid, h.tsize)
            for h in hashed
            if max(h.status.st_mtime_ns, h.status.st_ctime_ns) < h.started_ns - RACY_MARGIN_NS
        ]
        if rows:
            with transaction(self._conn):
                self._conn.executemany(
                    "INSERT OR REPLACE INTO files (path, profile, size, mtime_ns, ctime_ns, inode, device, cid, "
                    "tsize) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )


@contextmanager
def open_stat_cache(home: Path) -> Iterator[StatCache | None]:
    """The data dir's stat cache, or None if it cannot be opened (then every file is hashed)."""
    try:
        cache = StatCache(home)
    except ZkregError:
        yield None
        return
    try:
        yield cache
    finally:
        cache.close()


def record_quietly(cache: StatCache | None, hashed: list[Hashed], profile: str) -> None:
    """A cache that cannot be written (busy, disk full) costs a re-hash next time, never the publish."""
    if cache is not None:
        with contextlib.suppress(ZkregError, sqlite3.Error):
            cache.record(hashed, profile)
