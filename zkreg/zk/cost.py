"""What a setup and a proof cost on this machine: measured once per data dir and backend version, then scaled.

The measurement (`ProofBackend.measure_cost`) proves a probe circuit (one 4x4 MatMul, so no range-check table
forces a minimum size) at two small sizes, `PROBE_LOGROWS`, in one child process, and records for each size the
seconds of dev-SRS generation, setup and witness + prove (CPU seconds over the cores: what they take with the
machine to itself, see `ezkl_child.measure_cost`), and the child's peak RSS. halo2's work is dominated by FFTs
and multi-exponentiations over all 2^logrows rows, so the times are scaled in proportion to the rows from the
larger probe size, and memory is fitted as `fixed + per_row * 2^logrows` through both sizes (the process and the
library are a real fixed part of memory). Proportional scaling counts the probe's fixed time as per-row work,
which overestimates a narrow circuit; the probe cannot see the circuit's column count, which makes a wide one
(hashed weights, many einsum columns) cost more per row than the probe: bench/zk.py prints the estimate next to
the measured figures.

`<data dir>/zk/cost.json` keeps the measurement; one made by another backend version or on a machine with a
different core count or memory, or that does not parse, is measured again (and replaced atomically).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from zkreg.fsutil import atomic_write

GB = 1 << 30
PROBE_LOGROWS = (11, 13)
COST_FORMAT = 1
_FIGURES = ("srs_s", "setup_s", "prove_s", "peak_bytes")


@dataclass(frozen=True)
class CostPoint:
    """One measured run of the probe circuit at `logrows`."""

    logrows: int
    srs_s: float
    setup_s: float
    prove_s: float
    peak_bytes: int

    @classmethod
    def parse(cls, raw: object) -> CostPoint:
        if not isinstance(raw, dict) or set(raw) != {"logrows", *_FIGURES}:
            raise ValueError("a cost point has logrows, srs_s, setup_s, prove_s and peak_bytes")
        logrows = raw["logrows"]
        if not isinstance(logrows, int) or isinstance(logrows, bool) or not 1 <= logrows <= 30:
            raise ValueError("logrows out of range")
        figures = [raw[name] for name in _FIGURES]
        if not all(isinstance(value, int | float) and not isinstance(value, bool) and value >= 0 for value in figures):
            raise ValueError("a cost figure is not a non-negative number")
        return cls(logrows, float(raw["srs_s"]), float(raw["setup_s"]), float(raw["prove_s"]), int(raw["peak_bytes"]))


@dataclass(frozen=True)
class Estimate:
    """Cost of setup and proving for a circuit of `logrows`, from this machine's measurement."""

    logrows: int
    mode: str
    setup_seconds: float
    prove_seconds: float
    peak_bytes: int
    measured_at: tuple[int, ...]
    """The probe sizes (logrows) the figures are extrapolated from."""

    def describe(self) -> str:
        return (
            f"logrows {self.logrows}, {self.mode}: setup ~{self.setup_seconds:.0f} s, "
            f"prove ~{self.prove_seconds:.0f} s, peak ~{self.peak_bytes / GB:.1f} GB "
            f"(extrapolated from this machine at logrows {'/'.join(map(str, self.measured_at))})"
        )


def _proportional(points: list[tuple[int, float]], logrows: int) -> float:
    """The largest measured point scaled by the rows: `figure * 2^(logrows - measured logrows)`."""
    measured_logrows, figure = max(points)
    return figure * 2.0 ** (logrows - measured_logrows)


def _fit(points: list[tuple[int, float]], logrows: int) -> float:
    """`fixed + per_row * 2^logrows` through the smallest and largest measured point, neither part negative."""
    (small_k, small), (big_k, big) = min(points), max(points)
    per_row = max(big - small, 0.0) / ((1 << big_k) - (1 << small_k))
    fixed = max(small - per_row * (1 << small_k), 0.0)
    return fixed + per_row * (1 << logrows)


@dataclass(frozen=True)
class CostProfile:
    """The probe measurements of one mode on this machine."""

    mode: str
    points: tuple[CostPoint, ...]

    def estimate(self, logrows: int, dev_srs_needed: bool = False) -> Estimate:
        def scaled(pick: Callable[[CostPoint], float]) -> float:
            return _proportional([(point.logrows, pick(point)) for point in self.points], logrows)

        srs_s = scaled(lambda point: point.srs_s) if dev_srs_needed else 0.0
        return Estimate(
            logrows,
            self.mode,
            scaled(lambda point: point.setup_s) + srs_s,
            scaled(lambda point: point.prove_s),
            int(_fit([(point.logrows, point.peak_bytes) for point in self.points], logrows)),
            tuple(sorted(point.logrows for point in self.points)),
        )


def machine() -> dict[str, int]:
    """What the measurement is valid for: a data dir moved to another machine is measured again."""
    return {"cpus": os.cpu_count() or 1, "memory_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")}


class CostCache:
    """`<data dir>/zk/cost.json`: per mode, the probe points measured with one backend version on this machine."""

    def __init__(self, path: Path, backend: str, version: str) -> None:
        self.path = path
        self._key = {"format": COST_FORMAT, "backend": backend, "version": version, "machine": machine()}

    def load(self, mode: str) -> CostProfile | None:
        """The recorded profile for `mode`, or None if there is none, it is stale or it does not parse."""
        document = self._document()
        raw = document.get("modes", {}).get(mode) if document else None
        if raw is None:
            return None
        try:
            if not isinstance(raw, list) or len(raw) < 2:
                raise ValueError("a profile has at least two points")
            points = tuple(CostPoint.parse(point) for point in raw)
            if len({point.logrows for point in points}) < 2:
                raise ValueError("the points must be at two sizes at least")
        except ValueError:
            return None
        return CostProfile(mode, points)

    def _document(self) -> dict[str, Any] | None:
        """The whole file if it is ours and current (same format, backend, version and machine), else None."""
        try:
            document = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(document, dict) or any(document.get(key) != value for key, value in self._key.items()):
            return None
        if not isinstance(document.get("modes"), dict):
            return None
        return document

    def record(self, profile: CostProfile) -> None:
        document = self._document() or {**self._key, "modes": {}}
        document["modes"][profile.mode] = [asdict(point) for point in profile.points]
        document["measured"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, json.dumps(document, indent=1, sort_keys=True).encode())

    def profile(self, mode: str, measure: Callable[[], list[CostPoint]]) -> CostProfile:
        """The recorded profile for `mode`; measured (and recorded) first if there is no current one."""
        found = self.load(mode)
        if found is None:
            found = CostProfile(mode, tuple(measure()))
            self.record(found)
        return found
