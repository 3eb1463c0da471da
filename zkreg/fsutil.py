"""Atomic file writes: the one sequence every file zkreg writes goes through.

Write a temporary file in the destination's folder (or a given folder on the same file system), fsync it, rename it
over the destination (or, with `exclusive`, hard-link it to a name that must not exist yet), then fsync the folder,
so that after a crash the path holds either the old file or the whole new one, never a partial one.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from pathlib import Path


def fsync_folder(folder: Path | int) -> None:
    """Make a rename or link in `folder` (a path, or an open folder descriptor) durable."""
    if isinstance(folder, int):
        os.fsync(folder)
        return
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(
    path: Path,
    data: bytes | Iterable[bytes],
    *,
    exclusive: bool = False,
    mode: int = 0o644,
    durable: bool = True,
    tmp_folder: Path | None = None,
) -> None:
    """Put `data` (bytes, or pieces written as they come: a generator that raises leaves nothing behind) at
    `path` atomically. `exclusive` refuses (FileExistsError) to replace a file that exists, even one that appears
    meanwhile. `durable=False` leaves out both fsyncs, for content-addressed blocks, whose loss a re-check finds."""
    folder = path.parent
    tmp = (tmp_folder or folder) / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        with os.fdopen(fd, "wb") as out:
            if isinstance(data, bytes | bytearray | memoryview):
                out.write(data)
            else:
                for piece in data:
                    out.write(piece)
            if durable:
                out.flush()
                os.fsync(out.fileno())
        if exclusive:
            os.link(tmp, path)
        else:
            os.replace(tmp, path)
        if durable:
            fsync_folder(folder)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_replace(written: Path, path: Path) -> None:
    """Move a file another program wrote (`written`, in `path`'s folder) to `path` by the same durable steps."""
    fd = os.open(written, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(written, path)
    fsync_folder(path.parent)
