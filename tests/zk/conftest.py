"""One zk data dir per test session: the dev SRS, setups and proofs are made once (real ezkl, no mocks) and the
threat tests tamper with copies of the bundles."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.zk.models import build_conv, build_mlp
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


@pytest.fixture(scope="session")
def zk_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZkSession]:
    folder = tmp_path_factory.mktemp("zk")
    repo = Repo.init(folder / "home")
    (folder / "mlp-input.json").write_text(json.dumps(MLP_INPUT))
    (folder / "conv-input.json").write_text(json.dumps({"input_data": [CONV_INPUT]}))

    def publish(name: str, model: Path, weights: str, zk: str, input_file: str) -> Published:
        result = repo.publish([model], name=name, weights=weights, zk=zk)
        bundle = folder / f"{name}.proof.json"
        repo.prove(name, folder / input_file, bundle)
        return Published(name, result.cid, model, bundle)

    session = ZkSession(
        repo=repo,
        home=folder / "home",
        folder=folder,
        mlp_fixed=publish("mlp-fixed", build_mlp(folder / "mlp.onnx", seed=0), "private", "fixed", "mlp-input.json"),
        mlp_hashed=publish(
            "mlp-hashed", build_mlp(folder / "mlp-h.onnx", seed=0), "private", "hashed", "mlp-input.json"
        ),
        conv_public=publish("conv", build_conv(folder / "conv.onnx", seed=0), "public", "fixed", "conv-input.json"),
    )
    yield session
    repo.close()
