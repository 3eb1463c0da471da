"""The proving runner's deadline, on a real runaway child (`tests/zk/runaway_child.py`) that starts a grandchild:
at the deadline the whole process group is killed, nothing is left behind, and the error is `ProveTimeout`."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from zkreg.errors import ZkregError
from zkreg.zk.runner import Deadline, run_steps

RUNAWAY = "tests.zk.runaway_child"


def running(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie waiting for its parent to reap it is dead: it holds nothing)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def wait_until_dead(pids: list[int]) -> list[int]:
    """The pids of `pids` still running after a generous wait (a SIGKILLed process ends at once)."""
    deadline = time.monotonic() + 30
    while any(running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [pid for pid in pids if running(pid)]


def test_a_runaway_step_is_killed_with_its_whole_process_group_at_the_deadline(tmp_path: Path) -> None:
    report = tmp_path / "pids.json"
    with pytest.raises(ZkregError) as caught:
        run_steps(RUNAWAY, [("run_away", {"report": str(report)})], memory_limit=None, deadline=Deadline.after(3.0))
    assert (caught.value.code, caught.value.exit_code) == ("serve/prove-timeout", 6)
    assert "3 s" in caught.value.message
    pids = json.loads(report.read_text())
    assert wait_until_dead([pids["child"], pids["grandchild"]]) == []
    assert not Path(pids["request"]).parent.exists(), "the step's folder is removed"


def test_a_deadline_already_passed_starts_no_child(tmp_path: Path) -> None:
    report = tmp_path / "pids.json"
    with pytest.raises(ZkregError) as caught:
        run_steps(RUNAWAY, [("run_away", {"report": str(report)})], memory_limit=None, deadline=Deadline.after(-1.0))
    assert caught.value.code == "serve/prove-timeout"
    assert not report.exists()


def test_an_interrupted_caller_kills_the_childs_group(tmp_path: Path) -> None:
    """Ctrl-C reaches only the terminal's process group, not the child's own session: the runner ends it."""
    report = tmp_path / "pids.json"
    caller = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, sys\n"
            "signal.signal(signal.SIGINT, signal.default_int_handler)  # as at a terminal, whoever started us\n"
            "from zkreg.zk.runner import run_steps\n"
            "try:\n"
            f"    run_steps({RUNAWAY!r}, [('run_away', {{'report': {str(report)!r}}})], memory_limit=None)\n"
            "except KeyboardInterrupt:\n"
            "    sys.exit(130)\n",
        ]
    )
    try:
        deadline = time.monotonic() + 60
        while not report.exists():
            assert time.monotonic() < deadline, "the runaway child never started"
            time.sleep(0.05)
        caller.send_signal(2)  # SIGINT to the caller alone, as a terminal's Ctrl-C would send it
        assert caller.wait(60) == 130
    finally:
        if caller.poll() is None:
            caller.kill()
    pids = json.loads(report.read_text())
    assert wait_until_dead([pids["child"], pids["grandchild"]]) == []
