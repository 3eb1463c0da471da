"""Runs heavy proof-system steps in a child process with an address-space limit.

The proving library aborts the whole process when it runs out of memory (SIGABRT) and raises BaseExceptions that
are not `Exception`s on some malformed input. Running it in `python -m <child module>` keeps the caller alive:
a child that dies by a signal or reports an error becomes a `ZkFailed` with the reason, and every output is
written into a folder the caller owns, so a failed step leaves nothing the cache would pick up.

Protocol: the child reads a JSON request `{"steps": [[name, {args}], ...], "memory_limit": bytes|null}` from the
file named by argv[1] and writes `{"results": [...]}` or `{"error": {"type", "message"}}` to argv[2].
"""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from zkreg.errors import ZkChildFailed, ZkChildKilled, ZkStepFailed
from zkreg.fsutil import atomic_write

Step = tuple[str, dict[str, Any]]
Handler = Callable[..., Any]


def run_steps(module: str, steps: list[Step], *, memory_limit: int | None) -> list[Any]:
    """Run `steps` in one child process of `module`; their results in order."""
    with tempfile.TemporaryDirectory(prefix="zkreg-child-") as folder:
        request = Path(folder) / "request.json"
        result = Path(folder) / "result.json"
        request.write_text(json.dumps({"steps": steps, "memory_limit": memory_limit}))
        proc = subprocess.run(
            [sys.executable, "-m", module, str(request), str(result)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=False,
        )
        names = "+".join(name for name, _ in steps)
        if proc.returncode < 0:
            signame = signal.Signals(-proc.returncode).name
            reason = "out of memory" if -proc.returncode == signal.SIGABRT else "killed"
            raise ZkChildKilled(
                f"the proving process for {names} died by {signame} ({reason}); nothing was kept",
                hint="on out-of-memory: use a smaller model, `--zk fixed`, or a machine with more memory",
            )
        if not result.exists():
            tail = proc.stderr.decode(errors="replace").strip().splitlines()[-3:]
            raise ZkChildFailed(
                f"the proving process for {names} exited with status {proc.returncode}: {' | '.join(tail)}",
            )
        answer = json.loads(result.read_text())
    if "error" in answer:
        raise ZkStepFailed(f"{names} failed: {answer['error']['message']}")
    results: list[Any] = answer["results"]
    return results


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
