"""The docs that are generated from code stay current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from zkreg.cli.reference import render

ROOT = Path(__file__).parents[1]


def test_cli_reference_is_current() -> None:
    assert (ROOT / "docs" / "cli.md").read_text() == render(), "run: python -m zkreg.cli.reference > docs/cli.md"


def test_architecture_picture_is_current() -> None:
    drawn = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "architecture.py")], capture_output=True, text=True, check=True
    ).stdout
    assert (ROOT / "docs" / "architecture.svg").read_text() == drawn, (
        "run: python docs/architecture.py > docs/architecture.svg"
    )
