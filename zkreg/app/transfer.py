"""Transfer: artefacts as CAR files (`export_car`, `import_car`) and ledger feeds as feed files (`export_feeds`,
`import_feeds`), the offline ways to hand them over."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from zkreg.app.publish import take_back
from zkreg.app.repo import Repo
from zkreg.errors import VersionExists
from zkreg.fsutil import atomic_write
from zkreg.progress import SILENT, Progress
from zkreg.registry.car import car_stream, scan_car, walk_dag
from zkreg.registry.cid import DAG_CBOR, codec_of
from zkreg.registry.index import Ref
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
    blocks = [0]

    def counted() -> Iterator[tuple[str, bytes]]:
        for cid_and_block in walk_dag(repo.store.get_block, [cid]):
            blocks[0] += 1
            yield cid_and_block

    atomic_write(out, car_stream([cid], counted()))
    return blocks[0]


def import_car(repo: Repo, request: ImportCarRequest) -> CarImport:
    """Verify a whole CAR (every block, every link present, manifest signatures) and record each manifest
    root's `name@version`. The file is read once, so a pipe works (`zkreg import <(cat x.car)`): blocks are
    stored as they verify, and if the CAR fails, the ones this import added that nothing reaches are removed."""
    with repo.store.recording() as record:
        try:
            with request.path.open("rb") as stream, repo.store.packing() as put:
                summary = scan_car(stream, on_block=put)
            manifests = [
                decode_and_verify(root, summary.root_blocks[root])
                for root in summary.roots
                if codec_of(root) == DAG_CBOR
            ]
            for manifest in manifests:
                _check_ref_free(repo, manifest)
            repo.store.flush_index()
            with repo.index.transaction() as index:
                for manifest in manifests:
                    index.add_ref(
                        Ref(
                            manifest.name,
                            manifest.version,
                            manifest.cid,
                            manifest.author,
                            manifest.kind,
                            manifest.created,
                        ),
                        keep_existing=True,
                    )
        except BaseException:
            take_back(repo, record)
            raise
    refs = [f"{manifest.name}@{manifest.version}" for manifest in manifests]
    return CarImport(summary.roots, summary.blocks, summary.size, refs)


def _check_ref_free(repo: Repo, manifest: Manifest) -> None:
    held = repo.index.ref_cid(manifest.name, manifest.version)
    if held is not None and held != manifest.cid:
        raise VersionExists(
            f"{manifest.name}@{manifest.version} is already {held} here, not {manifest.cid}",
        )


def export_feeds(repo: Repo, request: ExportFeedsRequest) -> ExportResult:
    """Write feeds and their equivocation evidence to a feed file (CARv1) another peer can import."""
    return export_feed_car(repo.ledger, request.path, request.author)


def import_feeds(repo: Repo, request: ImportFeedsRequest, progress: Progress = SILENT) -> ImportReport:
    """Import a feed file: only valid extensions are applied (see `zkreg.reputation.sync.pull`)."""
    return pull_feeds(repo.ledger, CarFileTransport(request.path), progress)
