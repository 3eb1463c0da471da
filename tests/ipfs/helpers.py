"""Small helpers shared by the IPFS tests."""

from __future__ import annotations

import random
import socket
from pathlib import Path


def random_file(path: Path, size: int, seed: int) -> Path:
    path.write_bytes(random.Random(seed).randbytes(size))
    return path


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released): where a node is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
