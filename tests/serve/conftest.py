"""Real peers for the serving tests: each a data dir with its own key, served by uvicorn on 127.0.0.1 (a free port)
in a thread of the test process, and reached over real HTTP; and Alice, a provider with a real zk model set up once
per session (each test works on a copy of her data dir)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.zk.models import build_mlp
from zkreg.api import PublishRequest, Repo, publish
from zkreg.app.provider import Provider
from zkreg.peer.limits import Limits
from zkreg.reputation.policy import Policy
from zkreg.serve.server import bind, make_server


@dataclass
class RunningPeer:
    home: Path
    url: str
    provider: Provider

    def repo(self) -> Repo:
        return Repo.open(self.home)

    @property
    def did(self) -> str:
        return self.provider.did


StartPeer = Callable[..., RunningPeer]


@pytest.fixture
def start_peer(tmp_path: Path) -> Iterator[StartPeer]:
    """Start a peer (`name` names its data dir, created if new); every started peer stops after the test."""
    stops: list[Callable[[], None]] = []

    def start(name: str, limits: Limits | None = None, policy: Policy | None = None) -> RunningPeer:
        home = tmp_path / name
        if not home.exists():
            Repo.init(home).close()
        provider = Provider(home, limits, policy)
        sock = bind("127.0.0.1", 0)
        port = sock.getsockname()[1]
        server = make_server(provider)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.01)

        def stop() -> None:
            server.should_exit = True
            thread.join(10)
            sock.close()

        stops.append(stop)
        return RunningPeer(home, f"http://127.0.0.1:{port}", provider)

    yield start
    for stop in stops:
        stop()


MLP_INPUT = [0.5, -0.25, 0.75, 0.1]


@dataclass(frozen=True)
class AliceTemplate:
    home: Path
    model: str
    """The manifest CID of her private-weights model."""
    dear_model: str
    """The same model published at 5 credits per proof."""


@pytest.fixture(scope="session")
def alice_template(tmp_path_factory: pytest.TempPathFactory) -> AliceTemplate:
    folder = tmp_path_factory.mktemp("alice-template")
    repo = Repo.init(folder / "home")
    model = build_mlp(folder / "mlp.onnx", seed=3)
    cid = publish(repo, PublishRequest([model], name="mlp", weights="private", zk="fixed")).cid
    dear = publish(repo, PublishRequest([model], name="mlp-dear", weights="private", zk="fixed", price=5)).cid
    repo.close()
    return AliceTemplate(folder / "home", cid, dear)


@pytest.fixture
def alice_home(alice_template: AliceTemplate, tmp_path: Path) -> Path:
    shutil.copytree(alice_template.home, tmp_path / "alice")
    return tmp_path / "alice"


@pytest.fixture
def input_file(tmp_path: Path) -> Path:
    path = tmp_path / "input.json"
    path.write_text(json.dumps(MLP_INPUT))
    return path


@pytest.fixture
def bob(tmp_path: Path) -> Iterator[Repo]:
    repo = Repo.init(tmp_path / "bob")
    yield repo
    repo.close()


@contextmanager
def zkreg_serve(home: Path, *options: str) -> Iterator[str]:
    """A real `zkreg serve` process over `home` on a free port of 127.0.0.1; its URL."""
    env = {**os.environ, "ZKREG_HOME": str(home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "zkreg", "serve", "--port", "0", "--json", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    try:
        assert proc.stdout is not None
        text = ""
        while True:  # `--json` prints one (indented) document, then serves on the socket it already bound
            line = proc.stdout.readline()
            assert line, "zkreg serve exited"
            text += line
            try:
                url = json.loads(text)["url"]
                break
            except ValueError:
                continue
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
