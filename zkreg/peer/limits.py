"""Bounds on what a provider spends on requests: size, time, concurrency and per-key rate.

`ProvingGate` runs at most `max_active` proofs at once and lets at most `max_queued` more wait; anything beyond
is refused at once with a retry hint (HTTP 503 + Retry-After), so a burst costs the provider nothing but a
refusal. `RateLimiter` is a token bucket per requester key (HTTP 429): one key cannot take the whole gate.
Both are in-process (one `zkreg serve` process) and thread-safe.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from zkreg.errors import (
    ServerBusy,
    Throttled,
)


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 2 * 1024 * 1024
    """A request body larger than this is refused before it is read (prove input, pushed feeds are capped too)."""
    max_push_bytes: int = 64 * 1024 * 1024
    body_timeout_s: float = 10.0
    """A client that has not sent its whole body by then is cut off (slowloris)."""
    header_timeout_s: float = 10.0
    """A connection whose request line and headers are not all in by then (from its opening, or from the end of
    its previous response) is closed."""
    max_connections_per_client: int = 32
    """Open connections one client address may hold; more are closed as soon as they open."""
    prove_timeout_s: float = 300.0
    max_active: int = 1
    """Proofs at once: proving uses every core, so more would only slow each one down."""
    max_queued: int = 4
    queue_timeout_s: float = 60.0
    rate_burst: int = 10
    """Signed requests one key may make at once ..."""
    rate_per_s: float = 1.0
    """... and per second after that."""


class ProvingGate:
    def __init__(self, max_active: int, max_queued: int, queue_timeout_s: float) -> None:
        self._slots = threading.Semaphore(max_active)
        self._lock = threading.Lock()
        self._admitted = 0
        self._capacity = max_active + max_queued
        self._max_active = max_active
        self._queue_timeout_s = queue_timeout_s
        self._recent_seconds = 10.0
        """A running estimate of one proof's duration, for Retry-After."""

    def _retry_after(self) -> int:
        waves = math.ceil((self._admitted + 1) / self._max_active)
        return max(1, math.ceil(waves * self._recent_seconds))

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._lock:
            if self._admitted >= self._capacity:
                raise ServerBusy(
                    f"all {self._max_active} proving slot(s) and {self._capacity - self._max_active} queue "
                    "place(s) are taken",
                    self._retry_after(),
                )
            self._admitted += 1
        try:
            if not self._slots.acquire(timeout=self._queue_timeout_s):
                raise ServerBusy(f"waited {self._queue_timeout_s:.0f} s for a proving slot", self._retry_after())
            started = time.monotonic()
            try:
                yield
            finally:
                self._slots.release()
                with self._lock:
                    self._recent_seconds = 0.7 * self._recent_seconds + 0.3 * (time.monotonic() - started)
        finally:
            with self._lock:
                self._admitted -= 1


class RateLimiter:
    def __init__(self, burst: int, per_second: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._burst = burst
        self._rate = per_second
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}
        """key -> (tokens, time of the last update)."""

    def take(self, key: str) -> None:
        """Spend one token of `key`'s bucket, or raise `Throttled` saying when the next one is due."""
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self._burst), now))
            tokens = min(float(self._burst), tokens + (now - last) * self._rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                wait = math.ceil((1.0 - tokens) / self._rate)
                raise Throttled(f"{key} is sending requests faster than {self._rate:g}/s", wait)
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > 100_000:  # forget full buckets: they carry no state
                full = [k for k, (t, at) in self._buckets.items() if t + (now - at) * self._rate >= self._burst]
                for stale in full:
                    del self._buckets[stale]
