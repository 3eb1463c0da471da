"""The one atomic write: whole file or old file, never a partial one, and exclusive creation that never replaces."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from zkreg.errors import MalformedObject
from zkreg.fsutil import atomic_replace, atomic_write


def test_atomic_write_replaces_the_whole_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.car"
    target.write_bytes(b"old")
    atomic_write(target, iter([b"new ", b"pieces"]))
    assert target.read_bytes() == b"new pieces"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out.car"]


def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def pieces() -> Iterator[bytes]:
        yield b"half of it"
        raise MalformedObject("the source turned out bad")

    with pytest.raises(MalformedObject):
        atomic_write(target, pieces())
    assert target.read_bytes() == b"old"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out.bin"]


def test_exclusive_write_never_replaces_and_keeps_its_mode(tmp_path: Path) -> None:
    key = tmp_path / "identity.json"
    atomic_write(key, b"first", exclusive=True, mode=0o600)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    with pytest.raises(FileExistsError):
        atomic_write(key, b"second", exclusive=True, mode=0o600)
    assert key.read_bytes() == b"first"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["identity.json"]


def test_temporary_can_live_in_another_folder_of_the_same_file_system(tmp_path: Path) -> None:
    staging = tmp_path / ".tmp"
    staging.mkdir()
    atomic_write(tmp_path / "block", b"data", durable=False, tmp_folder=staging)
    assert (tmp_path / "block").read_bytes() == b"data"
    assert list(staging.iterdir()) == []
    written = tmp_path / ".srs.tmp"
    written.write_bytes(b"srs")
    atomic_replace(written, tmp_path / "dev.srs")
    assert (tmp_path / "dev.srs").read_bytes() == b"srs"
    assert not written.exists()
