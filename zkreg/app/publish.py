"""Publish: files into the store as a new signed version of a name, with its `publish` entry in the ledger."""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import stat
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from zkreg.app.evaluate import PRIVATE_ROWS, VerifyEvaluationRequest, table_file, verify_evaluation
from zkreg.app.repo import Repo
from zkreg.config import load_config
from zkreg.errors import (
    BadKind,
    BadMetricsProof,
    BadName,
    BadVersion,
    BadWeights,
    DuplicatePath,
    NotADataset,
    NotAFile,
    NotAModel,
    NothingToPublish,
    PathNotFound,
    StoreBusy,
    SymlinkRefused,
    UnsafePath,
    VersionExists,
    ZkOneModel,
    ZkregError,
)
from zkreg.progress import SILENT, Progress
from zkreg.registry.car import walk_dag
from zkreg.registry.cid import DAG_CBOR, codec_of
from zkreg.registry.dag import links_of
from zkreg.registry.index import Ref
from zkreg.registry.manifest import build_and_sign, decode_and_verify
from zkreg.registry.statcache import Hashed, StatCache, open_stat_cache, record_quietly
from zkreg.registry.store import BlockRecord, BlockStore, LocalStore
from zkreg.registry.unixfs import (
    DEFAULT_PROFILE,
    CidProfile,
    ImportedFile,
    PutBlock,
    file_cid,
    profile_named,
    put_directory,
)
from zkreg.schemas import load as load_schema
from zkreg.zk.evaluation import DEFAULT_BATCH, Evaluation
from zkreg.zk.rows import DATA_SCALE, SALT_COLUMNS, CommittedRows, commit, commitment_bytes, save_private
from zkreg.zk.rows import SCHEME as ROWS_SCHEME
from zkreg.zk.table import load_table
from zkreg.zk.workflow import ZkPublication, zk_section

if TYPE_CHECKING:
    from zkreg.registry.ipfs import IpfsStore

KINDS = ("model", "dataset")
WEIGHTS = ("public", "private")


@dataclass(frozen=True)
class PublishRequest:
    """What `zkreg publish` passes: the files, the name and every option of the manifest and of where it goes."""

    paths: Sequence[Path]
    name: str
    version: str | None = None
    """Default: the next integer."""
    kind: str | None = None
    """"model" | "dataset"; default: model if an .onnx file is published."""
    dataset: str | None = None
    """Ref of the dataset a model was trained on."""
    weights: str = "public"
    message: str | None = None
    store: str | None = None
    """"local" | "ipfs"; default: see `Repo.node`."""
    pin: bool = True
    zk: str | None = None
    """"fixed" | "hashed": set up zk proofs (default "fixed" if the weights are private)."""
    calibration: Path | None = None
    zk_target: str | None = None
    """ezkl's calibration target, "resources" (default: the smallest circuit) | "accuracy" (scales that fit the
    float model best); docs/zk.md gives the size and prediction drift each costs."""
    srs: Path | None = None
    price: int | None = None
    """Credits per proof `zkreg serve` asks for the model (default 1)."""
    private: bool = False
    """A dataset: publish only its row commitment (count, column schema, one blinded hash per row), no row."""
    label: str | None = None
    """A dataset's label column (CSV; default the last). Implies `commit_rows`."""
    commit_rows: bool = False
    """A public dataset: also publish its row commitment, so models can be evaluated on it."""
    eval_batch: int | None = None
    """A zk model with a `dataset` that has rows: rows per evaluation proof (default `DEFAULT_BATCH`)."""
    metrics_proof: Path | None = None
    """An evaluation bundle (`zkreg eval`) of these weights: recorded as the model's proven accuracy."""
    cid_profile: str | None = None
    """The IPIP-499 CID profile of the files and tree; default: the latest version's (a re-publish is stable),
    then `cid_profile` in config.toml, then unixfs-v1-2025."""


@dataclass(frozen=True)
class PublishResult:
    cid: str
    name: str
    version: str
    created: bool
    """False when identical content was already the latest version: nothing new was written."""
    zk_estimate: str | None = None
    """For a model published with zk artefacts: the setup's measured-cost estimate (logrows, time, memory)."""
    zk_srs: str | None = None
    """For a model published with zk artefacts: "ceremony", or "dev" (insecure: its maker can forge proofs)."""


