"""Transfer: artefacts as CAR files (`export_car`, `import_car`) and ledger feeds as feed files (`export_feeds`,
`import_feeds`), the offline ways to hand them over."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from zkreg.app.publish import take_back
from zkreg.app.repo import Repo
from zkreg.errors import InvalidInput
from zkreg.progress import SILENT, Progress
from zkreg.registry.car import scan_car, walk_dag, write_car
from zkreg.registry.cid import DAG_CBOR, codec_of
from zkreg.registry.index import transaction
from zkreg.registry.manifest import Manifest, decode_and_verify
from zkreg.reputation.ledger import ImportReport
from zkreg.reputation.sync import CarFileTransport, ExportResult
from zkreg.reputation.sync import export_car as export_feed_car
from zkreg.reputation.sync import pull as pull_feeds


@dataclass(frozen=True)
class ExportCarRequest:
    ref: str
    """Manifest CID, `name@version` or `name` (latest)."""
    out: Path
    """The CAR file to write."""


@dataclass(frozen=True)
class ImportCarRequest:
    path: Path
    """A CARv1 file (from `zkreg export` or `ipfs dag export`); a pipe works."""


@dataclass(frozen=True)
class CarImport:
    roots: list[str]
    blocks: int
    bytes: int
    refs: list[str]
    """`name@version` of each manifest root, now known locally."""


@dataclass(frozen=True)
class ExportFeedsRequest:
    path: Path
    author: str | None = None
    """Only this identity's feed (did:key); default: every feed held."""


@dataclass(frozen=True)
class ImportFeedsRequest:
    path: Path


def export_car(repo: Repo, request: ExportCarRequest) -> int:
    """Write the manifest and every block it reaches (files, tree, history, dataset) as a CARv1 file; the
    number of blocks. Written to a temporary file and renamed, so `out` is never a partial CAR."""
    out = request.out
    cid = repo.manifest(repo.resolve(request.ref)).cid
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.incomplete")
    try:
        with tmp.open("wb") as stream:
            count = write_car(stream, [cid], walk_dag(repo.store.get_block, [cid]))
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return count


def import_car(repo: Repo, request: ImportCarRequest) -> CarImport:
    """Verify a whole CAR (every block, every link present, manifest signatures) and record each manifest
    root's `name@version`. The file is read once, so a pipe works (`zkreg import <(cat x.car)`): blocks are
    stored as they verify, and if the CAR fails, the ones this import added that nothing reaches are removed."""
    with repo.store.recording() as record:
        try:
            with request.path.open("rb") as stream:
                summary = scan_car(stream, on_block=repo.store.put_block)
            manifests = [
                decode_and_verify(root, summary.root_blocks[root])
                for root in summary.roots
                if codec_of(root) == DAG_CBOR
            ]
            for manifest in manifests:
                _check_ref_free(repo, manifest)
            repo.store.flush_index()
            with transaction(repo.index) as conn:
                for manifest in manifests:
                    conn.execute(
                        "INSERT OR IGNORE INTO refs (name, version, cid, author, kind, created) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (
                            manifest.name,
                            manifest.version,
                            manifest.cid,
                            manifest.author,
                            manifest.kind,
                            manifest.created,
                        ),
                    )
        except BaseException:
            take_back(repo, record)
            raise
    refs = [f"{manifest.name}@{manifest.version}" for manifest in manifests]
    return CarImport(summary.roots, summary.blocks, summary.size, refs)


def _check_ref_free(repo: Repo, manifest: Manifest) -> None:
    row = repo.index.execute(
        "SELECT cid FROM refs WHERE name = ? AND version = ?", (manifest.name, manifest.version)
    ).fetchone()
    if row is not None and row["cid"] != manifest.cid:
        raise InvalidInput(
            f"{manifest.name}@{manifest.version} is already {row['cid']} here, not {manifest.cid}",
            code="input/version-exists",
        )


def export_feeds(repo: Repo, request: ExportFeedsRequest) -> ExportResult:
    """Write feeds and their equivocation evidence to a feed file (CARv1) another peer can import."""
    return export_feed_car(repo.ledger, request.path, request.author)


def import_feeds(repo: Repo, request: ImportFeedsRequest, progress: Progress = SILENT) -> ImportReport:
    """Import a feed file: only valid extensions are applied (see `zkreg.reputation.sync.pull`)."""
    return pull_feeds(repo.ledger, CarFileTransport(request.path), progress)
