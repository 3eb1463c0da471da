"""Output for humans and for scripts. Rich is imported only when a progress bar is actually drawn."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from zkreg.progress import SILENT, Progress


def emit_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True) + "\n")


class RichProgress:
    """A transfer bar per long step, drawn on stderr."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            transient=True,
        )
        self._task: Any = None

    def begin(self, label: str, total: int | None) -> None:
        self._task = self._bars.add_task(label, total=total)

    def advance(self, amount: int) -> None:
        self._bars.advance(self._task, amount)

    def end(self) -> None:
        if self._task is not None:
            self._bars.remove_task(self._task)
            self._task = None

    def __enter__(self) -> RichProgress:
        self._bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bars.stop()


@contextmanager
def progress_for(json_mode: bool) -> Iterator[Progress]:
    """Bars on an interactive terminal; nothing when piped or with --json."""
    if json_mode or not sys.stderr.isatty():
        yield SILENT
        return
    with RichProgress() as bars:
        yield bars
