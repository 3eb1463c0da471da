"""The local blockstore with large files, each figure a ratio against a baseline measured in the same run.

- publish of a random file into the local store (`zkreg publish`: chunk, hash, pack, fsync, index) vs copying
  the same bytes with fsync (target >= 0.5x), and of a file of zeros (one distinct block);
- CAR import (`zkreg import`: every block verified, packed, fsynced) vs `shutil.copyfile` (target >= 0.5x);
- with `--rss-gib N`: `zkreg publish`, `pull` and `verify` of an N GiB file, each in its own process under
  `/usr/bin/time -v`, with its peak RSS (target for 10 GiB: <= 200 MB each).

Every file is written to a temporary folder (default: the system's; `--tmp` to choose) and deleted at the end.
Usage: .venv/bin/python bench/store.py [--mib 1024] [--rss-gib 10] [--tmp DIR] [--parts publish,car]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

MIB = 1024 * 1024
ZKREG = [sys.executable, "-m", "zkreg"]


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def write_file(path: Path, size: int, *, zeros: bool = False) -> Path:
    import numpy  # local: only for writing random bytes faster than os.urandom

    random = numpy.random.default_rng()
    piece = bytes(16 * MIB) if zeros else b""
    with path.open("wb") as out:
        left = size
        while left:
            n = min(left, 16 * MIB)
            out.write(piece[:n] if zeros else random.bytes(n))
            left -= n
    return path


def copy_with_fsync(source: Path, target: Path) -> None:
    with source.open("rb") as reader, target.open("wb") as writer:
        shutil.copyfileobj(reader, writer, 4 * MIB)
        writer.flush()
        os.fsync(writer.fileno())
    target.unlink()


def zkreg(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ZKREG_HOME": str(home)}
    done = subprocess.run([*ZKREG, *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"zkreg {' '.join(args)} failed: {done.stderr}")
    return done


def measured(home: Path, *args: str) -> tuple[float, int]:
    """(seconds, peak RSS in bytes) of one zkreg command, from `/usr/bin/time -v`."""
    env = {**os.environ, "ZKREG_HOME": str(home)}
    start = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-v", *ZKREG, *args], env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"zkreg {' '.join(args)} failed: {done.stderr[-2000:]}")
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    assert peak is not None, done.stderr
    return seconds, int(peak.group(1)) * 1024


def best_of(rounds: int, action: Callable[[], object]) -> float:
    return min(timed(action) for _ in range(rounds))


def publish_and_baseline(tmp: Path, size: int, *, zeros: bool) -> None:
    what = "zeros " if zeros else "random"
    folder = tmp / f"artefact-{what.strip()}"
    folder.mkdir()
    source = write_file(folder / "model.bin", size, zeros=zeros)
    copy_s: list[float] = []
    publish_s: list[float] = []
    for round_index in range(2):
        copy_s.append(timed(lambda: copy_with_fsync(source, tmp / "copy.bin")))
        home = tmp / f"home-{what.strip()}-{round_index}"
        zkreg(home, "init")
        publish_s.append(timed(lambda h=home: zkreg(h, "publish", str(folder), "--name", "bench")))
        shutil.rmtree(home)
    mib = size / MIB
    print(
        f"publish ({what})   {mib / min(publish_s):8.1f} MiB/s   copy + fsync {mib / min(copy_s):8.1f} MiB/s   "
        f"ratio {min(copy_s) / min(publish_s):.2f}x (target >= 0.5x)"
    )
    shutil.rmtree(folder)


def artefact_and_home(tmp: Path, what: str, size: int) -> tuple[Path, Path]:
    """A folder holding `model.bin` of `size` random bytes, and a fresh data dir."""
    folder = tmp / f"artefact-{what}"
    folder.mkdir()
    write_file(folder / "model.bin", size)
    home = tmp / f"home-{what}"
    zkreg(home, "init")
    return folder, home


def car_import(tmp: Path, size: int) -> None:
    folder, home = artefact_and_home(tmp, "car", size)
    zkreg(home, "publish", str(folder), "--name", "bench")
    car = tmp / "bench.car"
    zkreg(home, "export", "bench", "-o", str(car))
    import_s: list[float] = []
    copy_s: list[float] = []
    durable_copy_s: list[float] = []
    for round_index in range(2):
        importer = tmp / f"home-import-{round_index}"
        zkreg(importer, "init")
        import_s.append(timed(lambda i=importer: zkreg(i, "import", str(car))))
        shutil.rmtree(importer)
        copy_s.append(timed(lambda: shutil.copyfile(car, tmp / "copy.car")))
        (tmp / "copy.car").unlink()
        durable_copy_s.append(timed(lambda: copy_with_fsync(car, tmp / "copy.car")))
    car_mib = car.stat().st_size / MIB
    print(
        f"CAR import         {car_mib / min(import_s):8.1f} MiB/s   shutil.copyfile {car_mib / min(copy_s):8.1f} MiB/s"
        f"   ratio {min(copy_s) / min(import_s):.2f}x (target >= 0.5x)"
    )
    print(
        f"                                     copy + fsync    {car_mib / min(durable_copy_s):8.1f} MiB/s"
        f"   ratio {min(durable_copy_s) / min(import_s):.2f}x (the import fsyncs its pack; copyfile does not)"
    )
    shutil.rmtree(home)
    shutil.rmtree(folder)
    car.unlink()


def peak_rss(tmp: Path, size: int) -> None:
    folder, author = artefact_and_home(tmp, "rss", size)
    gib = size / 1024**3
    publish_s, publish_rss = measured(author, "publish", str(folder), "--name", "big")
    pull_s, pull_rss = measured(author, "pull", "big", "-o", str(tmp / "pulled"))
    verify_s, verify_rss = measured(author, "verify", "big")
    [pulled] = (tmp / "pulled").rglob("model.bin")
    for what, seconds, rss in (
        ("publish", publish_s, publish_rss),
        ("pull", pull_s, pull_rss),
        ("verify", verify_s, verify_rss),
    ):
        print(
            f"{what:<8} {gib:.0f} GiB     {seconds:7.1f} s ({size / MIB / seconds:7.1f} MiB/s)   "
            f"peak RSS {rss / 1e6:6.1f} MB (target <= 200 MB)"
        )
    assert pulled.stat().st_size == size, "the pulled file has the wrong size"
    shutil.rmtree(tmp / "pulled")
    shutil.rmtree(folder)
    shutil.rmtree(author)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--rss-gib", type=int, default=0)
    parser.add_argument("--tmp", type=Path, default=None)
    parser.add_argument("--parts", default="publish,car", help="which of publish,car to run (comma-separated)")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f} {os.getloadavg()[2]:.1f}")
    with tempfile.TemporaryDirectory(prefix="zkreg-bench-store-", dir=args.tmp) as tmp_name:
        tmp = Path(tmp_name)
        size = args.mib * MIB
        if "publish" in args.parts:
            publish_and_baseline(tmp, size, zeros=False)
            publish_and_baseline(tmp, size, zeros=True)
        if "car" in args.parts:
            car_import(tmp, size)
        if args.rss_gib:
            peak_rss(tmp, args.rss_gib * 1024**3)
    print(f"load average after:  {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f} {os.getloadavg()[2]:.1f}")


if __name__ == "__main__":
    main()
