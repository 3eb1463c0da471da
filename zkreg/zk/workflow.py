"""The zk workflows over one data dir: publish (settings, setup, commitment), prove (cold or warm) and verify.

Trust decisions in `verify_bundle`: the bundle names a manifest; the manifest's signature is checked; the proof
is checked against the vk, settings and SRS the manifest names (fetched by CID, every block re-hashed); the
commitment is checked per mode; inputs and outputs are read only from the proof's public instances.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from zkreg.errors import (
    BadEnv,
    BadZkMode,
    InvalidInput,
    NotProvable,
    ProofArtefactMismatch,
    ProofCommitmentMismatch,
    ProofDoesNotVerify,
    ProofInputMismatch,
    ProofNotZk,
    ProofOutputMismatch,
    ProofVersionMismatch,
    ProvingKeyNotFound,
    ZkExternalDataMissing,
    ZkTooLarge,
    ZkVersionMismatch,
    ZkVkMismatch,
)
from zkreg.fsutil import atomic_write
from zkreg.identity import Identity
from zkreg.progress import Progress
from zkreg.registry.manifest import Manifest
from zkreg.registry.store import BlockStore
from zkreg.registry.unixfs import CidProfile, file_cid, profile_named
from zkreg.zk.backend import MODES, TARGETS, ProofBackend
from zkreg.zk.bundle import PROOF_KEYS, sign_bundle
from zkreg.zk.cache import ArtefactCache, CacheEntry
from zkreg.zk.cost import PROBE_LOGROWS, CostCache, CostPoint, Estimate
from zkreg.zk.documents import CircuitSettings, ProofBundle, ZkSection
from zkreg.zk.ezkl_backend import EzklBackend
from zkreg.zk.inputs import check_values, load_input
from zkreg.zk.runner import Deadline
from zkreg.zk.srs import check_ceremony_srs, dev_srs

GB = 1 << 30


def memory_budget() -> int:
    """Bytes a setup or proof may use: `ZKREG_ZK_MEMORY_GB` if set, else the memory available right now."""
    override = os.environ.get("ZKREG_ZK_MEMORY_GB")
    if override:
        try:
            return int(float(override) * GB)
        except ValueError:
            raise BadEnv(f"ZKREG_ZK_MEMORY_GB={override!r} is not a number") from None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def memory_fence() -> int:
    """The child's address-space limit: all physical memory, so a runaway step fails alone, not the machine."""
    return max(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"), 4 * GB)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class ZkPublication:
    section: dict[str, Any]
    """The manifest's `zk` section, CIDs as strings."""
    files: dict[str, Path]
    """Published alongside the manifest's other files: settings, vk and SRS."""
    model_cid: str
    estimate: Estimate
    weight_files: frozenset[Path]
    """The model and every external-data file it reads (resolved): what `--weights private` never publishes."""


@dataclass(frozen=True)
class ProveResult:
    bundle: dict[str, Any]
    path: Path
    output: list[list[float]]
    cold: bool
    seconds: float


@dataclass(frozen=True)
class ProofVerdict:
    manifest: Manifest
    prover: str
    mode: str
    srs_kind: str
    input: list[list[float]]
    output: list[list[float]]


def zk_section(manifest: Manifest) -> ZkSection | None:
    """The manifest's zk section, typed (None if it has none)."""
    return None if manifest.zk is None else ZkSection.parse(manifest.zk, what=f"manifest {manifest.cid}")


class ZkWorkspace:
    """The zk artefacts of one data dir: the private cache, published artefacts fetched by CID, dev SRSs."""

    def __init__(self, home: Path, store: BlockStore, backend: ProofBackend | None = None) -> None:
        self.backend: ProofBackend = backend or EzklBackend()
        self.store = store
        self.cache = ArtefactCache(home / "zk" / "cache")
        self._srs_dir = home / "zk" / "srs"
        self._work = home / "zk" / "work"
        self.costs = CostCache(home / "zk" / "cost.json", self.backend.name, self.backend.version)

    def estimate(self, logrows: int, mode: str, progress: Progress, dev_srs_needed: bool = False) -> Estimate:
        """The cost of a setup and a proof at `logrows` on this machine, from its measurement (made first, once per
        data dir and backend version, if there is none: see `zkreg.zk.cost`)."""

        def measure() -> list[CostPoint]:
            self._work.mkdir(parents=True, exist_ok=True)
            progress.begin(f"zk: measuring this machine's proving cost ({mode}, once per data dir)", None)
            try:
                with tempfile.TemporaryDirectory(prefix="cost-", dir=self._work) as folder:
                    return self.backend.measure_cost(mode, PROBE_LOGROWS, Path(folder))
            finally:
                progress.end()

        return self.costs.profile(mode, measure).estimate(logrows, dev_srs_needed)

    def fetch(self, cid: str, folder: Path) -> Path:
        """A published artefact as a file in `folder`, every block checked against its CID on the way (again on
        each use: a block corrupted since the last use must not pass)."""
        path = folder / cid
        if not path.exists():
            self.store.get_file(cid, path)
        return path

    # ---- publish ---------------------------------------------------------------------------------------------

    def prepare_publish(
        self,
        model: Path,
        *,
        mode: str,
        calibration: Path | None,
        srs: Path | None,
        progress: Progress,
        profile: CidProfile,
        target: str = "resources",
    ) -> ZkPublication:
        from zkreg.zk.model_check import check_provable, write_self_contained  # local: onnx takes ~0.7 s

        if mode not in MODES:
            raise BadZkMode(f"--zk must be one of {', '.join(MODES)}")
        if target not in TARGETS:
            raise BadZkMode(f"--zk-target must be one of {', '.join(TARGETS)}")
        checked = check_provable(model)
        shapes = checked.input_shapes
        model_cid = file_cid(model)
        staging = self.cache.new_staging()
        try:
            if checked.external_data:
                write_self_contained(model, staging / "model.onnx")
            else:
                shutil.copyfile(model, staging / "model.onnx")
            if calibration is not None:
                values = load_input(calibration, shapes)
            else:
                rng = random.Random(0)  # noqa: S311  (calibration needs representative ranges, not secrecy)
                values = [[rng.uniform(-1.0, 1.0) for _ in range(_count(shape))] for shape in shapes]
            data = staging / "calibration.json"
            data.write_text(json.dumps({"input_data": values}))
            progress.begin("zk: calibrating circuit settings", None)
            try:
                logrows = self.backend.make_settings(
                    staging / "model.onnx", data, mode, target, staging / "settings.json"
                )
            finally:
                progress.end()
            dev_needed = srs is None and not (self._srs_dir / f"dev-k{logrows}.srs").exists()
            cost = self.estimate(logrows, mode, progress, dev_needed)
            budget = memory_budget()
            if cost.peak_bytes > budget:
                raise ZkTooLarge(
                    f"setup would need ~{cost.peak_bytes / GB:.1f} GB ({cost.describe()}); "
                    f"only {budget / GB:.1f} GB is available",
                    hint="use --zk fixed, a smaller model, or a machine with more memory",
                )
            if srs is not None:
                check_ceremony_srs(srs, logrows)
                srs_path, srs_kind = srs, "ceremony"
            else:
                progress.begin(f"zk: generating an insecure dev SRS (logrows {logrows})", None)
                try:
                    srs_path, srs_kind = dev_srs(self._srs_dir, self.backend, logrows), "dev"
                finally:
                    progress.end()
            progress.begin(f"zk: compiling and setting up ({cost.describe()})", None)
            try:
                self.backend.compile(staging / "model.onnx", staging / "settings.json", staging / "circuit.ezkl")
                self.backend.setup(
                    staging / "circuit.ezkl", srs_path, staging / "vk.key", staging / "pk.key", memory_fence()
                )
                commitment = self.backend.params_commitment(staging / "circuit.ezkl", data) if mode == "hashed" else []
            finally:
                progress.end()
            published = {
                "zk/settings.json": staging / "settings.json",
                "zk/vk.key": staging / "vk.key",
                f"zk/{srs_kind}-k{logrows}.srs": srs_path,
            }
            cids = {name: self.store.put_file(path, profile).cid for name, path in published.items()}
            settings_cid, vk_cid = cids["zk/settings.json"], cids["zk/vk.key"]
            srs_cid = cids[f"zk/{srs_kind}-k{logrows}.srs"]
            meta = {
                "backend": self.backend.name,
                "version": self.backend.version,
                "model": model_cid,
                "settings": settings_cid,
                "vk": vk_cid,
                "srs": srs_cid,
                "mode": mode,
            }
            entry = self.cache.commit(staging, meta)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        section: dict[str, Any] = {
            "backend": self.backend.name,
            "version": self.backend.version,
            "mode": mode,
            "settings": settings_cid,
            "vk": vk_cid,
            "srs": srs_cid,
            "srs_kind": srs_kind,
            "logrows": logrows,
            "visibility": {"input": "public", "output": "public", "params": mode},
        }
        if mode == "hashed":
            section["params_commitment"] = commitment
        files = {
            "zk/settings.json": entry.file("settings.json"),
            "zk/vk.key": entry.file("vk.key"),
            f"zk/{srs_kind}-k{logrows}.srs": srs_path,
        }
        weight_files = frozenset({model.resolve(), *(external.path for external in checked.external_data)})
        return ZkPublication(section, files, model_cid, cost, weight_files)

    # ---- prove -----------------------------------------------------------------------------------------------

    def settings_of(self, zk: ZkSection, folder: Path) -> tuple[Path, CircuitSettings]:
        """The circuit settings a zk section names: the fetched file (for the backend) and its checked fields."""
        path = self.fetch(zk.settings, folder)
        return path, CircuitSettings.load(path, what=f"circuit settings {zk.settings}")

    def _check_version(self, zk: ZkSection) -> None:
        if zk.backend != self.backend.name or zk.version != self.backend.version:
            raise ZkVersionMismatch(
                f"this model was set up with {zk.backend} {zk.version}; installed is "
                f"{self.backend.name} {self.backend.version}, whose keys and proofs are not compatible",
                hint=f"install {zk.backend}=={zk.version}",
            )

    def _entry_for(
        self, manifest: Manifest, zk: ZkSection, progress: Progress, deadline: Deadline | None
    ) -> tuple[CacheEntry, bool]:
        """The cached circuit and keys for this manifest, built (and cached) first if needed; True if built."""
        onnx_files = [name for name in manifest.files if name.endswith(".onnx")]
        public_model = manifest.files[onnx_files[0]] if manifest.weights == "public" and len(onnx_files) == 1 else None
        entry = self.cache.get(public_model, zk.settings) if public_model else self.cache.find(zk.settings)
        if entry is not None and (entry.meta.get("version") != self.backend.version or entry.meta.get("vk") != zk.vk):
            self.cache.remove(entry)  # made by another backend version, or for another vk: never reused
            entry = None
        if entry is not None:
            return entry, False
        if public_model is None:
            raise ProvingKeyNotFound(
                f"no proving key for {manifest.name}@{manifest.version}: its weights are private to its owner",
                hint="only the owner (with the cache made at publish) can prove this model",
            )
        staging = self.cache.new_staging()
        try:
            progress.begin("zk: building circuit and proving key (cold start)", None)
            fetched = staging / "fetched"
            self._fetch_model(manifest, onnx_files[0], fetched, staging / "model.onnx")
            shutil.copyfile(self.settings_of(zk, fetched)[0], staging / "settings.json")
            self.backend.compile(staging / "model.onnx", staging / "settings.json", staging / "circuit.ezkl", deadline)
            self.backend.setup(
                staging / "circuit.ezkl",
                self.fetch(zk.srs, fetched),
                staging / "vk.key",
                staging / "pk.key",
                memory_fence(),
                deadline,
            )
            shutil.rmtree(fetched)
            if file_cid(staging / "vk.key", profile_named(manifest.cid_profile)) != zk.vk:
                raise ZkVkMismatch(
                    "the rebuilt verifying key is not the published one; refusing to prove with it",
                )
            meta = {
                "backend": self.backend.name,
                "version": self.backend.version,
                "model": public_model,
                "settings": zk.settings,
                "vk": zk.vk,
                "srs": zk.srs,
                "mode": zk.mode,
            }
            return self.cache.commit(staging, meta), True
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        finally:
            progress.end()

    def _fetch_model(self, manifest: Manifest, onnx_name: str, fetched: Path, out: Path) -> None:
        """The published model as one file at `out`, with any external-data files it reads fetched too."""
        from zkreg.zk.model_check import external_locations, write_self_contained  # local: onnx takes ~0.7 s

        model = fetched / "model.onnx"
        self.store.get_file(manifest.files[onnx_name], model)
        locations = external_locations(model)
        for location in locations:
            published = str(PurePosixPath(onnx_name).parent / location)
            if published not in manifest.files:
                raise ZkExternalDataMissing(
                    f"{onnx_name} reads external data {str(location)!r}, which {manifest.name}@{manifest.version} "
                    "does not publish",
                )
            (fetched / location).parent.mkdir(parents=True, exist_ok=True)
            self.store.get_file(manifest.files[published], fetched / location)
        if locations:
            write_self_contained(model, out)
        else:
            shutil.copyfile(model, out)

    def prove(
        self,
        manifest: Manifest,
        identity: Identity,
        input_path: Path,
        out_path: Path,
        progress: Progress,
        deadline: Deadline | None = None,
    ) -> ProveResult:
        """Prove `manifest`'s model on the input file and write the signed bundle to `out_path`. With `deadline`,
        every child step (a cold start's compile and setup, then the proof) gets the time left, and the one running
        when it passes is killed with its processes: `ProveTimeout`, nothing cached or written."""
        started = time.perf_counter()
        zk = zk_section(manifest)
        if zk is None:
            raise NotProvable(
                f"{manifest.name}@{manifest.version} was published without zk artefacts",
                hint="publish it with --weights private, or --zk fixed|hashed",
            )
        self._check_version(zk)
        self._work.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="prove-", dir=self._work) as folder:
            settings = self.settings_of(zk, Path(folder))[1]
            values = load_input(input_path, settings.input_shapes)
            entry, cold = self._entry_for(manifest, zk, progress, deadline)
            data = Path(folder) / "input.json"
            data.write_text(json.dumps({"input_data": values}))
            proof_file = Path(folder) / "proof.json"
            progress.begin("zk: proving", None)
            try:
                self.backend.prove(
                    entry.file("circuit.ezkl"),
                    entry.file("pk.key"),
                    self.fetch(zk.srs, Path(folder)),
                    data,
                    proof_file,
                    memory_fence(),
                    deadline,
                )
            finally:
                progress.end()
            proof = json.loads(proof_file.read_text())
        kept = {key: proof[key] for key in PROOF_KEYS if key in proof}
        decoded = self.backend.decode(kept["instances"], settings, zk.mode)
        bundle = sign_bundle(
            identity,
            {
                "manifest": manifest.cid,
                "backend": {"name": self.backend.name, "version": self.backend.version},
                "settings": zk.settings,
                "vk": zk.vk,
                "srs": zk.srs,
                "input": values,
                "output": decoded.outputs,
                "proof": kept,
                "created": _now(),
            },
        )
        _write_atomically(out_path, json.dumps(bundle, indent=1, sort_keys=True) + "\n")
        return ProveResult(bundle, out_path, decoded.outputs, cold, time.perf_counter() - started)

    # ---- verify ----------------------------------------------------------------------------------------------

    def verify_bundle(self, bundle_path: Path, load_manifest: Callable[[str], Manifest]) -> ProofVerdict:
        return self.judge_bundle(ProofBundle.load(bundle_path), load_manifest)

    def judge_bundle(self, bundle: ProofBundle, load_manifest: Callable[[str], Manifest]) -> ProofVerdict:
        """The verdict on a parsed bundle, or `ProofInvalid` (or another `ZkregError`) with the reason."""
        manifest = load_manifest(bundle.manifest)
        zk = zk_section(manifest)
        if zk is None:
            raise ProofNotZk(f"manifest {manifest.cid} has no zk section to verify against")
        for key, named, published in (
            ("settings", bundle.settings, zk.settings),
            ("vk", bundle.vk, zk.vk),
            ("srs", bundle.srs, zk.srs),
        ):
            if named != published:
                raise ProofArtefactMismatch(
                    f"the bundle's {key} {named} is not the one manifest {manifest.cid} published ({published})",
                )
        if (bundle.backend_name, bundle.backend_version) != (zk.backend, zk.version):
            raise ProofVersionMismatch(
                f"the bundle was made with {bundle.backend_name} {bundle.backend_version}, the model "
                f"was set up with {zk.backend} {zk.version}",
            )
        self._check_version(zk)
        self._work.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="verify-", dir=self._work) as folder:
            settings_file, settings = self.settings_of(zk, Path(folder))
            vk_file, srs_file = self.fetch(zk.vk, Path(folder)), self.fetch(zk.srs, Path(folder))
            proof_file = Path(folder) / "proof.json"
            proof_file.write_text(json.dumps(bundle.proof))
            reason = self.backend.verify(proof_file, settings_file, vk_file, srs_file)
        if reason is not None:
            raise ProofDoesNotVerify(
                f"the proof does not verify against {manifest.name}@{manifest.version}'s vk: {reason}",
            )
        decoded = self.backend.decode(bundle.instances, settings, zk.mode)
        if zk.mode == "hashed" and tuple(decoded.params_commitment) != zk.params_commitment:
            raise ProofCommitmentMismatch(
                "the proof was made with weights whose hash is not the published params commitment",
            )
        try:
            claimed_input = check_values(bundle.input, settings.input_shapes, "the bundle's input")
        except InvalidInput as exc:
            raise ProofInputMismatch(exc.message) from None
        if self.backend.encode_inputs(claimed_input, settings) != decoded.input_elements:
            raise ProofInputMismatch("the bundle's input is not the input the proof was made for")
        if bundle.output != decoded.outputs:
            raise ProofOutputMismatch("the bundle's output is not the output the proof attests")
        return ProofVerdict(manifest, bundle.prover, zk.mode, zk.srs_kind, claimed_input, decoded.outputs)


def _count(shape: list[int]) -> int:
    total = 1
    for dim in shape:
        total *= dim
    return total


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, text.encode())
