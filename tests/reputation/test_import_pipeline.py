"""Large imports check signatures ahead in child processes; these threats must still be stopped in batches the
children have seen (every test imports at least one full `IMPORT_BATCH`, so the children run)."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from zkreg.errors import FeedsRejected, ForgedSignature, MalformedEntry, RevokedKeyUsed
from zkreg.reputation import pipeline
from zkreg.reputation.entry import decode_entry
from zkreg.reputation.ledger import IMPORT_BATCH, Ledger
from zkreg.reputation.pipeline import decoded_batches

from .ledger_helpers import blocks, feed, identity, manifest_cid, publishes

ALICE, BOB, MALLORY = identity("alice"), identity("bob"), identity("mallory")


@pytest.fixture(scope="module")
def filler() -> list[bytes]:
    """One full batch of Bob's entries, so what follows lands in batches the child checks ahead."""
    return blocks(publishes(BOB, IMPORT_BATCH))


def test_the_signature_worker_vouches_for_valid_signatures_only(filler: list[bytes]) -> None:
    honest = publishes(ALICE, 3)
    forged = publishes(MALLORY, 1, author=ALICE.did, after=honest[-1])
    batches = list(decoded_batches([*filler, *blocks(honest + forged)], IMPORT_BATCH))
    assert [len(entries) for entries, _ in batches] == [IMPORT_BATCH, 4]
    assert batches[0][1] == {(BOB.did, decode_entry(block).cid) for block in filler}
    assert batches[1][1] == {(ALICE.did, entry.cid) for entry in honest}


def test_an_import_smaller_than_a_batch_starts_no_signature_worker() -> None:
    entries = publishes(ALICE, 3)
    assert list(decoded_batches(blocks(entries), IMPORT_BATCH)) == [(entries, set())]


def _refuses_a_forgery_after_five_honest_entries(ledger: Ledger, filler: list[bytes]) -> None:
    """After a full batch, Alice's five entries and Mallory's forgery of her sixth: only the forgery is refused."""
    honest = publishes(ALICE, 5)
    forged = publishes(MALLORY, 1, author=ALICE.did, after=honest[-1])
    with pytest.raises(FeedsRejected) as caught:
        ledger.import_blocks([*filler, *blocks(honest + forged)])
    assert isinstance(caught.value.report.rejected[0], ForgedSignature)
    assert (caught.value.author, caught.value.seq) == (ALICE.did, 6)
    assert ledger.state(ALICE.did).seq == 5
    assert ledger.count() == IMPORT_BATCH + 5


def test_forged_signature_in_a_batch_checked_ahead_is_refused(ledger: Ledger, filler: list[bytes]) -> None:
    _refuses_a_forgery_after_five_honest_entries(ledger, filler)


def test_rotation_in_a_batch_checked_ahead_accepts_the_new_key_and_refuses_the_old(
    ledger: Ledger, filler: list[bytes]
) -> None:
    new_key = identity("alice-new")
    rotated = feed(ALICE, [("publish", {"manifest": manifest_cid("a")}), ("rotate", {"new_key": new_key.did})])
    by_new_key = publishes(new_key, 2, after=rotated[-1])
    by_old_key = publishes(ALICE, 1, after=by_new_key[-1])
    with pytest.raises(FeedsRejected) as caught:
        ledger.import_blocks([*filler, *blocks(rotated + by_new_key + by_old_key)])
    assert isinstance(caught.value.report.rejected[0], RevokedKeyUsed)
    assert ledger.state(ALICE.did).seq == 4
    assert ledger.verify_all() == IMPORT_BATCH + 4


def test_malformed_block_in_a_later_batch_keeps_every_batch_before_it(ledger: Ledger, filler: list[bytes]) -> None:
    second_batch = blocks(publishes(ALICE, IMPORT_BATCH))
    with pytest.raises(MalformedEntry):
        ledger.import_blocks([*filler, *second_batch, b"\xa1\x61a\x01"])
    assert ledger.count() == 2 * IMPORT_BATCH


def _children() -> list[int]:
    pid = os.getpid()
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_import_checks_every_signature_itself_when_the_signature_worker_dies(
    ledger: Ledger, filler: list[bytes]
) -> None:
    honest = publishes(ALICE, IMPORT_BATCH)
    forged = publishes(MALLORY, 1, author=ALICE.did, after=honest[-1])
    killed: list[int] = []

    def kill_the_worker_halfway() -> Iterator[bytes]:
        yield from filler
        yield from blocks(honest)
        killed.extend(_children())  # the child is running now: it has the second batch
        for child in killed:
            os.kill(child, signal.SIGKILL)
        yield from blocks(forged)

    with pytest.raises(FeedsRejected) as caught:
        ledger.import_blocks(kill_the_worker_halfway())
    assert killed, "the signature worker was running"
    assert isinstance(caught.value.report.rejected[0], ForgedSignature)
    assert ledger.count() == 2 * IMPORT_BATCH


# Children that break the protocol: a fault we cannot cause in the real worker, so these stand-ins (real
# processes, reading the real requests) replace its command.
_READ_REQUEST = (
    "import sys, cbor2\n"
    "inp, out = sys.stdin.buffer, sys.stdout.buffer\n"
    "while len(header := inp.read(8)) == 8:\n"
    "    token, items = cbor2.loads(inp.read(int.from_bytes(header, 'big')))\n"
)
LIARS = {
    "says nothing verifies": _READ_REQUEST
    + "    out.write(token.to_bytes(8, 'big') + bytes(len(items))); out.flush()\n",
    "vouches for everything out of turn": _READ_REQUEST
    + "    out.write((token + 1).to_bytes(8, 'big') + b'\\x01' * len(items)); out.flush()\n",
    "vouches for one more item than it was sent": _READ_REQUEST
    + "    out.write(token.to_bytes(8, 'big') + b'\\x01' * (len(items) + 1)); out.flush()\n",
    "answers with bytes other than 0 and 1": _READ_REQUEST
    + "    out.write(token.to_bytes(8, 'big') + b'\\x02' * len(items)); out.flush()\n",
    "answers short and exits": _READ_REQUEST
    + "    out.write(token.to_bytes(8, 'big') + b'\\x01'); out.flush(); break\n",
    "exits at once": "pass\n",
}


@pytest.mark.parametrize("behaviour", sorted(LIARS))
def test_a_signature_worker_that_breaks_the_protocol_changes_no_verdict(
    ledger: Ledger, filler: list[bytes], monkeypatch: pytest.MonkeyPatch, behaviour: str
) -> None:
    monkeypatch.setattr(pipeline, "WORKER_COMMAND", [sys.executable, "-c", LIARS[behaviour]])
    _refuses_a_forgery_after_five_honest_entries(ledger, filler)
