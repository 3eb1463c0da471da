"""Runs heavy proof-system steps in a child process with an address-space limit.

The proving library aborts the whole process when it runs out of memory (SIGABRT) and raises BaseExceptions that
are not `Exception`s on some malformed input. Running it in `python -m <child module>` keeps the caller alive:
a child that dies by a signal or reports an error becomes a `ZkFailed` with the reason, and every output is
written into a folder the caller owns, so a failed step leaves nothing the cache would pick up.

The child runs in a session (process group) of its own: with a `Deadline`, the whole group (the child and
anything it started) is killed with SIGKILL when the time is up and reaped before `ProveTimeout` is raised, so a
runaway proof frees its caller and leaves no process behind. An interrupt of the caller (Ctrl-C reaches only the
terminal's foreground group) kills the group too.

Protocol: the child reads a JSON request `{"steps": [[name, {args}], ...], "memory_limit": bytes|null}` from the
file named by argv[1] and writes `{"results": [...]}` or `{"error": {"type", "message"}}` to argv[2].
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zkreg.errors import ProveTimeout, ZkChildFailed, ZkChildKilled, ZkStepFailed
from zkreg.fsutil import atomic_write

Step = tuple[str, dict[str, Any]]
Handler = Callable[..., Any]


@dataclass(frozen=True)
class Deadline:
    """When a whole proof (every child step it runs) must be done: a time on the monotonic clock, and the limit it
    was set from (for the message)."""

    at: float
    limit_s: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds, seconds)

    def remaining_s(self) -> float:
        return self.at - time.monotonic()

    def exceeded(self, during: str) -> ProveTimeout:
        return ProveTimeout(f"the proof took longer than {self.limit_s:g} s; it was stopped (during {during})")


def run_steps(
    module: str, steps: list[Step], *, memory_limit: int | None, deadline: Deadline | None = None
) -> list[Any]:
    """Run `steps` in one child process of `module`; their results in order. Past `deadline`, `ProveTimeout`."""
    names = "+".join(name for name, _ in steps)
    with tempfile.TemporaryDirectory(prefix="zkreg-child-") as folder:
        request = Path(folder) / "request.json"
        result = Path(folder) / "result.json"
        request.write_text(json.dumps({"steps": steps, "memory_limit": memory_limit}))
        timeout_s = None
        if deadline is not None:
            timeout_s = deadline.remaining_s()
            if timeout_s <= 0:
                raise deadline.exceeded(names)
        with subprocess.Popen(
            [sys.executable, "-m", module, str(request), str(result)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        ) as proc:
            try:
                _, stderr = proc.communicate(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                assert deadline is not None  # only a deadline sets a timeout
                raise deadline.exceeded(names) from None
            except BaseException:  # an interrupt: the child's group is not the terminal's, so it is ended here
                _kill_group(proc)
                raise
        if proc.returncode < 0:
            signame = signal.Signals(-proc.returncode).name
            reason = "out of memory" if -proc.returncode == signal.SIGABRT else "killed"
            raise ZkChildKilled(
                f"the proving process for {names} died by {signame} ({reason}); nothing was kept",
                hint="on out-of-memory: use a smaller model, `--zk fixed`, or a machine with more memory",
            )
        if not result.exists():
            tail = stderr.decode(errors="replace").strip().splitlines()[-3:]
            raise ZkChildFailed(
                f"the proving process for {names} exited with status {proc.returncode}: {' | '.join(tail)}",
            )
        answer = json.loads(result.read_text())
    if "error" in answer:
        raise ZkStepFailed(f"{names} failed: {answer['error']['message']}")
    results: list[Any] = answer["results"]
    return results


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's whole process group (it leads it: its pid is the group's id) and reap the child."""
    with contextlib.suppress(ProcessLookupError):  # the group is gone: nothing the child started is left
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def child_main(handlers: dict[str, Handler]) -> None:
    """The child's side: apply the memory limit, run the steps, report one JSON document."""
    request_path, result_path = sys.argv[1], sys.argv[2]
    request = json.loads(Path(request_path).read_text())
    limit = request["memory_limit"]
    if limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    answer: dict[str, Any]
    try:
        answer = {"results": [handlers[name](**args) for name, args in request["steps"]]}
    except BaseException as exc:  # the library's PanicException derives from BaseException
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        answer = {"error": {"type": type(exc).__name__, "message": message}}
    atomic_write(Path(result_path), json.dumps(answer).encode())
