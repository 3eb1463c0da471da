"""CID throughput of zkreg's offline UnixFS importer vs plain `hashlib.sha256` over the same bytes, same run.

Both read the same file in 256 KiB chunks; the importer also builds the dag-pb tree and base32 CIDs. Target: a
ratio >= 0.8. aleph-cid (Rust) is printed for reference when installed.

    python bench/cid_throughput.py [--sizes 256,1024] [--repeat 3]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from zkreg.registry.unixfs import CHUNK_SIZE, import_stream

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
        while chunk := stream.read(CHUNK_SIZE):
            digest.update(chunk)


def zkreg_cid_of(path: Path) -> None:
    with path.open("rb") as stream:
        import_stream(stream, lambda cid, block: None)


def aleph_cid_of(path: Path) -> None:
    import aleph_cid

    hasher = aleph_cid.CidHasher.for_ipfs_v1_raw_leaves()
    with path.open("rb") as stream:
        while chunk := stream.read(4 * MIB):
            hasher.update(chunk)
    hasher.finalize()


def best_time(fn: Callable[[Path], None], path: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(path)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="256,1024", help="file sizes in MiB, comma-separated")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    try:
        import aleph_cid  # noqa: F401

        contenders = {"zkreg": zkreg_cid_of, "aleph-cid": aleph_cid_of}
    except ImportError:
        contenders = {"zkreg": zkreg_cid_of}
    with tempfile.TemporaryDirectory() as tmp:
        for size_mib in (int(s) for s in args.sizes.split(",")):
            path = Path(tmp) / f"{size_mib}.bin"
            make_file(path, size_mib * MIB)
            sha256_of(path)  # warm the page cache so both sides read from memory
            base = best_time(sha256_of, path, args.repeat)
            print(f"{size_mib} MiB  hashlib.sha256: {size_mib / base:8.1f} MiB/s")
            for name, fn in contenders.items():
                elapsed = best_time(fn, path, args.repeat)
                print(f"{size_mib} MiB  {name:>14}: {size_mib / elapsed:8.1f} MiB/s  ratio {base / elapsed:.2f}")
            path.unlink()


if __name__ == "__main__":
    main()
