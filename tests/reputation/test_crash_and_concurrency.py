"""Faults that need real processes: `kill -9` in the middle of a large import, and two writers at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from zkreg.reputation.ledger import IMPORT_BATCH, Ledger
from zkreg.reputation.sync import CarFileTransport, export_car, pull

from .ledger_helpers import blocks, feed, identity, manifest_cid

IMPORTER = """
import sys
from pathlib import Path
from zkreg.reputation.ledger import Ledger
from zkreg.reputation.sync import CarFileTransport, pull

class Acknowledge:
    done = 0
    def begin(self, label, total): pass
    def advance(self, amount):  # called once a batch's transaction has committed
        Acknowledge.done += amount
        print(Acknowledge.done, flush=True)
    def end(self): pass

pull(Ledger(Path(sys.argv[1])), CarFileTransport(Path(sys.argv[2])), Acknowledge())
"""

APPENDER = """
import sys, time
from pathlib import Path
import nacl.signing
from zkreg.identity import Identity
from zkreg.reputation.ledger import Ledger

ledger = Ledger(Path(sys.argv[1]))
me = Identity(nacl.signing.SigningKey(bytes.fromhex(sys.argv[2])))
print("ready", flush=True)
while not Path(sys.argv[3]).exists():
    time.sleep(0.001)
for n in range(int(sys.argv[4])):
    ledger.append(me, "endorse", {"peer": sys.argv[5], "weight": n % 11})
print("done", flush=True)
"""


@pytest.mark.slow
def test_kill_9_in_the_middle_of_a_large_import_loses_no_acknowledged_entry(tmp_path: Path) -> None:
    authors = [identity(f"crash-{n}") for n in range(4)]
    source = Ledger(tmp_path / "source.db")
    for author in authors:
        items = [("publish", {"manifest": manifest_cid(f"{author.did}/{n}")}) for n in range(4000)]
        source.import_blocks(blocks(feed(author, items)))
    total = source.count()
    car = tmp_path / "feeds.car"
    export_car(source, car)
    source.close()

    target = tmp_path / "target.db"
    child = subprocess.Popen([sys.executable, "-c", IMPORTER, str(target), str(car)], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    acknowledged = 0
    while acknowledged < 2 * IMPORT_BATCH:
        line = child.stdout.readline()
        assert line, "the importer ended before it could be killed"
        acknowledged = int(line)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL

    reopened = Ledger(target)
    assert reopened.integrity_check() == "ok"
    held = reopened.verify_all()
    assert acknowledged <= held < total, "every acknowledged entry survives, and the kill landed mid-import"
    report = pull(reopened, CarFileTransport(car))
    assert (report.accepted, report.duplicates) == (total - held, held)
    assert reopened.verify_all() == total
    reopened.close()


def test_two_processes_appending_at_once_do_not_fork_the_feed(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    Ledger(path).close()
    me = identity("two-writers")
    go = tmp_path / "go"
    per_process = 150
    children = [
        subprocess.Popen(
            [sys.executable, "-c", APPENDER, str(path), bytes(me.signing_key).hex(), str(go), str(per_process), me.did],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for child in children:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
    go.touch()
    for child in children:
        assert child.wait(timeout=300) == 0
    ledger = Ledger(path)
    assert [entry.seq for entry in ledger.entries(me.did)] == list(range(1, 2 * per_process + 1))
    assert ledger.evidence() == []
    assert ledger.verify_all() == 2 * per_process
    ledger.close()
