"""What the zk tests share: the session's published models and bundles, and a dishonest prover's re-signing."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zkreg.api import Repo
from zkreg.identity import Identity

MLP_INPUT = [0.5, -0.25, 0.75, 0.1]
CONV_INPUT = [round(0.05 * i - 0.4, 3) for i in range(16)]


@dataclass
class Published:
    ref: str
    cid: str
    model: Path
    bundle: Path

    def bundle_json(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.bundle.read_text())
        return loaded


@dataclass
class ZkSession:
    repo: Repo
    home: Path
    folder: Path
    mlp_fixed: Published
    mlp_hashed: Published
    conv_public: Published

    def write_bundle(self, bundle: dict[str, Any], name: str) -> Path:
        path = self.folder / name
        path.write_text(json.dumps(bundle))
        return path


def resign(bundle: dict[str, Any], identity: Identity) -> dict[str, Any]:
    """What a dishonest prover can do: edit its own bundle and sign it again."""
    from zkreg.zk.bundle import sign_bundle

    body = {key: value for key, value in bundle.items() if key not in ("signature", "schema", "prover")}
    return sign_bundle(identity, body)
