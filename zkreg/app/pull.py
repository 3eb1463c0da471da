"""Pull: every file of a manifest, verified, into a folder, with a `use` entry for another author's artefact."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from zkreg.app.publish import safe_relpath
from zkreg.app.repo import Repo
from zkreg.errors import FileExists, NoSpace, SizeMismatch, SymlinkInTarget, ZkregError
from zkreg.fsutil import fsync_folder
from zkreg.progress import SILENT, Progress
from zkreg.registry.manifest import Manifest, decode_and_verify
from zkreg.registry.store import BlockStore, pid_alive

if TYPE_CHECKING:
    from zkreg.registry.ipfs import IpfsStore


@dataclass(frozen=True)
class PullRequest:
    ref: str
    """Manifest CID, `name@version` or `name` (its latest version)."""
    out_dir: Path | None = None
    """Default: `./NAME`."""
    store: str | None = None
    """"local" | "ipfs"; default: see `Repo.node`."""
    request_id: str | None = None
    """The id the `use` entry carries (default: a fresh random one), so the provider's receipt can pair with it."""
    force: bool = False
    """Replace files that already exist in the target."""


@dataclass(frozen=True)
class PulledFile:
    path: str
    cid: str
    size: int


@dataclass(frozen=True)
class PullResult:
    manifest: Manifest
    directory: Path
    files: list[PulledFile]


_STAGING_PREFIX = ".zkreg-pull-"
"""A pull's staging folder in the output folder: `.zkreg-pull-<pid>-<random>`, so a later pull knows a dead one."""


def pull(repo: Repo, request: PullRequest, progress: Progress = SILENT) -> PullResult:
    """Fetch and verify every file of a manifest into `out_dir` (default: `./NAME`).

    Files are assembled in a staging folder inside `out_dir` and moved into place only after all of them
    verified, so a failed pull leaves no partial file behind. Before a byte is written, each file's declared
    size is checked against its DAG and the total against the free disk space. A symlink in a target path under
    `out_dir` is refused, never followed; an existing file is replaced (atomically) only with `force`. With
    `store="ipfs"` a block (or the manifest) missing locally comes from the IPFS node and, once verified, is
    kept in the local store. `request_id` is the id the `use` entry carries (default: a fresh random one), so the
    provider's receipt for it can pair with it.
    """
    node = repo.node(request.store)
    try:
        return _pull(repo, request, progress, node)
    finally:
        repo.store.flush_index()
        if node is not None:
            node.close()


def _pull(repo: Repo, request: PullRequest, progress: Progress, node: IpfsStore | None) -> PullResult:
    force = request.force
    cid = repo.resolve(request.ref)
    manifest = repo.manifest(cid) if node is None else decode_and_verify(cid, node.get_block(cid))
    source: BlockStore = node or repo.store
    targets = {file_name: safe_relpath(file_name) for file_name in manifest.files}
    # Another author's artefact is recorded as a `use`: open the ledger before writing any file.
    ledger = repo.ledger if manifest.author != repo.identity.did else None
    out_dir = request.out_dir or Path(manifest.name)
    # Held blocks are checked up front; from a node, a file's root is checked as it arrives, before its first
    # byte is written (asking the node for roots now would defeat its one-export-per-file fetch).
    for file_name, file_cid in manifest.files.items() if node is None else ():
        declared = repo.store.file_size(file_cid)
        if declared != manifest.sizes[file_name]:
            raise SizeMismatch(
                f"{file_name!r} is declared {manifest.sizes[file_name]} bytes, its DAG {file_cid} holds {declared}",
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_dead_staging(out_dir)
    for target in targets.values():
        _check_target(out_dir, target, force)
    total = sum(manifest.sizes.values())
    free = shutil.disk_usage(out_dir).free
    if total > free:
        raise NoSpace(
            f"{manifest.name}@{manifest.version} needs {total} bytes, {out_dir} has {free} free",
        )
    staging = out_dir / f"{_STAGING_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
    staging.mkdir()
    try:
        staged = {}
        for index, (file_name, file_cid) in enumerate(manifest.files.items()):
            staged[file_name] = staging / str(index)
            source.get_file(file_cid, staged[file_name], manifest.sizes[file_name], progress)
        for file_name, path in staged.items():
            _place(path, out_dir, targets[file_name], force)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    pulled = [PulledFile(n, file_cid, manifest.sizes[n]) for n, file_cid in manifest.files.items()]
    if ledger is not None:
        # The request id pairs this use with the provider's receipt, when it serves one (`zkreg serve`).
        use = {
            "manifest": manifest.cid,
            "provider": manifest.author,
            "request": request.request_id or secrets.token_hex(16),
        }
        ledger.append(repo.identity, "use", use)
    return PullResult(manifest, out_dir, pulled)


def _remove_dead_staging(out_dir: Path) -> None:
    """Staging folders a killed pull left behind (its pid is gone); a running pull's are kept."""
    for folder in out_dir.glob(f"{_STAGING_PREFIX}*"):
        pid = folder.name[len(_STAGING_PREFIX) :].partition("-")[0]
        if pid.isdigit() and not pid_alive(int(pid)) and not folder.is_symlink() and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)


def _refuse_link(out_dir: Path, target: PurePosixPath) -> ZkregError:
    return SymlinkInTarget(
        f"refusing to write {target} under {out_dir}: a symlink or a non-folder is in the way",
        hint="pull into an empty folder (-o)",
    )


def _check_target(out_dir: Path, target: PurePosixPath, force: bool) -> None:
    """Refuse, before anything is fetched, a target under `out_dir` that passes a symlink or would overwrite a
    file without `force`. `_place` checks again without following links, as it writes."""
    current = out_dir
    for part in target.parts[:-1]:
        current = current / part
        if current.is_symlink() or (current.exists() and not current.is_dir()):
            raise _refuse_link(out_dir, target)
    final = out_dir / target
    if final.is_symlink() or (final.exists() and not final.is_file()):
        raise _refuse_link(out_dir, target)
    if final.exists() and not force:
        raise FileExists(f"{final} already exists", hint="pass --force to replace it")


def _place(staged: Path, out_dir: Path, target: PurePosixPath, force: bool) -> None:
    """Move a verified file to `out_dir/target`, walking the folders by file descriptor with O_NOFOLLOW so that a
    link swapped in meanwhile is refused, not followed. Without `force`, a hard link that fails if the name exists
    (no overwrite, ever); with it, an atomic rename over the old file."""
    folder = os.open(out_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in target.parts[:-1]:
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, dir_fd=folder)
            try:
                inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=folder)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise _refuse_link(out_dir, target) from exc
                raise
            os.close(folder)
            folder = inner
        name = target.parts[-1]
        try:
            existing = os.stat(name, dir_fd=folder, follow_symlinks=False)
        except FileNotFoundError:
            existing = None
        if existing is not None and not stat.S_ISREG(existing.st_mode):
            raise _refuse_link(out_dir, target)
        if force:
            os.replace(staged, name, dst_dir_fd=folder)
        else:
            try:
                os.link(staged, name, dst_dir_fd=folder, follow_symlinks=False)
            except FileExistsError as exc:
                raise FileExists(f"{out_dir / target} already exists", hint="pass --force to replace it") from exc
            staged.unlink()
        fsync_folder(folder)  # `staged` was written by `atomic_write`, its bytes are on disk already
    finally:
        os.close(folder)
