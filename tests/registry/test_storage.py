"""zkreg.storage's schema versions on real SQLite files: a new file gets the schema, an older one its missing
steps in one transaction (a failing step leaves it as it was), a current one is not touched."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from zkreg.errors import IndexUnreadable
from zkreg.storage import Migration, open_database

SCHEMA = ("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, size INTEGER)",)


def add_size(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE items ADD COLUMN size INTEGER")


def fill_sizes(conn: sqlite3.Connection) -> None:
    conn.execute("UPDATE items SET size = length(name)")


def broken(conn: sqlite3.Connection) -> None:
    conn.execute("UPDATE items SET size = 0")
    conn.execute("SELECT * FROM no_such_table")


def version_1_file(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
    db.execute("INSERT INTO items (name) VALUES ('abc')")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()


def open_with(path: Path, migrations: tuple[Migration, ...]) -> sqlite3.Connection:
    return open_database(path, SCHEMA, what="the test db", unreadable=IndexUnreadable, migrations=migrations)


def test_a_new_file_gets_the_schema_at_the_current_version(tmp_path: Path) -> None:
    conn = open_with(tmp_path / "new.db", (add_size, fill_sizes, fill_sizes))
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
        conn.execute("INSERT INTO items (name, size) VALUES ('x', 1)")  # the schema's own columns, no migration run
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def test_an_older_file_gets_only_the_steps_it_lacks(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    version_1_file(path)
    conn = open_with(path, (add_size, add_size, fill_sizes))  # from step 1: step 0 again would fail
    conn.close()
    conn = open_with(path, (add_size, add_size, fill_sizes))  # current: add_size again would fail
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
        assert [tuple(row) for row in conn.execute("SELECT name, size FROM items")] == [("abc", 3)]
    finally:
        conn.close()


def test_a_failing_step_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    version_1_file(path)
    with pytest.raises(Exception, match="no such table") as failed:
        open_with(path, (add_size, add_size, broken))
    assert getattr(failed.value, "code", None) == "store/index-unreadable"
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1
        assert [row[1] for row in db.execute("PRAGMA table_info(items)")] == ["id", "name"]  # add_size rolled back
    finally:
        db.close()
