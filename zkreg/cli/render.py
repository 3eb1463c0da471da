"""Output for humans and for scripts. Rich is imported only when a progress bar is actually drawn.

Human output never carries a terminal control character: file names, manifest fields and error messages come from
other peers, and ESC, CR, BEL, C1 controls or bidi overrides in them could rewrite the screen, retitle the window
or reorder what a reader sees. `terminal_safe` escapes them (`\\x1b`, `\\u202e`) in the one place every human line
passes through; JSON output keeps the exact strings.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from zkreg.progress import SILENT, Progress


class OutputClosed(Exception):
    """The reader of stdout went away (`zkreg log NAME | head -1`); the CLI ends quietly (exit 141).

    Not an `OSError`, so that Typer passes it on instead of turning it into its own exit status."""


_UNSAFE_CATEGORIES = ("Cc", "Cf", "Zl", "Zp", "Cs")
"""Controls (C0, DEL, C1), format characters (bidi overrides, zero-width), line/paragraph separators, surrogates."""


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def terminal_safe(text: str, *, keep_newlines: bool = True) -> str:
    """`text` with every character that could steer a terminal escaped; newlines kept only if asked."""
    return "".join(
        _escape(char)
        if unicodedata.category(char) in _UNSAFE_CATEGORIES and not (keep_newlines and char == "\n")
        else char
        for char in text
    )


def one_line(text: str) -> str:
    """A foreign field (a file name, a ref) shown inside a line: newlines escaped too, so it cannot fake a line."""
    return terminal_safe(text, keep_newlines=False)


def write_out(text: str) -> None:
    """One human line (or several) on stdout, escaped."""
    try:
        sys.stdout.write(terminal_safe(text) + "\n")
        sys.stdout.flush()
    except BrokenPipeError as exc:
        raise OutputClosed from exc


def emit_json(document: Any) -> None:
    try:
        sys.stdout.write(json.dumps(document, indent=2, sort_keys=True) + "\n")
    except BrokenPipeError as exc:
        raise OutputClosed from exc


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
        from rich.markup import escape

        self._task = self._bars.add_task(escape(one_line(label)), total=total)

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
