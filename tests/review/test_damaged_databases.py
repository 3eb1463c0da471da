"""A data dir whose SQLite files are damaged: one clear error line, never a traceback, and nothing half-recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _overwrite_with_garbage(database: Path) -> None:
    for leftover in database.parent.glob(f"{database.name}-*"):
        leftover.unlink()
    database.write_bytes(b"not a database " * 400)


def test_damaged_index_is_one_error_line_not_a_traceback(cli: Any, tmp_path: Path) -> None:
    assert cli("init").code == 0
    _overwrite_with_garbage(cli.home / "index.db")

    result = cli("ls")

    assert result.code == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("zkreg: error[store/index-unreadable]:")


def test_publish_with_damaged_ledger_records_no_ref(cli: Any, tmp_path: Path) -> None:
    """The publish entry cannot be written, so the ref must not be written either (no ref without its event)."""
    assert cli("init").code == 0
    assert cli("ledger", "log").code == 0  # creates ledger.db
    _overwrite_with_garbage(cli.home / "ledger.db")
    (tmp_path / "data.txt").write_text("rows\n")

    refused = cli("publish", "data.txt", "--name", "rows")
    (cli.home / "ledger.db").unlink()
    listed = cli("ls", "--json")

    assert refused.code == 1
    assert "error[feed/db-unreadable]" in refused.stderr
    assert listed.json() == []


def test_damaged_peer_db_is_one_error_line_not_a_traceback(cli: Any, tmp_path: Path) -> None:
    assert cli("init").code == 0
    _overwrite_with_garbage(cli.home / "peer.db")

    result = cli("sync")

    assert result.code == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("zkreg: error[peer/db-unreadable]:")


def test_pull_with_damaged_ledger_writes_no_files(cli: Any, tmp_path: Path) -> None:
    """Pulling another author's artefact records a `use`: if that cannot be written, no file is written either."""
    author, consumer = tmp_path / "author-home", tmp_path / "consumer-home"
    (tmp_path / "data.txt").write_text("rows\n")
    for home in (author, consumer):
        assert cli("init", home_dir=home).code == 0
    assert cli("publish", "data.txt", "--name", "rows", home_dir=author).code == 0
    assert cli("export", "rows", "-o", "rows.car", home_dir=author).code == 0
    assert cli("import", "rows.car", home_dir=consumer).code == 0
    assert cli("ledger", "log", home_dir=consumer).code == 0  # creates ledger.db
    _overwrite_with_garbage(consumer / "ledger.db")

    refused = cli("pull", "rows", "-o", "out", home_dir=consumer)

    assert refused.code == 1
    assert "error[feed/db-unreadable]" in refused.stderr
    assert not (tmp_path / "out" / "data.txt").exists()
