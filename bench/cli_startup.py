"""Start-up cost of `zkreg --help` vs `python -c "import typer"` (target: <= 1.5x), and the heavy modules that
`--help` must not import (ezkl, onnx, numpy).

    python bench/cli_startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

HEAVY = ("ezkl", "onnx", "numpy", "scipy", "httpx")


def median_time(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    baseline = median_time([sys.executable, "-c", "import typer"], args.runs)
    ours = median_time([sys.executable, "-m", "zkreg", "--help"], args.runs)
    print(f"python -c 'import typer': {baseline * 1000:7.1f} ms")
    print(f"zkreg --help:             {ours * 1000:7.1f} ms   ratio {ours / baseline:.2f} (target <= 1.5)")
    probe = (
        "import sys\nfrom zkreg.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    heavy = out.strip().splitlines()[-1].removeprefix("HEAVY=")
    print(f"heavy modules imported by --help: {heavy or 'none'}")


if __name__ == "__main__":
    main()
