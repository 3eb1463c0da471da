"""IPFS backend throughput, each figure a ratio against a baseline measured in the same run.

- publish of a 100 MiB model through the node (`publish(repo, PublishRequest(..., store="ipfs"))`: upload via
  /add, our CID in the same pass, local copy, manifest, recursive pin) vs the node's own `/add` of a same-size file
  with its default `pin=true` (target >= 0.9x); and the upload alone (`IpfsStore.put_file`, local copy included)
  vs `/add?pin=false`;
- our offline CID (UnixFS import, no storage) vs `hashlib.sha256` over the same bytes;
- pull into a fresh data dir through the node vs the node's own `/cat` of the file;
- CAR export and import (MiB/s) vs copying the same bytes with `shutil.copyfile`.

Starts its own js-ipfs node (tests/ipfs-node, `make bench` installs it) unless ZKREG_TEST_IPFS_API names one.
Usage: .venv/bin/python bench/ipfs.py [--mib 100]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.ipfs.node import IpfsNode, start_node
from zkreg.api import (
    ExportCarRequest,
    ImportCarRequest,
    PublishRequest,
    PullRequest,
    Repo,
    export_car,
    import_car,
    publish,
    pull,
)
from zkreg.registry.ipfs import IpfsStore
from zkreg.registry.unixfs import KUBO_V1_LEGACY, import_stream

CHUNK_SIZE = KUBO_V1_LEGACY.chunk_size

MIB = 1024 * 1024


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def write_random(path: Path, size: int) -> Path:
    with path.open("wb") as out:
        for _ in range(size // MIB):
            out.write(os.urandom(MIB))
        out.write(os.urandom(size % MIB))
    return path


def node_add(node: IpfsNode, path: Path, pin: bool) -> None:
    params = {
        "cid-version": "1",
        "raw-leaves": "true",
        "chunker": f"size-{CHUNK_SIZE}",
        "pin": "true" if pin else "false",
        "progress": "false",
        "cid-base": "base32",
    }
    with path.open("rb") as stream:
        answer = httpx.post(
            f"{node.url}/api/v0/add", params=params, files={"file": (path.name, stream)}, timeout=600, trust_env=False
        )
    answer.raise_for_status()


def node_cat(node: IpfsNode, cid: str) -> None:
    with httpx.stream("POST", f"{node.url}/api/v0/cat", params={"arg": cid}, timeout=600, trust_env=False) as answer:
        answer.raise_for_status()
        for _ in answer.iter_bytes():
            pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=100)
    size = parser.parse_args().mib * MIB
    with tempfile.TemporaryDirectory(prefix="zkreg-bench-ipfs-") as tmp_name:
        tmp = Path(tmp_name)
        external = os.environ.get("ZKREG_TEST_IPFS_API")
        node = IpfsNode(api=external) if external else start_node(tmp / "node")
        try:
            run(node, tmp, size)
        finally:
            node.stop()


def run(node: IpfsNode, tmp: Path, size: int) -> None:
    mib = size / MIB
    times: dict[str, list[float]] = {"add": [], "publish": [], "add-no-pin": [], "upload": []}
    for round_index in range(2):
        # Fresh random bytes for every upload, so no side finds blocks the node already holds.
        fresh = [write_random(tmp / f"model-{round_index}-{index}.bin", size) for index in range(4)]
        times["add"].append(timed(lambda f=fresh[0]: node_add(node, f, pin=True)))
        repo = Repo.init(tmp / f"home-{round_index}")
        repo.ipfs_api = node.api
        model = tmp / f"publish-{round_index}"
        model.mkdir()
        fresh[1].rename(model / "model.bin")
        times["publish"].append(
            timed(lambda r=repo, m=model: publish(r, PublishRequest([m], name="bench", store="ipfs")))
        )
        times["add-no-pin"].append(timed(lambda f=fresh[2]: node_add(node, f, pin=False)))
        with IpfsStore(node.api, cache=repo.store) as store:
            times["upload"].append(timed(lambda s=store, f=fresh[3]: s.put_file(f, KUBO_V1_LEGACY)))
        repo.close()
        for path in (fresh[0], fresh[2], fresh[3]):
            path.unlink()
    best = {name: min(values) for name, values in times.items()}
    print(
        f"publish via node   {mib / best['publish']:8.1f} MiB/s   node's own /add {mib / best['add']:8.1f} MiB/s   "
        f"ratio {best['add'] / best['publish']:.2f}x (target >= 0.9x)"
    )
    print(
        f"upload only        {mib / best['upload']:8.1f} MiB/s   /add?pin=false  {mib / best['add-no-pin']:8.1f} MiB/s"
        f"   ratio {best['add-no-pin'] / best['upload']:.2f}x"
    )

    published = Repo.open(tmp / "home-0")
    cid = published.resolve("bench")
    file_cid = published.show(cid).files["publish-0/model.bin"]
    published.close()
    cat_s = timed(lambda: node_cat(node, file_cid))
    puller = Repo.init(tmp / "home-pull")
    puller.ipfs_api = node.api
    pull_s = timed(lambda: pull(puller, PullRequest(cid, tmp / "pulled", store="ipfs")))
    puller.close()
    print(
        f"pull via node      {mib / pull_s:8.1f} MiB/s   node's own /cat {mib / cat_s:8.1f} MiB/s   "
        f"ratio {cat_s / pull_s:.2f}x (one CAR stream per file, verified, cached, read back)"
    )

    sample = write_random(tmp / "sample.bin", size)
    with sample.open("rb") as stream:
        cid_s = timed(lambda: import_stream(stream, lambda cid, block: None))
    with sample.open("rb") as stream:
        sha_s = timed(lambda: hashlib.file_digest(stream, "sha256"))
    print(
        f"offline CID        {mib / cid_s:8.1f} MiB/s   hashlib.sha256 {mib / sha_s:8.1f} MiB/s   "
        f"ratio {sha_s / cid_s:.2f}x"
    )

    repo = Repo.open(tmp / "home-0")
    car = tmp / "bench.car"
    export_s = timed(lambda: export_car(repo, ExportCarRequest(cid, car)))
    importer = Repo.init(tmp / "home-import")
    import_s = timed(lambda: import_car(importer, ImportCarRequest(car)))
    copy_s = timed(lambda: shutil.copyfile(car, tmp / "copy.car"))
    car_mib = car.stat().st_size / MIB
    print(
        f"CAR export         {car_mib / export_s:8.1f} MiB/s   file copy {car_mib / copy_s:8.1f} MiB/s   "
        f"ratio {copy_s / export_s:.2f}x"
    )
    print(
        f"CAR import         {car_mib / import_s:8.1f} MiB/s   file copy {car_mib / copy_s:8.1f} MiB/s   "
        f"ratio {copy_s / import_s:.2f}x (import reads the file twice: verify all, then store)"
    )


if __name__ == "__main__":
    main()