def safe_relpath(path: str) -> PurePosixPath:
    """A manifest path that stays inside the folder it is written to; anything else is refused."""
    pure = PurePosixPath(path)
    if (
        not path
        or pure.is_absolute()
        or "\\" in path
        or "\x00" in path
        or any(part in ("", ".", "..") for part in path.split("/"))
    ):
        raise UnsafePath(f"unsafe path in manifest: {path!r}")
    return pure


def publish(repo: Repo, request: PublishRequest, progress: Progress = SILENT) -> PublishResult:
    """Publish files as a new version of `request.name`.

    With `store="ipfs"` every block also goes to the IPFS node (and the manifest's DAG is pinned there if
    `pin`); the ref is recorded only once the node holds all of it. A model with `weights="private"` or a `zk`
    mode ("fixed" | "hashed") also runs the zk pipeline once (settings, setup, commitment): with private
    weights its ONNX file is not published, and the circuit and proving key stay in this data dir's private
    cache. `price` is the credits per proof `zkreg serve` asks for the model (default 1).
    """
    _check_name(request.name, request.version)
    node = repo.node(request.store)
    try:
        with repo.store.recording() as record:
            try:
                with tempfile.TemporaryDirectory(prefix="zkreg-publish-") as scratch:
                    return _publish(repo, request, progress, node, record, Path(scratch))
            except BaseException:  # an error or Ctrl-C: what this publish added and nothing reaches goes
                take_back(repo, record)
                raise
    finally:
        if node is not None:
            node.close()


def take_back(repo: Repo, record: BlockRecord) -> None:
    """Remove the blocks a failed workflow added that no recorded manifest reaches, in one index transaction
    (so a concurrent publish that reuses one of them either committed first, and keeps it, or finds it gone
    at its own commit and fails cleanly). A failure here only leaves garbage for `zkreg gc`."""
    if not record.added:
        return
    with contextlib.suppress(ZkregError, OSError, sqlite3.Error):
        with repo.index.transaction() as index:
            repo.store.remove_blocks(record.added - repo.store.reachable(index.ref_cids()))
        repo.store.reclaim_packs()


