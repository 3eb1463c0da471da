"""`zkreg cid`: the CIDs files and folders get under a CID profile, computed without storing anything (as
`ipfs add --only-hash`), with the same importer and directory builder as `publish`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from zkreg.app.publish import choose_profile, collect_files, directory_tree
from zkreg.app.repo import Repo
from zkreg.progress import SILENT, Progress
from zkreg.registry.cid import as_version
from zkreg.registry.unixfs import CidProfile, ImportedFile, import_path


@dataclass(frozen=True)
class CidRequest:
    paths: Sequence[Path]
    cid_profile: str | None = None
    """Default: `cid_profile` in config.toml, then unixfs-v1-2025."""


@dataclass(frozen=True)
class PathCid:
    path: str
    cid: str
    """As the profile writes it (`Qm...` under unixfs-v0-2015)."""
    size: int
    """Bytes of file content under the path."""
    kind: str
    """"file" | "directory"."""


@dataclass(frozen=True)
class CidResult:
    profile: str
    entries: list[PathCid]


def _discard(cid: str, block: bytes) -> None:
    """Blocks of an only-hash import go nowhere."""


def compute_cids(repo: Repo, request: CidRequest, progress: Progress = SILENT) -> CidResult:
    """The CID of each path: a file's as `ipfs add` makes it, a folder's as `ipfs add -r --hidden` makes it (the
    files below it, hidden ones included; empty folders are left out, as publish leaves them out)."""
    profile = choose_profile(repo, request.cid_profile)
    entries = []
    for path in request.paths:
        files = collect_files([path])
        imported = {name: _hash(file, profile, progress) for name, file in files.items()}
        size = sum(f.size for f in imported.values())
        if path.is_dir():
            prefix = len(next(iter(files)).partition("/")[0]) + 1
            inner = {name[prefix:]: (f.cid, f.tsize) for name, f in imported.items()}
            cid, kind = directory_tree(inner, profile, _discard)[0], "directory"
        else:
            cid, kind = next(iter(imported.values())).cid, "file"
        entries.append(PathCid(str(path), as_version(cid, profile.cid_version), size, kind))
    return CidResult(profile.name, entries)


def _hash(path: Path, profile: CidProfile, progress: Progress) -> ImportedFile:
    progress.begin(f"hashing {path.name}", path.stat().st_size)
    try:
        return import_path(path, _discard, profile, progress.advance)
    finally:
        progress.end()
