"""The local SQLite index: which blocks the local store holds, and the refs (name@version -> manifest CID).

WAL mode with `synchronous=FULL`; every change runs in one `BEGIN IMMEDIATE` transaction, so two CLI processes
writing at once serialise (waiting up to the busy timeout) instead of interleaving.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from zkreg.errors import IndexUnreadable, StoreBusy, ZkregError

BUSY_TIMEOUT_S = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS blocks (
    cid TEXT PRIMARY KEY,
    size INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS refs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    cid TEXT NOT NULL,
    author TEXT NOT NULL,
    kind TEXT NOT NULL,
    created TEXT NOT NULL,
    UNIQUE (name, version)
);
CREATE INDEX IF NOT EXISTS refs_cid ON refs (cid);
"""


def open_database(path: Path, schema: str, *, what: str, unreadable: type[ZkregError]) -> sqlite3.Connection:
    """A SQLite file of the data dir in WAL mode with `synchronous=FULL` and `schema` applied. `what` names it in
    errors: `StoreBusy` while another process holds it, `unreadable` if it is not a database."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn: sqlite3.Connection | None = None
    try:
        # Inside the try: a path that cannot be opened at all (a directory, no permission) fails right here.
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        conn.row_factory = sqlite3.Row
        with _busy_as_error(what):
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.executescript(schema)
    except sqlite3.Error as exc:
        if conn is not None:
            conn.close()
        raise unreadable(f"cannot open {what} {path}: {exc}") from exc
    return conn


def open_index(path: Path) -> sqlite3.Connection:
    return open_database(path, _SCHEMA, what="the index", unreadable=IndexUnreadable)


@contextmanager
def _busy_as_error(what: str = "the local store") -> Iterator[None]:
    try:
        yield
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise StoreBusy(f"{what} is busy (another zkreg process holds it)", hint="retry") from exc
        raise


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    with _busy_as_error():
        conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    with _busy_as_error():
        conn.execute("COMMIT")
