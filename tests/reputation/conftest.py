"""Fixtures of the ledger tests: a fresh ledger on disk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from zkreg.reputation.ledger import Ledger


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    opened = Ledger(tmp_path / "ledger.db")
    yield opened
    opened.close()
