"""A real IPFS node for the tests: js-ipfs 0.66.1 from npm (tests/ipfs-node), serving the Kubo RPC API on loopback.

Started exactly as a user would: `jsipfs init --profile test` (no bootstrap, no MDNS, loopback addresses), the RPC
API on a random port, `daemon --offline --enable-preload=false`; ready when it prints "Daemon is ready"; its API
address read from `$IPFS_PATH/api`; stopped by PID.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

NODE_DIR = Path(__file__).resolve().parents[1] / "ipfs-node"
JSIPFS = NODE_DIR / "node_modules" / ".bin" / "jsipfs"
START_TIMEOUT_S = 90.0


@dataclass
class IpfsNode:
    api: str
    """The API multiaddr, as ZKREG_IPFS_API takes it."""
    ipfs_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    log: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        from zkreg.registry.ipfs import api_url

        return api_url(self.api)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Stop the node by its PID (SIGKILL: it dies at once, as a crashed node would)."""
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.process.pid, sig)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=15)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    def restart_after_crash(self) -> None:
        """Start the daemon again on the same repo. A killed js-ipfs leaves its `repo.lock` behind (Kubo's lock
        dies with the process), so it is removed first, as an operator restarting a crashed node does."""
        assert self.ipfs_path is not None
        lock = self.ipfs_path / "repo.lock"
        if lock.is_dir():
            shutil.rmtree(lock)
        else:
            lock.unlink(missing_ok=True)
        restarted = start_daemon(self.ipfs_path)
        self.process, self.api, self.log = restarted.process, restarted.api, restarted.log


def _env(ipfs_path: Path) -> dict[str, str]:
    return {**os.environ, "IPFS_PATH": str(ipfs_path)}


def init_node(ipfs_path: Path) -> None:
    env = _env(ipfs_path)
    subprocess.run([str(JSIPFS), "init", "--profile", "test"], env=env, check=True, capture_output=True, timeout=120)
    subprocess.run(
        [str(JSIPFS), "config", "Addresses.RPC", "/ip4/127.0.0.1/tcp/0"],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )


def start_daemon(ipfs_path: Path) -> IpfsNode:
    """Run the daemon of an initialised repo until it is ready; raises if it does not come up."""
    (ipfs_path / "api").unlink(missing_ok=True)
    process = subprocess.Popen(
        [str(JSIPFS), "daemon", "--offline", "--enable-preload=false"],
        env=_env(ipfs_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    node = IpfsNode(api="", ipfs_path=ipfs_path, process=process)
    ready = threading.Event()

    def read_output() -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.decode(errors="replace").rstrip()
            node.log.append(line)
            if "Daemon is ready" in line:
                ready.set()

    threading.Thread(target=read_output, daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not ready.wait(0.2):
        if process.poll() is not None or time.monotonic() > deadline:
            node.kill()
            raise RuntimeError("js-ipfs did not start:\n" + "\n".join(node.log[-30:]))
    node.api = (ipfs_path / "api").read_text().strip()
    return node


def start_node(ipfs_path: Path) -> IpfsNode:
    init_node(ipfs_path)
    return start_daemon(ipfs_path)
