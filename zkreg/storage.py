"""The SQLite discipline of every database in the data dir (the index, the ledger, the peer store).

WAL mode with `synchronous=FULL`; every change runs in one `BEGIN IMMEDIATE` transaction, so two CLI processes
writing at once serialise (waiting up to the busy timeout) instead of interleaving. Each database says which
version of its schema it holds in `PRAGMA user_version`: a new file gets the current schema, an older one the
migration steps it lacks, in one transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from zkreg.errors import StoreBusy, ZkregError

BUSY_TIMEOUT_S = 30.0

Migration = Callable[[sqlite3.Connection], None]
"""One step from schema version n to n + 1 (step n of a database's list; a file from before versions is 0)."""


def open_database(
    path: Path,
    schema: Sequence[str],
    *,
    what: str,
    unreadable: type[ZkregError],
    migrations: Sequence[Migration] = (),
) -> sqlite3.Connection:
    """A SQLite file of the data dir in WAL mode with `synchronous=FULL`, at schema version `len(migrations)`:
    `schema` (its statements) for a new file, the missing `migrations` for an older one. `what` names it in
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
            if _version(conn) != len(migrations) or _is_empty(conn):
                with transaction(conn):  # checked again inside: another process may have just done it
                    _upgrade(conn, schema, migrations, path, what, unreadable)
    except sqlite3.Error as exc:
        if conn is not None:
            conn.close()
        raise unreadable(f"cannot open {what} {path}: {exc}") from exc
    except BaseException:
        if conn is not None:
            conn.close()
        raise
    return conn


def _version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _is_empty(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone() is None


def _upgrade(
    conn: sqlite3.Connection,
    schema: Sequence[str],
    migrations: Sequence[Migration],
    path: Path,
    what: str,
    unreadable: type[ZkregError],
) -> None:
    version = _version(conn)
    if _is_empty(conn):
        for statement in schema:
            conn.execute(statement)
    elif version > len(migrations):
        raise unreadable(
            f"cannot open {what} {path}: its schema version {version} is newer than this zkreg knows "
            f"({len(migrations)})",
            hint="upgrade zkreg",
        )
    else:
        for step in migrations[version:]:
            step(conn)
    conn.execute(f"PRAGMA user_version = {len(migrations)}")


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
