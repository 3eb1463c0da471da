"""CID throughput: zkreg's importer vs single-core `hashlib.sha256` over the same bytes, same run; and the cost of
re-publishing a folder with one changed file against its first publish (the stat cache).

Throughput (one file, page cache warm): `hashlib.sha256` on one core is the baseline; then the importer on one
thread and on every core (leaves read with pread and hashed in parallel; hashlib releases the GIL), `zkreg cid`
as a user runs it (a subprocess, start-up included) and `zkreg publish` into a fresh local store. Target: `zkreg
cid` >= 1.6x the baseline on 1 GiB with 2 cores (the limit is 2x). aleph-cid (Rust) is printed when installed.

Re-publish: a folder of `--folder-files` files totalling `--folder-gib` GiB is published, one file changed in
place (same size), and the folder published again. Target: the second publish <= 10 % of the first.

    python bench/cid_throughput.py [--size-mib 1024] [--profile unixfs-v1-2025] [--folder-gib 4] [--repeat 3]

Figures taken on a loaded machine are only meaningful as ratios measured in the same run; `uptime` is printed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zkreg.api import PublishRequest, Repo, publish
from zkreg.registry.unixfs import import_path, profile_named

MIB = 1024 * 1024


def make_file(path: Path, size: int) -> None:
    with path.open("wb") as out:
        left = size
        while left:
            n = min(left, 16 * MIB)
            out.write(os.urandom(n))
            left -= n


def sha256_of(path: Path) -> None:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(MIB):
            digest.update(chunk)


def best_time(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def zkreg_cli(home: Path, *args: str) -> None:
    env = {**os.environ, "ZKREG_HOME": str(home)}
    subprocess.run([sys.executable, "-m", "zkreg", *args], env=env, check=True, stdout=subprocess.DEVNULL)


def throughput(tmp: Path, size_mib: int, profile_name: str, repeat: int) -> None:
    profile = profile_named(profile_name)
    path = tmp / "big.bin"
    make_file(path, size_mib * MIB)
    home = tmp / "home"
    zkreg_cli(home, "init")
    sha256_of(path)  # warm the page cache so every contender reads from memory
    base = best_time(lambda: sha256_of(path), repeat)
    print(f"{size_mib} MiB  hashlib.sha256, one core: {size_mib / base:8.1f} MiB/s  (baseline)")
    contenders: dict[str, Callable[[], object]] = {
        "importer, 1 thread": lambda: import_path(path, lambda c, b: None, profile, workers=1),
        "importer, all cores": lambda: import_path(path, lambda c, b: None, profile),
        "zkreg cid (CLI)": lambda: zkreg_cli(home, "cid", "--cid-profile", profile_name, str(path)),
    }
    try:
        import aleph_cid

        def aleph() -> None:
            hasher = aleph_cid.CidHasher.for_ipfs_v1_raw_leaves()
            with path.open("rb") as stream:
                while chunk := stream.read(4 * MIB):
                    hasher.update(chunk)
            hasher.finalize()

        contenders["aleph-cid (kubo-v1-legacy)"] = aleph
    except ImportError:
        pass
    for name, fn in contenders.items():
        elapsed = best_time(fn, repeat)
        print(f"{size_mib} MiB  {name:>26}: {size_mib / elapsed:8.1f} MiB/s  ratio {base / elapsed:.2f}")

    def publish_once() -> None:
        with tempfile.TemporaryDirectory(dir=tmp) as store_home, Repo.init(Path(store_home)) as repo:
            publish(repo, PublishRequest([path], name="big", cid_profile=profile_name))

    elapsed = best_time(publish_once, repeat)
    name = "zkreg publish (local store)"
    print(f"{size_mib} MiB  {name:>26}: {size_mib / elapsed:8.1f} MiB/s  ratio {base / elapsed:.2f}")
    path.unlink()


def republish(tmp: Path, folder_gib: float, files: int, profile_name: str) -> None:
    folder = tmp / "model"
    folder.mkdir()
    each = int(folder_gib * 1024 * MIB) // files
    for index in range(files):
        make_file(folder / f"shard-{index:03d}.bin", each)
    time.sleep(1.1)  # past the stat cache's racy margin: a file changed within 1 s of hashing is never cached
    with Repo.init(tmp / "republish-home") as repo:
        start = time.perf_counter()
        publish(repo, PublishRequest([folder], name="model", cid_profile=profile_name))
        first = time.perf_counter() - start
        with (folder / "shard-000.bin").open("r+b") as out:  # one file changed in place, same size
            out.seek(each // 2)
            out.write(os.urandom(4096))
        start = time.perf_counter()
        result = publish(repo, PublishRequest([folder], name="model", cid_profile=profile_name))
        second = time.perf_counter() - start
        assert result.version == "2", "the changed folder must publish as a new version"
    print(
        f"re-publish of {folder_gib:g} GiB in {files} files, one changed: first {first:.1f} s, "
        f"again {second:.2f} s = {100 * second / first:.1f} % of the first"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--profile", default="unixfs-v1-2025")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--folder-gib", type=float, default=4.0, help="0 skips the re-publish bench")
    parser.add_argument("--folder-files", type=int, default=16)
    args = parser.parse_args()
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    with tempfile.TemporaryDirectory() as tmp:
        throughput(Path(tmp), args.size_mib, args.profile, args.repeat)
        if args.folder_gib:
            republish(Path(tmp), args.folder_gib, args.folder_files, args.profile)
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
