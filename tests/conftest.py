"""Fixtures shared by every test area: a fresh data dir with an identity, and a way to run the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from zkreg.api import Repo


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true", help="rewrite tests/vectors from aleph-cid")


def pytest_sessionstart(session: pytest.Session) -> None:
    if session.config.getoption("--update-goldens"):
        import tempfile

        from tests import vectors

        with tempfile.TemporaryDirectory() as tmp:
            vectors.regenerate(Path(tmp))


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    home = tmp_path / "home"
    repo = Repo.init(home)
    yield repo
    repo.close()


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@pytest.fixture
def cli(tmp_path: Path) -> Any:
    """Run `python -m zkreg` in a subprocess with ZKREG_HOME set, as a user (or CI) would; real exit codes."""
    home = tmp_path / "cli-home"

    def run(
        *args: str, home_dir: Path | None = None, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> CliResult:
        full_env = {**os.environ, "ZKREG_HOME": str(home_dir or home), **(env or {})}
        full_env.pop("ZKREG_DEBUG", None)
        proc = subprocess.run(
            [sys.executable, "-m", "zkreg", *args],
            capture_output=True,
            text=True,
            env=full_env,
            cwd=cwd or tmp_path,
            timeout=600,
        )
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    run.home = home  # type: ignore[attr-defined]
    return run
