"""Serving speed, each figure next to a baseline measured in the same run.

sync       `zkreg sync URL` of N entries (K feeds) from a peer served on 127.0.0.1 into an empty data dir, vs
           `ledger export` + `ledger import` of the same feeds through a CAR file (no HTTP). Target < 5 s for
           100k entries; the ratio is the cost of HTTP. The load average is printed with it.
pages      `GET /v1/feeds/{author}` pages per second (10,000 entries each) from the same peer.
prove      (--prove) `prove --remote` latency (signed request, policy, proof in the provider's child process,
           receipt, local verification of the bundle, `use`) vs a local `prove` of the same private-weights model
           in the same data dir. Target overhead <= 10 %.

  python bench/serve.py [--entries 100000] [--feeds 10] [--prove [--rounds 3]]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import nacl.signing

from zkreg.api import ProveRequest, PublishRequest, Repo, prove, publish
from zkreg.app.sync import SyncRequest, sync
from zkreg.identity import Identity
from zkreg.reputation.ledger import Ledger
from zkreg.reputation.sync import CarFileTransport, export_car, pull


@contextmanager
def serve(home: Path, options: list[str] | None = None) -> Iterator[str]:
    """`zkreg serve --port 0` in its own process, as a real peer runs; its URL."""
    env = {**os.environ, "ZKREG_HOME": str(home)}
    command = [sys.executable, "-m", "zkreg", "serve", "--port", "0", "--json", *(options or [])]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        lines = []
        while not lines or lines[-1] != "}":
            lines.append(proc.stdout.readline().rstrip("\n"))
        yield str(json.loads("\n".join(lines))["url"])
    finally:
        proc.terminate()
        proc.wait(10)


def fill(home: Path, entries: int, feeds: int) -> list[str]:
    """`feeds` identities' feeds of endorsements in the serving peer's ledger, `entries` in all."""
    ledger = Ledger(home / "ledger.db")
    people = [Identity(nacl.signing.SigningKey(hashlib.sha256(f"bench-{n}".encode()).digest())) for n in range(feeds)]
    per_feed = entries // feeds
    for person in people:
        for start in range(0, per_feed, 1000):
            items = [("endorse", {"peer": people[(start + i) % feeds].did, "weight": 1 + i % 10}) for i in range(1000)]
            ledger.append_batch(person, items[: per_feed - start])
    ledger.close()
    return [person.did for person in people]


def measure(folder: Path, alice: Path, url: str, authors: list[str], entries: int) -> None:
    baseline_dir = Repo.init(folder / "carol")
    started = time.perf_counter()
    source = Ledger(alice / "ledger.db")
    export_car(source, folder / "feeds.car")
    source.close()
    pull(baseline_dir.ledger, CarFileTransport(folder / "feeds.car"))
    baseline = time.perf_counter() - started
    baseline_dir.close()

    bob = Repo.init(folder / "bob")
    started = time.perf_counter()
    report = sync(bob, SyncRequest(url))
    elapsed = time.perf_counter() - started
    assert report.pulled.accepted == entries, report.to_json()
    bob.close()
    print(
        f"sync:  {entries} entries over HTTP in {elapsed:.2f} s ({entries / elapsed:,.0f} entries/s); "
        f"CAR file export+import {baseline:.2f} s; ratio {elapsed / baseline:.2f}x (target < 5 s; load average "
        f"{' '.join(f'{value:.1f}' for value in os.getloadavg())})"
    )

    with httpx.Client(base_url=url) as client:
        started = time.perf_counter()
        pages = 0
        for author in authors:
            after = 0
            while True:
                response = client.get(f"/v1/feeds/{author}", params={"after": after})
                pages += 1
                last = int(response.headers["x-zkreg-last-seq"])
                if last <= after:
                    break
                after = last
        elapsed = time.perf_counter() - started
    print(f"pages: {pages} GET /v1/feeds pages in {elapsed:.2f} s ({pages / elapsed:.1f} requests/s)")


def measure_prove(rounds: int) -> None:
    sys.path.insert(0, str(Path(__file__).parents[1]))
    from tests.zk.models import build_mlp
    from zkreg.app.remote import RemoteProveRequest, prove_remote
    from zkreg.reputation.policy import DEFAULT_FREE_QUOTA

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        alice = Repo.init(folder / "alice")
        model = publish(
            alice, PublishRequest([build_mlp(folder / "mlp.onnx")], name="mlp", weights="private", zk="fixed")
        ).cid
        (folder / "input.json").write_text(json.dumps([0.5, -0.25, 0.75, 0.1]))
        prove(alice, ProveRequest(model, folder / "input.json", folder / "warm.json"))  # both sides then run warm
        local = []
        for n in range(rounds):
            started = time.perf_counter()
            prove(alice, ProveRequest(model, folder / "input.json", folder / f"local{n}.json"))
            local.append(time.perf_counter() - started)
        alice.close()
        bob = Repo.init(folder / "bob")
        remote = []
        with serve(folder / "alice", ["--free-quota", str(rounds + DEFAULT_FREE_QUOTA)]) as url:
            for n in range(rounds):
                started = time.perf_counter()
                prove_remote(bob, RemoteProveRequest(url, model, folder / "input.json", folder / f"remote{n}.json"))
                remote.append(time.perf_counter() - started)
        bob.close()
    best_local, best_remote = min(local), min(remote)
    print(
        f"prove: remote {best_remote:.2f} s vs local {best_local:.2f} s (best of {rounds}); "
        f"overhead {100 * (best_remote / best_local - 1):+.0f} % (target <= 10 %)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--feeds", type=int, default=10)
    parser.add_argument("--prove", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.prove:
        measure_prove(args.rounds)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        alice = folder / "alice"
        Repo.init(alice).close()
        started = time.perf_counter()
        authors = fill(alice, args.entries, args.feeds)
        print(f"setup: {args.entries} entries in {args.feeds} feeds signed in {time.perf_counter() - started:.1f} s")
        with serve(alice) as url:
            measure(folder, alice, url, authors, args.entries)


if __name__ == "__main__":
    main()
