"""Real peers for the serving tests: each a data dir with its own key, served by uvicorn on 127.0.0.1 (a free port)
in a thread of the test process, and reached over real HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from zkreg.api import Repo
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
