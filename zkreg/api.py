"""The public Python API. The CLI and the HTTP service are thin adapters over this module.

from zkreg.api import Repo
repo = Repo.init(Path("~/.zkreg").expanduser())        # or Repo.open() for ZKREG_HOME / the default
result = repo.publish([Path("model.onnx")], name="mnist")
repo.pull("mnist@1", Path("out"))
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from zkreg.errors import InvalidInput, NotFound
from zkreg.home import default_home
from zkreg.identity import Identity, create_identity, load_identity
from zkreg.progress import SILENT, Progress
from zkreg.registry.cid import DAG_PB, compute, looks_like_cid
from zkreg.registry.index import open_index, transaction
from zkreg.registry.manifest import Manifest, build_and_sign, decode_and_verify
from zkreg.registry.store import LocalStore
from zkreg.registry.unixfs import directory_node

if TYPE_CHECKING:
    from zkreg.zk.workflow import ProofVerdict, ProveResult, ZkPublication, ZkWorkspace

KINDS = ("model", "dataset")
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
        raise InvalidInput(f"unsafe path in manifest: {path!r}", code="input/unsafe-path")
    return pure


def _collect_files(paths: list[Path]) -> dict[str, Path]:
    """Published name -> file on disk. A directory contributes `dirname/relative/path` for each regular file;
    symlinks are refused, never followed, so nothing outside the named paths is ever read."""
    files: dict[str, Path] = {}

    def add(name: str, path: Path) -> None:
        if name in files:
            raise InvalidInput(f"two published files would both be named {name!r}", code="input/duplicate-path")
        files[name] = path

    for path in paths:
        mode = path.lstat().st_mode if path.exists() or path.is_symlink() else None
        if mode is None:
            raise NotFound(f"no such file or directory: {path}", code="not-found/path")
        if stat.S_ISLNK(mode):
            raise InvalidInput(f"refusing to publish a symlink: {path}", code="input/symlink")
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
                        raise InvalidInput(f"refusing to publish a symlink: {full}", code="input/symlink")
                    if stat.S_ISREG(entry_mode):
                        add(f"{base}/{full.relative_to(path).as_posix()}", full)
                    elif not stat.S_ISDIR(entry_mode):
                        raise InvalidInput(f"not a regular file: {full}", code="input/not-a-file")
        else:
            raise InvalidInput(f"not a regular file or directory: {path}", code="input/not-a-file")
    if not files:
        raise InvalidInput("nothing to publish: no files under the given paths", code="input/empty")
    for name in files:
        safe_relpath(name)
    return files


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Repo:
    """One data dir: an identity, the local blockstore and the index of refs."""

    def __init__(self, home: Path, passphrase: str | None = None) -> None:
        self.home = home
        self._passphrase = passphrase
        self._identity: Identity | None = None
        self.index: sqlite3.Connection = open_index(home / "index.db")
        self.store = LocalStore(home / "blocks", self.index)
        self.store.remove_stale_temporaries()

    @classmethod
    def open(cls, home: Path | None = None, passphrase: str | None = None) -> Repo:
        home = home or default_home()
        if not home.exists():
            raise NotFound(f"no zkreg data dir at {home}", hint="run `zkreg init`", code="not-found/home")
        return cls(home, passphrase)

    @classmethod
    def init(cls, home: Path | None = None, passphrase: str | None = None) -> Repo:
        home = home or default_home()
        create_identity(home, passphrase)
        return cls(home, passphrase)

    def close(self) -> None:
        self.index.close()

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
            row = self.index.execute("SELECT cid FROM refs WHERE name = ? AND version = ?", (name, version)).fetchone()
        else:
            row = self._latest(name)
        if row is None:
            raise NotFound(f"unknown ref {ref!r}", hint="`zkreg ls` lists known names", code="not-found/ref")
        return str(row["cid"])

    def _latest(self, name: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.index.execute(
            "SELECT * FROM refs WHERE name = ? ORDER BY id DESC LIMIT 1", (name,)
        ).fetchone()
        return row

    def ls(self) -> list[RefEntry]:
        rows = self.index.execute(
            "SELECT name, version, cid, kind, author, created FROM refs ORDER BY name, id"
        ).fetchall()
        return [RefEntry(**dict(row)) for row in rows]

    # ---- manifests -----------------------------------------------------------------------------------------

    def manifest(self, cid: str) -> Manifest:
        if not self.store.has(cid):
            raise NotFound(f"manifest {cid} is not in the local store", code="not-found/manifest")
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
        zk: str | None = None,
        calibration: Path | None = None,
        srs: Path | None = None,
    ) -> PublishResult:
        """Publish files. A model with `weights="private"` or a `zk` mode ("fixed" | "hashed") also runs the zk
        pipeline once (settings, setup, commitment): with private weights its ONNX file is not published, and
        the circuit and proving key stay in this data dir's private cache."""
        files = _collect_files(paths)
        kind = kind or ("model" if any(n.endswith(".onnx") for n in files) else "dataset")
        if kind not in KINDS:
            raise InvalidInput(f"--kind must be one of {', '.join(KINDS)}", code="input/bad-kind")
        if weights not in WEIGHTS:
            raise InvalidInput(f"--weights must be one of {', '.join(WEIGHTS)}", code="input/bad-weights")
        if kind != "model" and (weights == "private" or zk is not None or calibration or srs):
            raise InvalidInput(
                "--weights private, --zk, --calibration and --srs apply to models", code="input/not-a-model"
            )
        identity = self.identity
        dataset_cid = self.resolve(dataset) if dataset else None
        if dataset_cid is not None and self.manifest(dataset_cid).kind != "dataset":
            raise InvalidInput(f"--dataset {dataset} is not a dataset manifest", code="input/not-a-dataset")
        if kind == "model":
            from zkreg.registry.onnx_check import check_onnx_model

            published = {path.resolve() for path in files.values()}
            for file_name, path in files.items():
                if file_name.endswith(".onnx"):
                    check_onnx_model(path, published)
        zk_publication = None
        if kind == "model" and (weights == "private" or zk is not None):
            zk_publication = self._prepare_zk(files, zk or "fixed", calibration, srs, progress)
            if weights == "private":
                files = {file_name: path for file_name, path in files.items() if not file_name.endswith(".onnx")}
            files = {**files, **zk_publication.files}

        imported = {file_name: self.store.put_file(path, progress) for file_name, path in files.items()}
        tree = self._put_tree({file_name: (f.cid, f.tsize) for file_name, f in imported.items()})
        file_entries = {file_name: (f.cid, f.size) for file_name, f in imported.items()}

        with transaction(self.index) as conn:
            latest = self._latest(name)
            if latest is not None:
                previous = self.manifest(str(latest["cid"]))
                unchanged = (
                    previous.author == identity.did
                    and previous.tree == tree
                    and previous.kind == kind
                    and previous.dataset == dataset_cid
                    and previous.weights == weights
                    and version in (None, previous.version)
                )
                if unchanged:
                    return PublishResult(previous.cid, name, previous.version, created=False)
            version = version or self._next_version(name)
            if conn.execute("SELECT 1 FROM refs WHERE name = ? AND version = ?", (name, version)).fetchone():
                raise InvalidInput(f"{name}@{version} already exists", code="input/version-exists")
            created = _now()
            cid, block = build_and_sign(
                identity,
                kind=kind,
                name=name,
                version=version,
                created=created,
                files=file_entries,
                tree=tree,
                parents=[str(latest["cid"])] if latest is not None else [],
                weights=weights,
                dataset=dataset_cid,
                message=message,
                zk=zk_publication.section if zk_publication else None,
            )
            decode_and_verify(cid, block)  # what we sign must be what every reader accepts
            self.store.put_block(cid, block)
            conn.execute("INSERT OR IGNORE INTO blocks (cid, size) VALUES (?, ?)", (cid, len(block)))
            conn.execute(
                "INSERT INTO refs (name, version, cid, author, kind, created) VALUES (?, ?, ?, ?, ?, ?)",
                (name, version, cid, identity.did, kind, created),
            )
        self.store.flush_index()
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
        from zkreg.zk.workflow import ZkWorkspace

        return ZkWorkspace(self.home, self.store)

    def _prepare_zk(
        self, files: dict[str, Path], mode: str, calibration: Path | None, srs: Path | None, progress: Progress
    ) -> ZkPublication:
        models = [path for file_name, path in files.items() if file_name.endswith(".onnx")]
        if len(models) != 1:
            raise InvalidInput(
                f"zk proofs need exactly one .onnx file among the published files, found {len(models)}",
                code="input/zk-one-model",
            )
        return self.zk_workspace().prepare_publish(
            models[0], mode=mode, calibration=calibration, srs=srs, progress=progress
        )

    def prove(self, ref: str, input_path: Path, out_path: Path, progress: Progress = SILENT) -> ProveResult:
        """Run the model on `input_path` and write a signed proof bundle to `out_path`."""
        manifest = self.manifest(self.resolve(ref))
        return self.zk_workspace().prove(manifest, self.identity, input_path, out_path, progress)

    def verify_proof(self, bundle_path: Path) -> ProofVerdict:
        """Check a proof bundle against the signed manifest it names; the output it proves, or `ProofInvalid`."""
        return self.zk_workspace().verify_bundle(bundle_path, self.manifest)

    def _next_version(self, name: str) -> str:
        versions = [row["version"] for row in self.index.execute("SELECT version FROM refs WHERE name = ?", (name,))]
        return str(max((int(v) for v in versions if v.isdigit()), default=0) + 1)

    def _put_tree(self, files: dict[str, tuple[str, int]]) -> str:
        """The UnixFS directory that wraps every published file, as `ipfs add -r -w` would build it."""
        nested: dict[str, object] = {}
        for file_name, entry in files.items():
            *folders, leaf = file_name.split("/")
            node = nested
            for folder in folders:
                child = node.setdefault(folder, {})
                assert isinstance(child, dict)
                node = child
            node[leaf] = entry

        def build(node: dict[str, object]) -> tuple[str, int]:
            entries: dict[str, tuple[str, int]] = {}
            for entry_name, value in node.items():
                entries[entry_name] = build(value) if isinstance(value, dict) else value  # type: ignore[assignment]
            block = directory_node(entries)
            cid = compute(DAG_PB, block)
            self.store.put_block(cid, block)
            return cid, len(block) + sum(tsize for _, tsize in entries.values())

        return build(nested)[0]

    def pull(self, ref: str, out_dir: Path, progress: Progress = SILENT) -> PullResult:
        """Fetch and verify every file of a manifest into `out_dir`.

        Files are assembled in a staging folder inside `out_dir` and moved into place only after all of them
        verified, so a failed pull leaves no partial file behind.
        """
        manifest = self.manifest(self.resolve(ref))
        targets = {file_name: safe_relpath(file_name) for file_name in manifest.files}
        out_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".zkreg-pull-", dir=out_dir))
        try:
            for file_name, cid in manifest.files.items():
                self.store.get_file(cid, staging / targets[file_name], manifest.sizes[file_name], progress)
            for file_name in manifest.files:
                final = out_dir / targets[file_name]
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / targets[file_name], final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        pulled = [PulledFile(n, cid, manifest.sizes[n]) for n, cid in manifest.files.items()]
        return PullResult(manifest, out_dir, pulled)

    def verify(self, ref: str, progress: Progress = SILENT) -> VerifyResult:
        """Check the manifest (CID, canonical form, schema, signature) and re-hash every block it names."""
        manifest = self.manifest(self.resolve(ref))
        total = 0
        for file_name, cid in manifest.files.items():
            total += self.store.verify_file(cid, manifest.sizes[file_name], progress)
        self.store.get_block(manifest.tree)
        return VerifyResult(manifest, len(manifest.files), total)
