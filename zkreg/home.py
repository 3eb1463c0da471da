"""Where a zkreg identity keeps its data: `ZKREG_HOME`, else the platform's user data dir."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def default_home() -> Path:
    override = os.environ.get("ZKREG_HOME")
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir("zkreg", appauthor=False))
