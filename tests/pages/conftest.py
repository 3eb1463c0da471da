"""A real peer with a small lineage (a dataset, two versions of a model trained on it), served by a real
`zkreg serve` process on 127.0.0.1, and one headless Debian Chromium for the whole session (driven by Selenium
through Debian's chromedriver; nothing is downloaded)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nacl.signing
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from zkreg.api import Repo
from zkreg.identity import Identity

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
HOSTILE_MESSAGE = 'rows <script>document.title="pwned"</script><img src=x onerror="document.title=\'pwned\'">'
HOSTILE_DETAILS = "<script>document.title='pwned'</script> checked by a hostile attester"
HOSTILE_FILE = "rows<script>alert(1)<!--.csv"  # a file name holds no "/"
DOCS_ENV = "ZKREG_DOCS_SCREENSHOTS"
"""Set (to 1) to also write the manifest page and lineage screenshots the README shows into docs/."""
DOCS = Path(__file__).resolve().parents[2] / "docs"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@dataclass(frozen=True)
class ServedPeer:
    url: str
    home: Path
    cids: dict[str, str]
    """name@version -> manifest CID."""
    did: str
    """The peer's identity."""
    endorsed: str
    """An identity the peer endorses (a trust edge)."""


def _zkreg(home: Path, *args: str) -> str:
    env = {**os.environ, "ZKREG_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "zkreg", *args], capture_output=True, text=True, env=env, check=True, timeout=120
    ).stdout


@pytest.fixture(scope="session")
def served_peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedPeer]:
    work = tmp_path_factory.mktemp("pages")
    home = work / "home"
    _zkreg(home, "init")
    (work / HOSTILE_FILE).write_text("age,label\n31,1\n45,0\n")
    cids = {
        "rows@1": _zkreg(
            home, "publish", str(work / HOSTILE_FILE), "-n", "rows", "--kind", "dataset", "-m", HOSTILE_MESSAGE
        ).split()[-1]
    }
    for version, weights in (("1", b"\x01\x02"), ("2", b"\x03\x04\x05")):
        (work / "weights.bin").write_bytes(weights)
        out = _zkreg(
            home,
            "publish",
            str(work / "weights.bin"),
            "-n",
            "classifier",
            "--kind",
            "model",
            "--dataset",
            "rows@1",
            "-m",
            f"classifier v{version}: trained on rows@1",
        )
        cids[f"classifier@{version}"] = out.split()[-1]
    endorsed = Identity(nacl.signing.SigningKey.generate()).did
    with Repo.open(home) as repo:
        did = repo.identity.did
        attestation = {"subject": cids["rows@1"], "verdict": "ok", "details": HOSTILE_DETAILS}
        repo.ledger.append(repo.identity, "attest", attestation)
        repo.ledger.append(repo.identity, "endorse", {"peer": endorsed, "weight": 2})
    server = subprocess.Popen(
        [sys.executable, "-m", "zkreg", "serve", "--port", "0", "--json"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "ZKREG_HOME": str(home)},
        start_new_session=True,
    )
    try:
        assert server.stdout is not None
        lines: list[str] = []
        while not lines or lines[-1] != "}":
            line = server.stdout.readline()
            assert line, "zkreg serve exited before it served"
            lines.append(line.rstrip("\n"))
        yield ServedPeer(json.loads("\n".join(lines))["url"], home, cids, did, endorsed)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(10)


@pytest.fixture(scope="session")
def browser() -> Iterator[webdriver.Chrome]:
    """One headless Chromium for the session, with a fresh profile and no network of its own."""
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        pytest.fail(
            "the browser tests need Debian's chromium and chromium-driver (apt-get install chromium "
            "chromium-driver; .ci/run installs them)"
        )
    profile = tempfile.mkdtemp(prefix="zkreg-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1100,950",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go: test-artifacts/ (git-ignored), kept after the run for CI to collect."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
