"""The public Python API. The CLI and the HTTP service are thin adapters over this module.

from zkreg.api import Repo
repo = Repo.init(Path("~/.zkreg").expanduser())        # or Repo.open() for ZKREG_HOME / the default
result = repo.publish([Path("model.onnx")], name="mnist")
repo.pull("mnist@1", Path("out"))
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import sqlite3
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from zkreg.config import load_config
from zkreg.errors import (
    BadKind,
    BadName,
    BadStore,
    BadVersion,
    BadWeights,
    DuplicatePath,
    FileExists,
    HomeNotFound,
    IntegrityError,
    MalformedObject,
    ManifestNotFound,
    NoSpace,
    NotADataset,
    NotAFile,
    NotAModel,
    NotFound,
    NothingToPublish,
    PathNotFound,
    ProofNotFound,
    RefNotFound,
    SizeMismatch,
    StoreBusy,
    SymlinkInTarget,
    SymlinkRefused,
    UnsafePath,
    VersionExists,
    ZkOneModel,
    ZkregError,
)
from zkreg.fsutil import atomic_write, fsync_folder
from zkreg.home import default_home
from zkreg.identity import Identity, create_identity, load_identity
from zkreg.progress import SILENT, Progress
from zkreg.registry.car import car_stream, scan_car, walk_dag
from zkreg.registry.cid import DAG_CBOR, DAG_PB, codec_of, compute, looks_like_cid
from zkreg.registry.dag import links_of, walk
from zkreg.registry.index import Index, Ref, open_index
from zkreg.registry.manifest import Manifest, build_and_sign, decode_and_verify
from zkreg.registry.store import BlockRecord, BlockStore, LocalStore, pid_alive
from zkreg.registry.unixfs import directory_node
from zkreg.reputation.ledger import ImportReport, Ledger, open_ledger
from zkreg.reputation.proofs import BundleVerdict, ProofGatedCredit
from zkreg.reputation.score import ProofHook, Scores, compute_scores
from zkreg.reputation.sync import CarFileTransport, ExportResult, export_car
from zkreg.reputation.sync import pull as pull_feeds
from zkreg.schemas import load as load_schema
from zkreg.zk.documents import MAX_BUNDLE_BYTES, ProofBundle, ZkSection, join_bounded
from zkreg.zk.runner import Deadline
from zkreg.zk.workflow import ProofVerdict, ProveResult, ZkPublication, ZkWorkspace, zk_section

if TYPE_CHECKING:
    from zkreg.registry.ipfs import IpfsStore

KINDS = ("model", "dataset")
STORES = ("local", "ipfs")
WEIGHTS = ("public", "private")


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


@dataclass(frozen=True)
class VerifyResult:
    manifest: Manifest
    files: int
    bytes: int


@dataclass(frozen=True)
class CarImport:
    roots: list[str]
    blocks: int
    bytes: int
    refs: list[str]
    """`name@version` of each manifest root, now known locally."""


@dataclass(frozen=True)
class GcResult:
    blocks: int
    bytes: int
    deleted: bool
    """False for a dry run: `blocks` and `bytes` are what would go."""
    started_ns: int
    """When the collection began (ns since the epoch): blocks stored since then, or shortly before, are kept."""


GC_GRACE_NS = 2_000_000_000
"""Blocks touched this long before `gc` began are kept too: file times come from a coarser clock than ours."""


@dataclass(frozen=True)
class RefEntry:
    name: str
    version: str
    cid: str
    kind: str
    author: str
    created: str


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


def _collect_files(paths: list[Path]) -> dict[str, Path]:
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


_STAGING_PREFIX = ".zkreg-pull-"
"""A pull's staging folder in the output folder: `.zkreg-pull-<pid>-<random>`, so a later pull knows a dead one."""


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


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Repo:
    """One data dir: an identity, the local blockstore and the index of refs."""

    def __init__(self, home: Path, passphrase: str | None = None) -> None:
        self.home = home
        self._passphrase = passphrase
        self._identity: Identity | None = None
        self.index: Index = open_index(home / "index.db")
        self.store = LocalStore(home / "blocks", self.index)
        self.store.remove_stale_temporaries()
        self._ledger: Ledger | None = None
        self.ipfs_api: str | None = None
        """The IPFS node's API address for `store="ipfs"`; default: ZKREG_IPFS_API, then `config.toml`'s
        `ipfs.api`, then 127.0.0.1:5001."""

    @classmethod
    def open(cls, home: Path | None = None, passphrase: str | None = None) -> Repo:
        home = home or default_home()
        if not home.exists():
            raise HomeNotFound(f"no zkreg data dir at {home}", hint="run `zkreg init`")
        return cls(home, passphrase)

    @classmethod
    def init(cls, home: Path | None = None, passphrase: str | None = None) -> Repo:
        home = home or default_home()
        create_identity(home, passphrase)
        return cls(home, passphrase)

    def close(self) -> None:
        self.index.close()
        if self._ledger is not None:
            self._ledger.close()

    @property
    def identity(self) -> Identity:
        if self._identity is None:
            self._identity = load_identity(self.home, self._passphrase)
        return self._identity

    # ---- refs ----------------------------------------------------------------------------------------------

    def resolve(self, ref: str) -> str:
        """A manifest CID for `CID`, `name@version` or `name` (its latest version)."""
        if looks_like_cid(ref):
            return ref
        name, _, version = ref.partition("@")
        if version:
            cid = self.index.ref_cid(name, version)
        else:
            latest = self.index.latest_ref(name)
            cid = None if latest is None else latest.cid
        if cid is None:
            raise RefNotFound(f"unknown ref {ref!r}", hint="`zkreg ls` lists known names")
        return cid

    def knows_ref(self, ref: str) -> bool:
        """Whether `ref` resolves here to a held manifest (a CID this store holds, or a recorded name)."""
        try:
            return self.store.has(self.resolve(ref))
        except NotFound:
            return False

    def ls(self) -> list[RefEntry]:
        return [RefEntry(**ref._asdict()) for ref in self.index.refs()]

    # ---- manifests -----------------------------------------------------------------------------------------

    def manifest(self, cid: str) -> Manifest:
        if not self.store.has(cid):
            raise ManifestNotFound(f"manifest {cid} is not in the local store")
        return decode_and_verify(cid, self.store.get_block(cid))

    def show(self, ref: str) -> Manifest:
        return self.manifest(self.resolve(ref))

    def log(self, ref: str) -> list[Manifest]:
        """The history of a name (or of the version a ref names), newest first, following `parents`."""
        history: list[Manifest] = []
        seen: set[str] = set()
        next_cid: str | None = self.resolve(ref)
        while next_cid is not None and next_cid not in seen:
            seen.add(next_cid)
            manifest = self.manifest(next_cid)
            history.append(manifest)
            next_cid = manifest.parents[0] if manifest.parents else None
        return history

    # ---- workflows -----------------------------------------------------------------------------------------

    def publish(
        self,
        paths: list[Path],
        *,
        name: str,
        version: str | None = None,
        kind: str | None = None,
        dataset: str | None = None,
        weights: str = "public",
        message: str | None = None,
        progress: Progress = SILENT,
        store: str | None = None,
        pin: bool = True,
        zk: str | None = None,
        calibration: Path | None = None,
        srs: Path | None = None,
        price: int | None = None,
    ) -> PublishResult:
        """Publish files as a new version of `name`.

        With `store="ipfs"` every block also goes to the IPFS node (and the manifest's DAG is pinned there if
        `pin`); the ref is recorded only once the node holds all of it. A model with `weights="private"` or a `zk`
        mode ("fixed" | "hashed") also runs the zk pipeline once (settings, setup, commitment): with private
        weights its ONNX file is not published, and the circuit and proving key stay in this data dir's private
        cache. `price` is the credits per proof `zkreg serve` asks for the model (default 1).
        """
        _check_name(name, version)
        node = self._node(store)
        try:
            with self.store.recording() as record:
                try:
                    return self._publish(
                        paths,
                        name=name,
                        version=version,
                        kind=kind,
                        dataset=dataset,
                        weights=weights,
                        message=message,
                        progress=progress,
                        node=node,
                        pin=pin,
                        zk=zk,
                        calibration=calibration,
                        srs=srs,
                        price=price,
                        record=record,
                    )
                except BaseException:  # an error or Ctrl-C: what this publish added and nothing reaches goes
                    self._take_back(record)
                    raise
        finally:
            if node is not None:
                node.close()

    def _take_back(self, record: BlockRecord) -> None:
        """Remove the blocks a failed workflow added that no recorded manifest reaches, in one index transaction
        (so a concurrent publish that reuses one of them either committed first, and keeps it, or finds it gone
        at its own commit and fails cleanly). A failure here only leaves garbage for `zkreg gc`."""
        if not record.added:
            return
        with contextlib.suppress(ZkregError, OSError, sqlite3.Error), self.index.transaction() as index:
            self.store.remove_blocks(record.added - self.store.reachable(index.ref_cids()))

    def _node(self, store: str | None) -> IpfsStore | None:
        """The IPFS node for `store`, caching into our store. Without `store`: ipfs if ZKREG_IPFS_API is set, else
        what `config.toml` says (`store`, or ipfs if it names a node's `ipfs.api`), else local."""
        from zkreg.registry.ipfs import API_ENV, IpfsStore  # local: httpx (~50 ms) only for an IPFS node

        config = load_config(self.home)
        env_api = os.environ.get(API_ENV)
        choice = store or ("ipfs" if env_api else config.store or ("ipfs" if config.ipfs_api else "local"))
        if choice not in STORES:
            raise BadStore(f"--store must be one of {', '.join(STORES)}")
        if choice == "local":
            return None
        return IpfsStore(self.ipfs_api or env_api or config.ipfs_api, cache=self.store)

    def _send_to_node(self, node: IpfsStore, cid: str, block: bytes, pin: bool) -> None:
        """Put a manifest on the node after the DAGs it links to (history, dataset) that the node lacks."""
        for linked in links_of(cid, block):
            if codec_of(linked) == DAG_CBOR and not node.pinned(linked):
                for linked_cid, linked_block in walk_dag(self.store.get_block, [linked]):
                    node.put_block(linked_cid, linked_block)
        node.put_block(cid, block)
        if pin:
            node.pin(cid)

    def _send_directories(self, node: IpfsStore, tree: str, files: set[str]) -> None:
        """Put the directory nodes of `tree` on the node (the files under it are there already)."""
        for cid, block in walk_dag(self.store.get_block, [tree], skip=files):
            node.put_block(cid, block)

    def _publish(
        self,
        paths: list[Path],
        *,
        name: str,
        version: str | None,
        kind: str | None,
        dataset: str | None,
        weights: str,
        message: str | None,
        progress: Progress,
        node: IpfsStore | None,
        pin: bool,
        zk: str | None,
        calibration: Path | None,
        srs: Path | None,
        price: int | None,
        record: BlockRecord,
    ) -> PublishResult:
        files = _collect_files(paths)
        kind = kind or ("model" if any(n.endswith(".onnx") for n in files) else "dataset")
        if kind not in KINDS:
            raise BadKind(f"--kind must be one of {', '.join(KINDS)}")
        if weights not in WEIGHTS:
            raise BadWeights(f"--weights must be one of {', '.join(WEIGHTS)}")
        if kind != "model" and (weights == "private" or zk is not None or calibration or srs):
            raise NotAModel("--weights private, --zk, --calibration and --srs apply to models")
        identity = self.identity
        # Opened before anything is stored: a ref must never be recorded without its `publish` entry.
        ledger = self.ledger
        dataset_cid = self.resolve(dataset) if dataset else None
        if dataset_cid is not None and self.manifest(dataset_cid).kind != "dataset":
            raise NotADataset(f"--dataset {dataset} is not a dataset manifest")
        if kind == "model":
            from zkreg.registry.onnx_check import check_onnx_model  # local: onnx takes ~0.7 s to import

            published = {path.resolve() for path in files.values()}
            for file_name, path in files.items():
                if file_name.endswith(".onnx"):
                    check_onnx_model(path, published)
        zk_publication = None
        if kind == "model" and (weights == "private" or zk is not None):
            zk_publication = self._prepare_zk(files, zk or "fixed", calibration, srs, progress)
            if weights == "private":  # no byte of the weights, whichever files hold them
                weight_files = zk_publication.weight_files
                files = {file_name: path for file_name, path in files.items() if path.resolve() not in weight_files}
            files = {**files, **zk_publication.files}

        blocks: BlockStore = node or self.store
        imported = {file_name: blocks.put_file(path, progress) for file_name, path in files.items()}
        tree = self._put_tree({file_name: (f.cid, f.tsize) for file_name, f in imported.items()})
        if node is not None:
            self._send_directories(node, tree, {f.cid for f in imported.values()})
        file_entries = {file_name: (f.cid, f.size) for file_name, f in imported.items()}

        with self.index.transaction() as index:
            latest = index.latest_ref(name)
            if latest is not None:
                previous = self.manifest(latest.cid)
                unchanged = (
                    previous.author == identity.did
                    and previous.tree == tree
                    and previous.kind == kind
                    and previous.dataset == dataset_cid
                    and previous.weights == weights
                    and previous.price == price
                    and version in (None, previous.version)
                )
                if unchanged:
                    if node is not None:
                        self._send_to_node(node, previous.cid, self.store.get_block(previous.cid), pin)
                    # A crash between the ref's commit and the ledger append left the ref without its entry.
                    if not ledger.has_entry(identity.did, "publish", previous.cid):
                        ledger.append(identity, "publish", {"manifest": previous.cid})
                    return PublishResult(previous.cid, name, previous.version, created=False)
            vanished = sorted(cid for cid in record.put if not self.store.has(cid))
            if vanished:
                raise StoreBusy(
                    f"block {vanished[0]} of this publish was removed meanwhile (a concurrent failed publish or gc)",
                    hint="retry",
                )
            version = version or self._next_version(name)
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
                message=message,
                zk=zk_publication.section if zk_publication else None,
                price=price,
            )
            decode_and_verify(cid, block)  # what we sign must be what every reader accepts
            self.store.put_block(cid, block)
            if node is not None:
                self._send_to_node(node, cid, block, pin)
            index.add_blocks([(cid, len(block))])
            index.add_ref(Ref(name, version, cid, identity.did, kind, created))
        self.store.flush_index()
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

    # ---- zero-knowledge proofs -----------------------------------------------------------------------------

    def zk_workspace(self) -> ZkWorkspace:
        return ZkWorkspace(self.home, self.store)

    def _prepare_zk(
        self, files: dict[str, Path], mode: str, calibration: Path | None, srs: Path | None, progress: Progress
    ) -> ZkPublication:
        models = [path for file_name, path in files.items() if file_name.endswith(".onnx")]
        if len(models) != 1:
            raise ZkOneModel(
                f"zk proofs need exactly one .onnx file among the published files, found {len(models)}",
            )
        return self.zk_workspace().prepare_publish(
            models[0], mode=mode, calibration=calibration, srs=srs, progress=progress
        )

    def prove(
        self,
        ref: str,
        input_path: Path,
        out_path: Path,
        progress: Progress = SILENT,
        deadline: Deadline | None = None,
    ) -> ProveResult:
        """Run the model on `input_path` and write a signed proof bundle to `out_path`; past `deadline`, the proving
        processes are killed and `ProveTimeout` is raised."""
        manifest = self.manifest(self.resolve(ref))
        return self.zk_workspace().prove(manifest, self.identity, input_path, out_path, progress, deadline)

    def verify_proof(self, bundle_path: Path) -> ProofVerdict:
        """Check a proof bundle against the signed manifest it names; the output it proves, or `ProofInvalid`."""
        return self.zk_workspace().verify_bundle(bundle_path, self.manifest)

    def _next_version(self, name: str) -> str:
        versions = self.index.versions(name)
        return str(max((int(v) for v in versions if v.isdigit()), default=0) + 1)

    def _put_tree(self, files: dict[str, tuple[str, int]]) -> str:
        """The UnixFS directory that wraps every published file, as `ipfs add -r -w` would build it."""
        return self._put_directory(files)[0]

    def _put_directory(self, entries: dict[str, tuple[str, int]]) -> tuple[str, int]:
        """Store the directory holding `entries` (relative path -> (CID, Tsize)); its (CID, Tsize)."""
        links: dict[str, tuple[str, int]] = {}
        folders: dict[str, dict[str, tuple[str, int]]] = {}
        for path, entry in entries.items():
            head, _, rest = path.partition("/")
            if rest:
                folders.setdefault(head, {})[rest] = entry
            else:
                links[head] = entry
        links.update({folder: self._put_directory(inner) for folder, inner in folders.items()})
        block = directory_node(links)
        cid = compute(DAG_PB, block)
        self.store.put_block(cid, block)
        return cid, len(block) + sum(tsize for _, tsize in links.values())

    def pull(
        self,
        ref: str,
        out_dir: Path | None = None,
        progress: Progress = SILENT,
        store: str | None = None,
        *,
        request: str | None = None,
        force: bool = False,
    ) -> PullResult:
        """Fetch and verify every file of a manifest into `out_dir` (default: `./NAME`).

        Files are assembled in a staging folder inside `out_dir` and moved into place only after all of them
        verified, so a failed pull leaves no partial file behind. Before a byte is written, each file's declared
        size is checked against its DAG and the total against the free disk space. A symlink in a target path under
        `out_dir` is refused, never followed; an existing file is replaced (atomically) only with `force`. With
        `store="ipfs"` a block (or the manifest) missing locally comes from the IPFS node and, once verified, is
        kept in the local store. `request` is the id the `use` entry carries (default: a fresh random one), so the
        provider's receipt for it can pair with it.
        """
        node = self._node(store)
        try:
            return self._pull(ref, out_dir, progress, node, request, force)
        finally:
            self.store.flush_index()
            if node is not None:
                node.close()

    def _pull(
        self,
        ref: str,
        out_dir: Path | None,
        progress: Progress,
        node: IpfsStore | None,
        request: str | None,
        force: bool,
    ) -> PullResult:
        cid = self.resolve(ref)
        manifest = self.manifest(cid) if node is None else decode_and_verify(cid, node.get_block(cid))
        source: BlockStore = node or self.store
        targets = {file_name: safe_relpath(file_name) for file_name in manifest.files}
        # Another author's artefact is recorded as a `use`: open the ledger before writing any file.
        ledger = self.ledger if manifest.author != self.identity.did else None
        out_dir = out_dir or Path(manifest.name)
        # Held blocks are checked up front; from a node, a file's root is checked as it arrives, before its first
        # byte is written (asking the node for roots now would defeat its one-export-per-file fetch).
        for file_name, file_cid in manifest.files.items() if node is None else ():
            declared = self.store.file_size(file_cid)
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
            use = {"manifest": manifest.cid, "provider": manifest.author, "request": request or secrets.token_hex(16)}
            ledger.append(self.identity, "use", use)
        return PullResult(manifest, out_dir, pulled)

    def verify(self, ref: str, progress: Progress = SILENT, *, attest: bool = False) -> VerifyResult:
        """Check the manifest (CID, canonical form, schema, signature) and re-hash every block it names.

        With `attest`, the verdict (ok, or fail with the reason) is appended to this identity's feed.
        """
        cid = self.resolve(ref)
        try:
            manifest = self.manifest(cid)
            total = 0
            for file_name, file_cid in manifest.files.items():
                total += self.store.verify_file(file_cid, manifest.sizes[file_name], progress)
            self.store.get_block(manifest.tree)
        except IntegrityError as error:
            if attest:
                self.ledger.append(
                    self.identity, "attest", {"subject": cid, "verdict": "fail", "details": error.message[:2048]}
                )
            raise
        if attest:
            details = f"{len(manifest.files)} files, {total} bytes verified"
            self.ledger.append(self.identity, "attest", {"subject": cid, "verdict": "ok", "details": details})
        return VerifyResult(manifest, len(manifest.files), total)

    # ---- ledger and reputation ----------------------------------------------------------------------------

    @property
    def ledger(self) -> Ledger:
        """The signed feeds this peer holds (`ledger.db` in the data dir)."""
        if self._ledger is None:
            self._ledger = open_ledger(self.home / "ledger.db")
        return self._ledger

    def export_feeds(self, path: Path, author: str | None = None) -> ExportResult:
        return export_car(self.ledger, path, author)

    def import_feeds(self, path: Path, progress: Progress = SILENT) -> ImportReport:
        return pull_feeds(self.ledger, CarFileTransport(path), progress)

    def trust_peer(self, did: str) -> bool:
        """Make `did` a local trust root; False if it already was one."""
        return self.ledger.add_trust_root(did)

    def trust_roots(self) -> list[str]:
        """Own key plus every peer trusted with `trust_peer`."""
        return sorted({self.identity.did, *self.ledger.trust_roots()})

    def scores(self, receipt_proof_ok: ProofHook | None = None) -> Scores:
        """Proof of Reputation of every identity in the ledger, seen from this peer's trust roots.

        By default a use counts only if it is proof-gated (`zkreg.reputation.proofs`): the used manifest is held,
        and for a zk model the receipt's proof bundle is held and verifies."""
        hook = receipt_proof_ok or ProofGatedCredit(self.ledger, self._zk_section_of, self._verify_held_proof)
        return compute_scores(self.ledger, self.trust_roots(), hook)

    def _zk_section_of(self, cid: str) -> ZkSection | None:
        return zk_section(self.manifest(cid))

    def _verify_held_proof(self, proof: str) -> BundleVerdict:
        """Verify a proof bundle held in the local store (by its CID); what it binds to. A bundle larger than
        `MAX_BUNDLE_BYTES` is refused after reading that much, before any parsing."""
        if not self.store.has(proof):
            raise ProofNotFound(f"proof bundle {proof} is not held here")
        what = f"proof bundle {proof}"
        data = join_bounded(self.store.iter_file(proof), what=what, max_bytes=MAX_BUNDLE_BYTES, error=MalformedObject)
        bundle = ProofBundle.from_bytes(data, what=what)
        verdict = self.zk_workspace().judge_bundle(bundle, self.manifest)
        return BundleVerdict(verdict.manifest.cid, verdict.prover)

    # ---- CAR -----------------------------------------------------------------------------------------------

    def export_car(self, ref: str, out: Path) -> int:
        """Write the manifest and every block it reaches (files, tree, history, dataset) as a CARv1 file; the
        number of blocks. Written to a temporary file and renamed, so `out` is never a partial CAR."""
        cid = self.manifest(self.resolve(ref)).cid
        out.parent.mkdir(parents=True, exist_ok=True)
        blocks = [0]

        def counted() -> Iterator[tuple[str, bytes]]:
            for cid_and_block in walk_dag(self.store.get_block, [cid]):
                blocks[0] += 1
                yield cid_and_block

        atomic_write(out, car_stream([cid], counted()))
        return blocks[0]

    def import_car(self, path: Path) -> CarImport:
        """Verify a whole CAR (every block, every link present, manifest signatures) and record each manifest
        root's `name@version`. The file is read once, so a pipe works (`zkreg import <(cat x.car)`): blocks are
        stored as they verify, and if the CAR fails, the ones this import added that nothing reaches are removed."""
        with self.store.recording() as record:
            try:
                with path.open("rb") as stream:
                    summary = scan_car(stream, on_block=self.store.put_block)
                manifests = [
                    decode_and_verify(root, summary.root_blocks[root])
                    for root in summary.roots
                    if codec_of(root) == DAG_CBOR
                ]
                for manifest in manifests:
                    self._check_ref_free(manifest)
                self.store.flush_index()
                with self.index.transaction() as index:
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
                self._take_back(record)
                raise
        refs = [f"{manifest.name}@{manifest.version}" for manifest in manifests]
        return CarImport(summary.roots, summary.blocks, summary.size, refs)

    # ---- garbage -------------------------------------------------------------------------------------------

    def gc(self, *, dry_run: bool = True, started_ns: int | None = None) -> GcResult:
        """Remove blocks that no held manifest reaches (files, tree, history, dataset, zk artefacts) and that are
        no proof bundle a receipt names (unless it was judged not to verify): what failed publishes, unlinked CAR
        blocks and the like leave. A dry run (default) only counts them.

        Safe against a concurrent publish: blocks stored or stored again since the collection began (or just
        before) are left alone, and the deletion runs inside the index's write transaction after the set to
        keep is computed again, so a manifest recorded meanwhile keeps its blocks.
        """
        started_ns = time.time_ns() if started_ns is None else started_ns
        before_ns = started_ns - GC_GRACE_NS
        garbage = self._unreachable_blocks()
        sizes = {cid: self.store.size_of(cid) for cid in garbage}
        old = {cid: size for cid, size in sizes.items() if size is not None and size[1] < before_ns}
        if dry_run:
            return GcResult(len(old), sum(size for size, _ in old.values()), False, started_ns)
        removed: list[tuple[str, int]] = []
        with self.index.transaction() as index:
            still_garbage = self._unreachable_blocks()
            for cid in sorted(set(old) & still_garbage):
                size = self.store.remove_untouched(cid, before_ns)
                if size is not None:
                    removed.append((cid, size))
            index.remove_blocks(cid for cid, _ in removed)
        return GcResult(len(removed), sum(size for _, size in removed), True, started_ns)

    def _unreachable_blocks(self) -> set[str]:
        """Held blocks that nothing to keep reaches."""
        held = set(self.store.held())
        manifests = {cid for cid in held if codec_of(cid) == DAG_CBOR and self._holds_manifest(cid)}
        keep = walk(
            self.store.get_block,
            [*sorted(manifests), *self._kept_proofs()],
            held=held.__contains__,
            follow=lambda cid: codec_of(cid) == DAG_PB or cid in manifests,
            on_broken=lambda cid: None,  # what does not decode links to nothing
        )
        return held - set(keep)

    def _holds_manifest(self, cid: str) -> bool:
        try:
            self.manifest(cid)
        except (IntegrityError, NotFound):
            return False
        return True

    def _kept_proofs(self) -> list[str]:
        """Proof bundles named by receipts, except those judged not to verify."""
        return sorted(self.ledger.receipt_proofs() - self.ledger.failed_proofs())

    def _check_ref_free(self, manifest: Manifest) -> None:
        held = self.index.ref_cid(manifest.name, manifest.version)
        if held is not None and held != manifest.cid:
            raise VersionExists(
                f"{manifest.name}@{manifest.version} is already {held} here, not {manifest.cid}",
            )
