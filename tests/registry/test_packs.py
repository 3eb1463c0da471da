"""The local store's packs: large files' blocks in one fsynced file, read back verified, collected by `gc`, taken
back by a failed publish, and data dirs from before packs still readable."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from tests import vectors
from zkreg.api import GcRequest, PublishRequest, Repo, gc, publish
from zkreg.errors import CidMismatch, VersionExists
from zkreg.registry.cid import RAW, compute
from zkreg.registry.index import open_index
from zkreg.registry.store import PACK_THRESHOLD, LocalStore
from zkreg.registry.unixfs import KUBO_V1_LEGACY

LARGE = PACK_THRESHOLD + 300_000


def loose_files(root: Path) -> list[Path]:
    return [path for path in root.glob("*/*") if path.parent.name != ".tmp"]


def packs(root: Path) -> list[Path]:
    return sorted((root.parent / "packs").glob("*.pack"))


def large_file(path: Path, seed: int = 3) -> Path:
    path.write_bytes(vectors.content(LARGE, seed=seed))
    return path


def test_a_large_file_goes_to_one_pack_and_reads_back_verified(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "blocks", open_index(tmp_path / "index.db"))
    source = large_file(tmp_path / "big.bin")

    imported = store.put_file(source, KUBO_V1_LEGACY)

    assert loose_files(store.root) == [], "no block file per chunk"
    [pack] = packs(store.root)
    assert pack.stat().st_size >= LARGE
    assert b"".join(store.iter_file(imported.cid, imported.size)) == source.read_bytes()
    assert store.has(imported.cid)

    data = bytearray(pack.read_bytes())
    data[len(data) // 2] ^= 0x01  # a block changed on disk is refused, never served
    pack.write_bytes(bytes(data))
    with pytest.raises(CidMismatch):
        store.verify_file(imported.cid, imported.size)


def test_a_small_file_stays_in_loose_block_files(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "blocks", open_index(tmp_path / "index.db"))
    small = tmp_path / "small.bin"
    small.write_bytes(vectors.content(600_000, seed=4))

    store.put_file(small, KUBO_V1_LEGACY)

    assert len(loose_files(store.root)) == 4  # 3 leaves of 256 KiB and their parent
    assert packs(store.root) == []


def test_gc_removes_packed_garbage_and_deletes_its_pack(repo: Repo, tmp_path: Path) -> None:
    kept = tmp_path / "kept"
    kept.mkdir()
    large_file(kept / "model.bin", seed=5)
    publish(repo, PublishRequest([kept], name="kept"))
    garbage = repo.store.put_file(
        large_file(tmp_path / "garbage.bin", seed=6), KUBO_V1_LEGACY
    )  # stored, but no manifest has it
    assert len(packs(repo.store.root)) == 2

    later = time.time_ns() + 10_000_000_000  # a collection that began after both were stored
    result = gc(repo, GcRequest(dry_run=False, started_ns=later))

    assert result.blocks >= LARGE // 262144
    assert result.bytes >= LARGE
    assert not repo.store.has(garbage.cid)
    assert len(packs(repo.store.root)) == 1, "the garbage's pack is deleted, the kept artefact's stays"
    assert repo.store.verify_file(repo.manifest(repo.resolve("kept")).files["kept/model.bin"]) == LARGE


def test_gc_leaves_a_packed_block_stored_since_it_began(repo: Repo, tmp_path: Path) -> None:
    garbage = repo.store.put_file(large_file(tmp_path / "garbage.bin", seed=7), KUBO_V1_LEGACY)

    result = gc(repo, GcRequest(dry_run=False, started_ns=time.time_ns() - 60_000_000_000))

    assert result.blocks == 0
    assert repo.store.has(garbage.cid)
    assert len(packs(repo.store.root)) == 1


def test_a_failed_publish_takes_back_its_pack(repo: Repo, tmp_path: Path) -> None:
    first = tmp_path / "first"
    first.mkdir()
    (first / "a.bin").write_bytes(vectors.content(1000, seed=8))
    publish(repo, PublishRequest([first], name="w", version="1"))
    before = sorted(repo.store.held())
    second = tmp_path / "second"
    second.mkdir()
    large_file(second / "b.bin", seed=9)

    with pytest.raises(VersionExists):  # refused once b's blocks are stored
        publish(repo, PublishRequest([second], name="w", version="1"))

    assert sorted(repo.store.held()) == before
    assert packs(repo.store.root) == []


def test_a_data_dir_from_before_packs_opens_and_reads_its_loose_blocks(tmp_path: Path) -> None:
    home = tmp_path / "home"
    Repo.init(home).close()
    block = b"a block stored by an older zkreg"
    cid = compute(RAW, block)
    (home / "blocks" / cid[-3:-1]).mkdir(parents=True, exist_ok=True)
    (home / "blocks" / cid[-3:-1] / cid).write_bytes(block)
    conn = sqlite3.connect(home / "index.db")  # the index as it was: no `packed` table, schema version 0
    conn.execute("DROP TABLE packed")
    conn.execute("PRAGMA user_version = 0")
    conn.commit()
    conn.close()

    with Repo.open(home) as repo:
        assert repo.store.get_block(cid) == block
        assert set(repo.store.held()) >= {cid}
        assert repo.index.conn.execute("PRAGMA user_version").fetchone()[0] == 1
        imported = repo.store.put_file(
            large_file(tmp_path / "big.bin"), KUBO_V1_LEGACY
        )  # the migrated index takes packs
        assert repo.store.has(imported.cid)
