"""The docs that are generated from code stay current."""

from __future__ import annotations

from pathlib import Path

from zkreg.cli.reference import render

ROOT = Path(__file__).parents[1]


def test_cli_reference_is_current() -> None:
    assert (ROOT / "docs" / "cli.md").read_text() == render(), "run: python -m zkreg.cli.reference > docs/cli.md"
