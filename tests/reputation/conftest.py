"""Fixtures of the ledger tests: a fresh ledger on disk, and a swarm of data dirs (publisher, two attesters, a
CI gate) for consensus."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from zkreg.api import (
    ExportCarRequest,
    ExportFeedsRequest,
    ImportCarRequest,
    ImportFeedsRequest,
    PublishRequest,
    Repo,
    VerifyRequest,
    export_car,
    export_feeds,
    import_car,
    import_feeds,
    publish,
    trust_peer,
    verify,
)
from zkreg.reputation.ledger import Ledger


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    opened = Ledger(tmp_path / "ledger.db")
    yield opened
    opened.close()


EXAMPLES = Path(__file__).parents[2] / "examples"


@dataclass
class Swarm:
    publisher: Repo
    alice: Repo
    bob: Repo
    gate: Repo
    model: str
    folder: Path

    def attest(self, attester: Repo, policy: Path | None = None) -> None:
        verify(attester, VerifyRequest(self.model, attest=True, policy=policy))

    def feed_file(self, source: Repo) -> Path:
        """The feeds `source` holds, exported as a feed file."""
        path = self.folder / f"{source.identity.did[-8:]}.feeds.car"
        export_feeds(source, ExportFeedsRequest(path))
        return path

    def gossip(self, *sources: Repo) -> None:
        """The gate imports the sources' feeds (as a CI job would after `zkreg sync`)."""
        for source in sources:
            import_feeds(self.gate, ImportFeedsRequest(self.feed_file(source)))


@pytest.fixture
def swarm(tmp_path: Path) -> Iterator[Swarm]:
    repos = {name: Repo.init(tmp_path / name) for name in ("publisher", "alice", "bob", "gate")}
    publisher = repos["publisher"]
    publish(publisher, PublishRequest([EXAMPLES / "data"], name="flowers", kind="dataset"))
    model = publish(publisher, PublishRequest([EXAMPLES / "tiny-mlp.onnx"], name="mlp", dataset="flowers")).cid
    car = tmp_path / "mlp.car"
    export_car(publisher, ExportCarRequest(model, car))
    for name in ("alice", "bob", "gate"):
        import_car(repos[name], ImportCarRequest(car))  # an artefact each got from a peer
    trust_peer(repos["gate"], repos["alice"].identity.did)
    trust_peer(repos["gate"], repos["bob"].identity.did)
    yield Swarm(publisher, repos["alice"], repos["bob"], repos["gate"], model, tmp_path)
    for repo in repos.values():
        repo.close()
