"""Blockstores: where blocks live. Files go in and come out through UnixFS, verified block by block.

`BlockStore` is the interface every backend implements (the local store here, an IPFS node elsewhere): three block
primitives, with file import and verified export built on them. Nothing is trusted on the way out: each block is
re-hashed against its CID, and a file lands under its final name only once every byte of it has verified.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from zkreg.errors import BlockNotFound, MalformedObject, SizeMismatch
from zkreg.fsutil import atomic_write
from zkreg.progress import SILENT, Progress
from zkreg.registry.cid import DAG_PB, RAW, check_block, cid_from_binary, cid_from_str, looks_like_cid
from zkreg.registry.dag import walk
from zkreg.registry.index import Index
from zkreg.registry.unixfs import CidProfile, ImportedFile, decode_file_node, import_path

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

    def verify_file(self, cid: str, size: int | None = None, progress: Progress = SILENT) -> int:
        """Re-hash every block of a file; the number of bytes it holds."""
        total = 0
        progress.begin(f"verifying {cid[:16]}…", size)
        try:
            for chunk in self.iter_file(cid, size):
                total += len(chunk)
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


class LocalStore(BlockStore):
    """Blocks as files under `root/<next-to-last two chars of the CID>/<CID>` (flatfs-style sharding).

    A block is written to a temporary file and renamed into place, so a block under its final name is whole;
    the SQLite index (sizes, for listing) is updated in one transaction per imported file.
    """

    def __init__(self, root: Path, index: Index) -> None:
        self.root = root
        self.index = index
        self._tmp = root / ".tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)
        self._unindexed: list[tuple[str, int]] = []
        self._record: BlockRecord | None = None

    def _path(self, cid: str) -> Path:
        return self.root / cid[-3:-1] / cid

    def has(self, cid: str) -> bool:
        return self._path(cid).exists()

    def put_block(self, cid: str, data: bytes) -> None:
        path = self._path(cid)
        try:
            os.utime(path)  # a block stored again is new to `gc`, which leaves blocks touched since it began
        except FileNotFoundError:
            path.parent.mkdir(exist_ok=True)
            atomic_write(path, data, durable=False, tmp_folder=self._tmp)
            if self._record is not None:
                self._record.added.add(cid)
        if self._record is not None:
            self._record.put.add(cid)
        self._unindexed.append((cid, len(data)))

    def held(self) -> Iterator[str]:
        """The CID of every block file in the store (whether or not the index lists it yet)."""
        for shard in self.root.iterdir():
            if shard.is_dir() and shard != self._tmp:
                yield from (entry.name for entry in shard.iterdir() if looks_like_cid(entry.name))

    def size_of(self, cid: str) -> tuple[int, int] | None:
        """(size, modification time in ns) of a held block; None if it is not held."""
        try:
            status = self._path(cid).stat()
        except FileNotFoundError:
            return None
        return status.st_size, status.st_mtime_ns

    def remove_untouched(self, cid: str, before_ns: int) -> int | None:
        """Delete a block unless it was written or stored again at `before_ns` or later; its size if deleted.

        The file is first renamed away, then its time is read: a writer that stores the block again either
        touched it before the rename (it is seen and put back) or finds it gone and writes it anew.
        """
        away = self._tmp / f"{cid}.{os.getpid()}.{secrets.token_hex(4)}.gc"
        try:
            os.rename(self._path(cid), away)
        except FileNotFoundError:
            return None
        status = away.stat()
        if status.st_mtime_ns >= before_ns:
            os.replace(away, self._path(cid))
            return None
        away.unlink()
        return status.st_size

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
        """Delete blocks and their index rows; the caller holds the index transaction and knows nothing reaches them."""
        doomed = set(cids)
        for cid in doomed:
            self._path(cid).unlink(missing_ok=True)
        self._unindexed = [(cid, size) for cid, size in self._unindexed if cid not in doomed]
        self.index.remove_blocks(doomed)

    def get_block(self, cid: str) -> bytes:
        try:
            data = self._path(cid).read_bytes()
        except FileNotFoundError as exc:
            raise BlockNotFound(f"block {cid} is not in the local store") from exc
        check_block(cid, data)
        return data

    def flush_index(self) -> None:
        """Record the blocks written since the last flush, in one transaction."""
        if not self._unindexed:
            return
        rows, self._unindexed = self._unindexed, []
        with self.index.transaction() as index:
            index.add_blocks(rows)

    def put_file(self, path: Path, profile: CidProfile, progress: Progress = SILENT) -> ImportedFile:
        imported = super().put_file(path, profile, progress)
        self.flush_index()
        return imported

    def remove_stale_temporaries(self) -> None:
        """Temporary block files left by a killed process (its pid is gone); a live writer's are kept."""
        for tmp in self._tmp.iterdir():
            parts = tmp.name.lstrip(".").split(".")  # {cid}.{pid}.…, after `atomic_write`'s leading dot
            pid = parts[1] if len(parts) >= 3 else ""
            if pid.isdigit() and not pid_alive(int(pid)):
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()


def pid_alive(pid: int) -> bool:
    """Whether a process still runs: its temporaries are in use and must not be cleaned up."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
