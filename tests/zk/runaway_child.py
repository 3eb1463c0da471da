"""A test-only child for `zkreg.zk.runner`: a step that never ends and starts a grandchild of its own, as a runaway
proof whose library forked a helper would. `python -m tests.zk.runaway_child REQUEST RESULT`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from zkreg.zk.runner import child_main


def run_away(report: str) -> None:
    """Start a grandchild that sleeps, write {child, grandchild, request} to `report`, then sleep forever."""
    grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    tmp = Path(f"{report}.tmp")
    tmp.write_text(json.dumps({"child": os.getpid(), "grandchild": grandchild.pid, "request": sys.argv[1]}))
    os.replace(tmp, report)
    time.sleep(600)


if __name__ == "__main__":
    child_main({"run_away": run_away})
