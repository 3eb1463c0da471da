"""The owner's private artefact cache: what proving needs and must never be published.

`<root>/<model CID>/<settings CID>/` holds the model, settings, compiled circuit, proving and verifying keys and
`meta.json` (backend, version, CIDs). An entry is built in a staging folder under `<root>/.staging/` and renamed
into place whole, so an entry that exists is complete; staging folders of dead processes are removed on open.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zkreg.errors import ZkCacheDamaged
from zkreg.fsutil import atomic_write
from zkreg.registry.store import pid_alive

ENTRY_FILES = ("model.onnx", "settings.json", "circuit.ezkl", "vk.key", "pk.key", "meta.json")


@dataclass(frozen=True)
class CacheEntry:
    folder: Path
    meta: dict[str, Any]

    def file(self, name: str) -> Path:
        return self.folder / name


class ArtefactCache:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._staging = root / ".staging"
        self._staging.mkdir(parents=True, exist_ok=True)
        self._remove_dead_staging()

    def _remove_dead_staging(self) -> None:
        for folder in self._staging.iterdir():
            pid = folder.name.split("-")[0]
            if pid.isdigit() and not pid_alive(int(pid)):
                shutil.rmtree(folder, ignore_errors=True)

    def new_staging(self) -> Path:
        return Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=self._staging))

    def get(self, model_cid: str, settings_cid: str) -> CacheEntry | None:
        return self._load(self.root / model_cid / settings_cid)

    def find(self, settings_cid: str) -> CacheEntry | None:
        """The entry for a published settings CID, whichever model it was built from (settings are unique)."""
        for folder in sorted(self.root.glob(f"*/{settings_cid}")):
            entry = self._load(folder)
            if entry is not None:
                return entry
        return None

    def _load(self, folder: Path) -> CacheEntry | None:
        if not all((folder / name).is_file() for name in ENTRY_FILES):
            return None
        try:
            meta = json.loads((folder / "meta.json").read_text())
        except (OSError, ValueError) as exc:
            meta = exc
        if not isinstance(meta, dict):
            raise ZkCacheDamaged(
                f"the private zk cache entry {folder} is damaged (unreadable meta.json)",
                hint=f"remove {folder}; with the model's ONNX file at hand, publish or prove rebuilds it",
            )
        return CacheEntry(folder, meta)

    def commit(self, staging: Path, meta: dict[str, Any]) -> CacheEntry:
        """Move a complete staging folder into place as the entry for its model and settings."""
        atomic_write(staging / "meta.json", json.dumps(meta, indent=2, sort_keys=True).encode())
        missing = [name for name in ENTRY_FILES if not (staging / name).is_file()]
        if missing:
            raise RuntimeError(f"cache entry is missing {missing}")  # a bug, not a user error
        final = self.root / meta["model"] / meta["settings"]
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(staging, final)
        except OSError:
            if self._load(final) is None:
                raise
            shutil.rmtree(staging, ignore_errors=True)  # another process committed the same entry first
        return CacheEntry(final, meta)

    def remove(self, entry: CacheEntry) -> None:
        shutil.rmtree(entry.folder, ignore_errors=True)