def _publish(
    repo: Repo,
    request: PublishRequest,
    progress: Progress,
    node: IpfsStore | None,
    record: BlockRecord,
    scratch: Path,
) -> PublishResult:
    name, version, weights, zk = request.name, request.version, request.weights, request.zk
    files = collect_files(list(request.paths))
    kind = request.kind or ("model" if any(n.endswith(".onnx") for n in files) else "dataset")
    if kind not in KINDS:
        raise BadKind(f"--kind must be one of {', '.join(KINDS)}")
    if weights not in WEIGHTS:
        raise BadWeights(f"--weights must be one of {', '.join(WEIGHTS)}")
    zk_options = request.calibration or request.zk_target or request.srs or request.metrics_proof
    if kind != "model" and (weights == "private" or zk is not None or zk_options):
        raise NotAModel(
            "--weights private, --zk, --zk-target, --calibration, --srs and --metrics-proof apply to models"
        )
    if kind != "dataset" and (request.private or request.label or request.commit_rows):
        raise NotADataset("--private, --label and --commit-rows apply to datasets")
    profile = choose_profile(repo, request.cid_profile, name)
    identity = repo.identity
    # Opened before anything is stored: a ref must never be recorded without its `publish` entry.
    ledger = repo.ledger
    dataset_cid = repo.resolve(request.dataset) if request.dataset else None
    if dataset_cid is not None and repo.manifest(dataset_cid).kind != "dataset":
        raise NotADataset(f"--dataset {request.dataset} is not a dataset manifest")
    if kind == "model":
        from zkreg.registry.onnx_check import check_onnx_model  # local: onnx takes ~0.7 s to import

        published = {path.resolve() for path in files.values()}
        for file_name, path in files.items():
            if file_name.endswith(".onnx"):
                check_onnx_model(path, published)
    rows_section, private_rows = None, None
    if kind == "dataset" and (request.private or request.label is not None or request.commit_rows):
        rows_section, private_rows, files = _commit_rows(repo, files, request, scratch)
    eval_batch = None
    if dataset_cid is not None and (weights == "private" or zk is not None):
        dataset_rows = repo.manifest(dataset_cid).rows
        eval_batch = request.eval_batch or DEFAULT_BATCH if dataset_rows is not None else None
    metrics: dict[str, Any] = {}
    evaluation_file = None
    if request.metrics_proof is not None:
        metrics, evaluation_file = _proven_metrics(repo, request.metrics_proof)
        files = {**files, "eval/accuracy.json": evaluation_file}
    zk_publication = None
    if kind == "model" and (weights == "private" or zk is not None):
        zk_publication = _prepare_zk(repo, files, zk or "fixed", request, progress, eval_batch, profile)
        if evaluation_file is not None:
            _check_evaluation_binds(repo, request.metrics_proof, zk_publication)
        if weights == "private":  # no byte of the weights, whichever files hold them
            weight_files = zk_publication.weight_files
            files = {file_name: path for file_name, path in files.items() if path.resolve() not in weight_files}
        files = {**files, **zk_publication.files}

    reused: set[str] = set()
    if node is not None:
        imported = {file_name: node.put_file(path, profile, progress) for file_name, path in files.items()}
    else:
        with open_stat_cache(repo.home) as cache:
            imported, reused = _import_files(repo.store, files, profile, progress, cache)
    tree = put_tree(repo.store, {file_name: (f.cid, f.tsize) for file_name, f in imported.items()}, profile)
    if node is not None:
        _send_directories(repo, node, tree, {f.cid for f in imported.values()})
    file_entries = {file_name: (f.cid, f.size) for file_name, f in imported.items()}

    with repo.index.transaction() as index:
        latest = index.latest_ref(name)
        if latest is not None:
            previous = repo.manifest(latest.cid)
            unchanged = (
                previous.author == identity.did
                and previous.tree == tree
                and previous.kind == kind
                and previous.dataset == dataset_cid
                and previous.weights == weights
                and previous.price == request.price
                and previous.cid_profile == profile.name
                and version in (None, previous.version)
            )
            if unchanged:
                if node is not None:
                    _send_to_node(repo, node, previous.cid, repo.store.get_block(previous.cid), request.pin)
                # A crash between the ref's commit and the ledger append left the ref without its entry.
                if not ledger.has_entry(identity.did, "publish", previous.cid):
                    ledger.append(identity, "publish", {"manifest": previous.cid})
                return PublishResult(previous.cid, name, previous.version, created=False)
        vanished = sorted(cid for cid in record.put | reused if not repo.store.has(cid))
        if vanished:
            raise StoreBusy(
                f"block {vanished[0]} of this publish was removed meanwhile (a concurrent failed publish or gc)",
                hint="retry",
            )
        version = version or _next_version(repo, name)
        if index.ref_cid(name, version) is not None:
            raise VersionExists(f"{name}@{version} already exists")
        created = _now()
        cid, block = build_and_sign(
            identity,
            kind=kind,
            name=name,
            version=version,
            created=created,
            files=file_entries,
            tree=tree,
            parents=[latest.cid] if latest is not None else [],
            weights=weights,
            dataset=dataset_cid,
            message=request.message,
            zk=zk_publication.section if zk_publication else None,
            price=request.price,
            rows=rows_section,
            metrics=metrics,
            cid_profile=profile.name,
        )
        decode_and_verify(cid, block)  # what we sign must be what every reader accepts
        if private_rows is not None and rows_section is not None:
            save_private(repo.home / PRIVATE_ROWS, rows_section["commitment"], private_rows)
        repo.store.put_block(cid, block)
        if node is not None:
            _send_to_node(repo, node, cid, block, request.pin)
        index.add_blocks([(cid, len(block))])
        index.add_ref(Ref(name, version, cid, identity.did, kind, created))
    repo.store.flush_index()
    ledger.append(identity, "publish", {"manifest": cid})
    if zk_publication is None:
        return PublishResult(cid, name, version, created=True)
    return PublishResult(
        cid,
        name,
        version,
        created=True,
        zk_estimate=zk_publication.estimate.describe(),
        zk_srs=zk_publication.section["srs_kind"],
    )


