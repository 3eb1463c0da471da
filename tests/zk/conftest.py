"""One zk data dir per test session: the dev SRS, setups and proofs are made once (real ezkl, no mocks) and the
threat tests tamper with copies of the bundles."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serve.conftest import start_peer  # noqa: F401  (real peers, for the private dataset tests here)
from tests.zk.helpers import CONV_INPUT, MLP_INPUT, Published, ZkSession
from tests.zk.models import build_conv, build_mlp
from zkreg.api import ProveRequest, PublishRequest, Repo, prove, publish


@pytest.fixture(scope="session")
def zk_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZkSession]:
    folder = tmp_path_factory.mktemp("zk")
    repo = Repo.init(folder / "home")
    (folder / "mlp-input.json").write_text(json.dumps(MLP_INPUT))
    (folder / "conv-input.json").write_text(json.dumps({"input_data": [CONV_INPUT]}))

    def publish_and_prove(name: str, model: Path, weights: str, zk: str, input_file: str) -> Published:
        result = publish(repo, PublishRequest([model], name=name, weights=weights, zk=zk))
        bundle = folder / f"{name}.proof.json"
        prove(repo, ProveRequest(name, folder / input_file, bundle))
        return Published(name, result.cid, model, bundle)

    session = ZkSession(
        repo=repo,
        home=folder / "home",
        folder=folder,
        mlp_fixed=publish_and_prove(
            "mlp-fixed", build_mlp(folder / "mlp.onnx", seed=0), "private", "fixed", "mlp-input.json"
        ),
        mlp_hashed=publish_and_prove(
            "mlp-hashed", build_mlp(folder / "mlp-h.onnx", seed=0), "private", "hashed", "mlp-input.json"
        ),
        conv_public=publish_and_prove(
            "conv", build_conv(folder / "conv.onnx", seed=0), "public", "fixed", "conv-input.json"
        ),
    )
    yield session
    repo.close()
