"""Blockstores: where blocks live. Files go in and come out through UnixFS, verified block by block.

`BlockStore` is the interface every backend implements (the local store here, an IPFS node elsewhere): three block
primitives, with file import and verified export built on them. Nothing is trusted on the way out: each block is
re-hashed against its CID, and a file lands under its final name only once every byte of it has verified.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from zkreg.errors import BlockNotFound, MalformedObject, SizeMismatch
from zkreg.fsutil import atomic_write, fsync_folder
from zkreg.progress import SILENT, Progress
from zkreg.registry.cid import DAG_PB, RAW, check_block, cid_from_binary, cid_from_str, looks_like_cid
from zkreg.registry.dag import walk
from zkreg.registry.index import Index
from zkreg.registry.unixfs import CidProfile, ImportedFile, PutBlock, decode_file_node, import_path

_MAX_DEPTH = 16  # far beyond any real file (174^16 chunks); stops a hostile self-referencing DAG early


class BlockStore(ABC):
    @abstractmethod
    def put_block(self, cid: str, data: bytes) -> None: ...

    @abstractmethod
    def get_block(self, cid: str) -> bytes:
        """The block's bytes, already checked against `cid`."""

    @abstractmethod
    def has(self, cid: str) -> bool: ...

    def put_file(self, path: Path, profile: CidProfile, progress: Progress = SILENT) -> ImportedFile:
        progress.begin(f"hashing {path.name}", path.stat().st_size)
        try:
            return import_path(path, self.put_block, profile, progress.advance)
        finally:
            progress.end()

    def iter_file(self, cid: str, size: int | None = None) -> Iterator[bytes]:
        """The file's bytes in order, each block verified before it is yielded; `size` is checked if given."""
        yield from self._walk(cid, size, 0)

    def _walk(self, cid: str, expected_size: int | None, depth: int) -> Iterator[bytes]:
        if depth > _MAX_DEPTH:
            raise MalformedObject(f"file DAG under {cid} is deeper than {_MAX_DEPTH} levels")
        block = self.get_block(cid)
        codec = cid_from_str(cid)[1]
        if codec == RAW:
            size = len(block)
            chunks: Iterator[bytes] = iter((block,))
        elif codec == DAG_PB:
            node = decode_file_node(block)
            size = node.filesize
            chunks = (
                iter((node.data,))
                if not node.links
                else (  # a dag-pb leaf carries its bytes
                    chunk
                    for link, blocksize in zip(node.links, node.blocksizes, strict=True)
                    for chunk in self._walk(cid_from_binary(link.cid), blocksize, depth + 1)
                )
            )
        else:
            raise MalformedObject(f"{cid} is not a file (codec 0x{codec:x})")
        if expected_size is not None and size != expected_size:
            raise MalformedObject(f"block {cid} holds {size} bytes, its parent says {expected_size}")
        yield from chunks

    def file_size(self, cid: str) -> int:
        """The size a file's DAG declares at its root (a raw leaf: its length), read without walking the DAG."""
        block = self.get_block(cid)
        codec = cid_from_str(cid)[1]
        if codec == RAW:
            return len(block)
        if codec == DAG_PB:
            return decode_file_node(block).filesize
        raise MalformedObject(f"{cid} is not a file (codec 0x{codec:x})")

    def get_file(self, cid: str, dest: Path, size: int | None = None, progress: Progress = SILENT) -> None:
        """Write the file to `dest` via a temporary file in the same folder, renamed only once all of it verified.
        With `size`, writing stops as soon as the bytes would run past it."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        progress.begin(f"fetching {dest.name}", size)

        def checked() -> Iterator[bytes]:
            written = 0
            for chunk in self.iter_file(cid, size):
                written += len(chunk)
                if size is not None and written > size:
                    raise SizeMismatch(
                        f"file {cid} holds more than the {size} bytes declared for it",
                    )
                yield chunk
                progress.advance(len(chunk))

        try:
            atomic_write(dest, checked())
        finally:
            progress.end()

    def verify_file(
        self, cid: str, size: int | None = None, progress: Progress = SILENT, digest: hashlib._Hash | None = None
    ) -> int:
        """Re-hash every block of a file; the number of bytes it holds. `digest` is fed the file's bytes (a
        verification summary names files by their sha256)."""
        total = 0
        progress.begin(f"verifying {cid[:16]}…", size)
        try:
            for chunk in self.iter_file(cid, size):
                total += len(chunk)
                if digest is not None:
                    digest.update(chunk)
                progress.advance(len(chunk))
        finally:
            progress.end()
        return total


@dataclass
class BlockRecord:
    """The blocks one workflow put into the local store (see `LocalStore.recording`)."""

    added: set[str] = field(default_factory=set)
    """Written by this workflow: they were not in the store before."""
    put: set[str] = field(default_factory=set)
    """Every block it put, new or already held: what its manifest will rely on."""


_PACKS_BEING_WRITTEN: set[str] = set()
"""The packs this process is filling (any store, any thread): their rows are not committed yet."""

PACK_THRESHOLD = 16 * 1024 * 1024
"""Files at least this large have their blocks packed: below it the block files cost little, and stay easy to
inspect one by one."""


class _PackWriter:
    """One pack file being written by this process: blocks appended, indexed only once the file is durable."""

    def __init__(self, folder: Path) -> None:
        self.name = f"{secrets.token_hex(8)}.{os.getpid()}.pack"  # the pid says whether its writer still runs
        self.path = folder / self.name
        self.file = self.path.open("xb")
        self.offset = 0
        self.rows: dict[str, tuple[int, int]] = {}
        """CID -> (offset, size) of each block appended."""

    def append(self, cid: str, data: bytes) -> None:
        self.file.write(data)
        self.rows[cid] = (self.offset, len(data))
        self.offset += len(data)


class LocalStore(BlockStore):
    """Blocks in two layouts, read alike: loose files under `root/<next-to-last two chars of the CID>/<CID>`
    (flatfs-style sharding) for single blocks and small files, and pack files under `packs` (default: a `packs`
    folder next to `root`) for the blocks of large files, pulls and CAR imports, where a file per 256 KiB block
    cost more than the bytes (see docs/design.md, Stores).

    A loose block is written to a temporary file and renamed into place, so a block under its final name is whole.
    A pack is appended to, fsynced, and only then are its blocks' rows committed to the index (`packed`), in one
    transaction: a row always points at durable bytes, and a pack a killed writer left has no rows and is removed.
    The index's `blocks` table (sizes, for listing) is updated in one transaction per imported file.
    """

    def __init__(self, root: Path, index: Index, packs: Path | None = None) -> None:
        self.root = root
        self.index = index
        self.packs = packs or root.parent / "packs"
        self._tmp = root / ".tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)
        self.packs.mkdir(exist_ok=True)
        self._unindexed: list[tuple[str, int]] = []
        self._touched: list[str] = []
        self._record: BlockRecord | None = None

    def _path(self, cid: str) -> Path:
        return self.root / cid[-3:-1] / cid

    def has(self, cid: str) -> bool:
        return self._path(cid).exists() or self.index.packed_location(cid) is not None

    def put_block(self, cid: str, data: bytes) -> None:
        self._put(cid, data, None)

    def _put(self, cid: str, data: bytes, pack: _PackWriter | None) -> None:
        path = self._path(cid)
        added = False
        if pack is not None and cid in pack.rows:
            pass
        elif pack is not None and not path.exists():
            if self.index.packed_location(cid) is None:
                pack.append(cid, data)
                added = True
            else:
                self._touched.append(cid)
        elif pack is None and self.index.packed_location(cid) is not None:
            self._touched.append(cid)
        else:
            try:
                os.utime(path)  # a block stored again is new to `gc`, which leaves blocks touched since it began
            except FileNotFoundError:
                path.parent.mkdir(exist_ok=True)
                atomic_write(path, data, durable=False, tmp_folder=self._tmp)
                added = True
        if self._record is not None:
            if added:
                self._record.added.add(cid)
            self._record.put.add(cid)
        self._unindexed.append((cid, len(data)))

    @contextlib.contextmanager
    def packing(self) -> Iterator[PutBlock]:
        """A `put_block` that appends new blocks to one new pack file. When the block ends (also by an error: what
        was appended verified, and a resumed pull wants it) the pack is fsynced and its blocks indexed."""
        pack = _PackWriter(self.packs)
        _PACKS_BEING_WRITTEN.add(pack.name)
        try:
            yield lambda cid, data: self._put(cid, data, pack)
        finally:
            try:
                self._seal(pack)
            finally:
                _PACKS_BEING_WRITTEN.discard(pack.name)

    def _seal(self, pack: _PackWriter) -> None:
        with pack.file:
            pack.file.flush()
            os.fsync(pack.file.fileno())
        if not pack.rows:
            pack.path.unlink()
            return
        fsync_folder(self.packs)
        rows = [(cid, pack.name, offset, size) for cid, (offset, size) in pack.rows.items()]
        with self.index.transaction() as index:
            index.add_packed(rows, time.time_ns())
        self.flush_index()

    def held(self) -> Iterator[str]:
        """The CID of every block in the store, loose or packed (whether or not the `blocks` table lists it yet)."""
        for shard in self.root.iterdir():
            if shard.is_dir() and shard != self._tmp:
                yield from (entry.name for entry in shard.iterdir() if looks_like_cid(entry.name))
        yield from self.index.packed_cids()

    def size_of(self, cid: str) -> tuple[int, int] | None:
        """(size, time stored or stored again, in ns) of a held block; None if it is not held."""
        try:
            status = self._path(cid).stat()
        except FileNotFoundError:
            packed = self.index.packed_location(cid)
            return None if packed is None else (packed.size, packed.touched_ns)
        return status.st_size, status.st_mtime_ns

    def remove_untouched(self, cid: str, before_ns: int) -> int | None:
        """Delete a block unless it was written or stored again at `before_ns` or later; its size if deleted.
        The caller holds the index transaction (a packed block is its row; its pack goes in `reclaim_packs`).

        A loose file is first renamed away, then its time is read: a writer that stores the block again either
        touched it before the rename (it is seen and put back) or finds it gone and writes it anew.
        """
        away = self._tmp / f"{cid}.{os.getpid()}.{secrets.token_hex(4)}.gc"
        try:
            os.rename(self._path(cid), away)
        except FileNotFoundError:
            return self.index.remove_packed_untouched(cid, before_ns)
        status = away.stat()
        if status.st_mtime_ns >= before_ns:
            os.replace(away, self._path(cid))
            return None
        away.unlink()
        return status.st_size

    def reclaim_packs(self) -> int:
        """Delete the pack files no index row names any more (after a `gc` or a failed workflow committed), except
        those a running writer is still filling; the bytes freed."""
        in_use = self.index.packs_in_use()
        freed = 0
        for pack in self.packs.glob("*.pack"):
            if pack.name in in_use or pack.name in _PACKS_BEING_WRITTEN or _writer_running(pack.name):
                continue
            with contextlib.suppress(FileNotFoundError):
                size = pack.stat().st_size
                pack.unlink()
                freed += size
        return freed

    @contextlib.contextmanager
    def recording(self) -> Iterator[BlockRecord]:
        """Note the blocks put while the block runs, so a workflow that fails can take back what it added."""
        record = BlockRecord()
        self._record = record
        try:
            yield record
        finally:
            self._record = None

    def reachable(self, roots: Iterable[str]) -> set[str]:
        """Every CID linked from `roots` (manifests, directories, file nodes), held or not. Raw leaves have no links,
        so they are never read: the walk costs the manifests and dag-pb nodes only."""
        missing: set[str] = set()
        return set(walk(self.get_block, roots, held=self.has, on_missing=missing.add)) | missing

    def remove_blocks(self, cids: Iterable[str]) -> None:
        """Delete blocks and their index rows; the caller holds the index transaction and knows nothing reaches them.
        Packs left without rows go in `reclaim_packs`, once that transaction has committed."""
        doomed = set(cids)
        for cid in doomed:
            self._path(cid).unlink(missing_ok=True)
        self._unindexed = [(cid, size) for cid, size in self._unindexed if cid not in doomed]
        self.index.remove_blocks(doomed)

    def get_block(self, cid: str) -> bytes:
        try:
            data = self._path(cid).read_bytes()
        except FileNotFoundError:
            data = self._read_packed(cid)
        check_block(cid, data)
        return data

    def _read_packed(self, cid: str) -> bytes:
        packed = self.index.packed_location(cid)
        if packed is None:
            raise BlockNotFound(f"block {cid} is not in the local store")
        try:
            fd = os.open(self.packs / packed.pack, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError as exc:
            raise BlockNotFound(f"block {cid} is not in the local store (its pack {packed.pack} is gone)") from exc
        try:
            return os.pread(fd, packed.size, packed.offset)
        finally:
            os.close(fd)

    def flush_index(self) -> None:
        """Record the blocks written and stored again since the last flush, in one transaction."""
        if not self._unindexed and not self._touched:
            return
        rows, self._unindexed = self._unindexed, []
        touched, self._touched = self._touched, []
        with self.index.transaction() as index:
            index.add_blocks(rows)
            index.touch_packed(touched, time.time_ns())

    def put_file(self, path: Path, profile: CidProfile, progress: Progress = SILENT) -> ImportedFile:
        size = path.stat().st_size
        if size < PACK_THRESHOLD:
            imported = super().put_file(path, profile, progress)
        else:
            progress.begin(f"hashing {path.name}", size)
            try:
                with self.packing() as put:
                    imported = import_path(path, put, profile, progress.advance)
            finally:
                progress.end()
        self.flush_index()
        return imported

    def remove_stale_temporaries(self) -> None:
        """Temporary block files and packs left by a killed process (its pid is gone); a live writer's are kept."""
        for tmp in self._tmp.iterdir():
            parts = tmp.name.lstrip(".").split(".")  # {cid}.{pid}.…, after `atomic_write`'s leading dot
            pid = parts[1] if len(parts) >= 3 else ""
            if pid.isdigit() and not pid_alive(int(pid)):
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
        self.reclaim_packs()


def _writer_running(pack_name: str) -> bool:
    """Whether the process that named the pack `{random}.{pid}.pack` still runs (and may still be filling it)."""
    pid = pack_name.split(".")[1]
    return pid.isdigit() and int(pid) != os.getpid() and pid_alive(int(pid))


def pid_alive(pid: int) -> bool:
    """Whether a process still runs: its temporaries are in use and must not be cleaned up."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