def _commit_rows(
    repo: Repo, files: dict[str, Path], request: PublishRequest, scratch: Path
) -> tuple[dict[str, Any], CommittedRows | None, dict[str, Path]]:
    """A dataset's row commitment (`zkreg.zk.rows`): the manifest's `rows` section, the rows and salts a
    private dataset keeps in this data dir, and the files to publish (a private dataset: the commitment only)."""
    _, path = table_file(files)
    rows = commit(load_table(path, request.label), private=request.private)
    commitment = scratch / "commitment.json"
    commitment.write_bytes(commitment_bytes(rows))
    table = rows.table
    section = {
        "scheme": ROWS_SCHEME,
        "visibility": "private" if request.private else "public",
        "count": table.count,
        "columns": list(table.columns),
        "label": table.label,
        "classes": list(table.classes),
        "scale": DATA_SCALE,
        "salts": SALT_COLUMNS,
        "commitment": file_cid(commitment),
    }
    published = {"rows/commitment.json": commitment}
    if not request.private:
        published = {**files, **published}
    return section, rows if request.private else None, published


def _proven_metrics(repo: Repo, bundle: Path) -> tuple[dict[str, Any], Path]:
    """The manifest's proven accuracy from an evaluation bundle, verified first (every proof)."""
    verdict = verify_evaluation(repo, VerifyEvaluationRequest(bundle))
    record = {
        "correct": verdict.correct,
        "rows": verdict.rows,
        "dataset": verdict.dataset.cid,
        "evaluation": file_cid(bundle),
    }
    return {"accuracy": record}, bundle


def _check_evaluation_binds(repo: Repo, bundle: Path | None, publication: ZkPublication) -> None:
    """The evaluation must be of these very weights: the model it names was set up here from the same ONNX bytes
    (this data dir's cache records which file each published circuit was built from), or is public with the
    same ONNX file. Circuits are re-calibrated on each publish, so their vks need not be equal."""
    assert bundle is not None
    evaluated = repo.manifest(Evaluation.load(bundle).model)
    zk = zk_section(evaluated)
    onnx = [cid for name, cid in evaluated.files.items() if name.endswith(".onnx")]
    built_here = repo.zk_workspace().cache.find(zk.settings) if zk is not None else None
    same_bytes = publication.model_cid in onnx or (
        built_here is not None and built_here.meta.get("model") == publication.model_cid
    )
    if evaluated.author != repo.identity.did or not same_bytes:
        raise BadMetricsProof(
            f"--metrics-proof evaluates {evaluated.name}@{evaluated.version}, which is not this model "
            "(other weights, or not published from this data dir)"
        )


def _import_files(
    store: LocalStore, files: dict[str, Path], profile: CidProfile, progress: Progress, cache: StatCache | None
) -> tuple[dict[str, ImportedFile], set[str]]:
    """Each file's DAG in the store: hashed, unless the stat cache knows it unchanged and the store still holds
    its root (then its CID is reused, and returned among the reused roots for the check at commit)."""
    imported: dict[str, ImportedFile] = {}
    reused: set[str] = set()
    hashed: list[Hashed] = []
    for name, path in files.items():
        status = path.stat()
        known = cache.lookup(path, status, profile.name) if cache is not None else None
        if known is not None and store.has(known[0]):
            imported[name] = ImportedFile(known[0], status.st_size, known[1])
            reused.add(known[0])
            continue
        started_ns = time.time_ns()
        imported[name] = store.put_file(path, profile, progress)
        hashed.append(Hashed(path, status, started_ns, imported[name].cid, imported[name].tsize))
    record_quietly(cache, hashed, profile.name)
    return imported, reused


def collect_files(paths: list[Path]) -> dict[str, Path]:
    """Published name -> file on disk. A directory contributes `dirname/relative/path` for each regular file;
    symlinks are refused, never followed, so nothing outside the named paths is ever read."""
    files: dict[str, Path] = {}

    def add(name: str, path: Path) -> None:
        if name in files:
            raise DuplicatePath(f"two published files would both be named {name!r}")
        files[name] = path

    for path in paths:
        mode = path.lstat().st_mode if path.exists() or path.is_symlink() else None
        if mode is None:
            raise PathNotFound(f"no such file or directory: {path}")
        if stat.S_ISLNK(mode):
            raise SymlinkRefused(f"refusing to publish a symlink: {path}")
        if stat.S_ISREG(mode):
            add(path.name, path)
        elif stat.S_ISDIR(mode):
            base = path.resolve().name
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames.sort()
                for entry in sorted(dirnames + filenames):
                    full = Path(dirpath) / entry
                    entry_mode = full.lstat().st_mode
                    if stat.S_ISLNK(entry_mode):
                        raise SymlinkRefused(f"refusing to publish a symlink: {full}")
                    if stat.S_ISREG(entry_mode):
                        add(f"{base}/{full.relative_to(path).as_posix()}", full)
                    elif not stat.S_ISDIR(entry_mode):
                        raise NotAFile(f"not a regular file: {full}")
        else:
            raise NotAFile(f"not a regular file or directory: {path}")
    if not files:
        raise NothingToPublish("nothing to publish: no files under the given paths")
    for name in files:
        safe_relpath(name)
    return files


def _check_name(name: str, version: str | None) -> None:
    """Refuse a name or version the manifest schema would refuse, before a single block is stored."""
    fields = load_schema("manifest.v1")["properties"]
    if not re.fullmatch(fields["name"]["pattern"], name):
        raise BadName(
            f"bad name {name!r}: letters, digits, '.', '_' and '-', starting with a letter or digit, at most 128",
        )
    if version is not None and not re.fullmatch(fields["version"]["pattern"], version):
        raise BadVersion(
            f"bad version {version!r}: letters, digits, '.', '_', '+' and '-', starting with a letter or digit",
        )


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _prepare_zk(
    repo: Repo,
    files: dict[str, Path],
    mode: str,
    request: PublishRequest,
    progress: Progress,
    eval_batch: int | None,
    profile: CidProfile,
) -> ZkPublication:
    models = [path for file_name, path in files.items() if file_name.endswith(".onnx")]
    if len(models) != 1:
        raise ZkOneModel(
            f"zk proofs need exactly one .onnx file among the published files, found {len(models)}",
        )
    return repo.zk_workspace().prepare_publish(
        models[0],
        mode=mode,
        calibration=request.calibration,
        srs=request.srs,
        progress=progress,
        profile=profile,
        target=request.zk_target or "resources",
        eval_batch=eval_batch,
    )


def _send_to_node(repo: Repo, node: IpfsStore, cid: str, block: bytes, pin: bool) -> None:
    """Put a manifest on the node after the DAGs it links to (history, dataset) that the node lacks."""
    for linked in links_of(cid, block):
        if codec_of(linked) == DAG_CBOR and not node.pinned(linked):
            node.put_dag(linked, walk_dag(repo.store.get_block, [linked]))
    node.put_block(cid, block)
    if pin:
        node.pin(cid)


def _send_directories(repo: Repo, node: IpfsStore, tree: str, files: set[str]) -> None:
    """Put the directory nodes of `tree` on the node (the files under it are there already)."""
    for cid, block in walk_dag(repo.store.get_block, [tree], skip=files):
        node.put_block(cid, block)


def _next_version(repo: Repo, name: str) -> str:
    versions = repo.index.versions(name)
    return str(max((int(v) for v in versions if v.isdigit()), default=0) + 1)


def choose_profile(repo: Repo, requested: str | None, name: str | None = None) -> CidProfile:
    """The CID profile to build with: the one asked for, else the one the latest version of `name` recorded (so
    re-publishing gives the same CIDs whatever the defaults became), else config.toml's, else the default."""
    if requested is not None:
        return profile_named(requested)
    latest = repo.index.latest_ref(name) if name is not None else None
    if latest is not None:
        return profile_named(repo.manifest(latest.cid).cid_profile)
    configured = load_config(repo.home).cid_profile
    return profile_named(configured) if configured is not None else DEFAULT_PROFILE


def put_tree(store: BlockStore, files: dict[str, tuple[str, int]], profile: CidProfile) -> str:
    """The UnixFS directory that wraps every published file, as `ipfs add -r -w` would build it."""
    return directory_tree(files, profile, store.put_block)[0]


def directory_tree(entries: dict[str, tuple[str, int]], profile: CidProfile, put: PutBlock) -> tuple[str, int]:
    """Put the directory holding `entries` (relative path -> (CID, Tsize)) and its folders; its (CID, Tsize)."""
    links: dict[str, tuple[str, int]] = {}
    folders: dict[str, dict[str, tuple[str, int]]] = {}
    for path, entry in entries.items():
        head, _, rest = path.partition("/")
        if rest:
            folders.setdefault(head, {})[rest] = entry
        else:
            links[head] = entry
    links.update({folder: directory_tree(inner, profile, put) for folder, inner in folders.items()})
    return put_directory(links, profile, put)
