"""Decoding and signature checking of a large import, overlapped on two cores.

An Ed25519 verify is half the cost of accepting an entry. While the importing process decodes batch N+1 (pure
Python: CBOR, canonical form, schema, CID), a child process (`zkreg.reputation.signature_worker`) checks batch
N's signatures against each feed's first key. A thread would not do: PyNaCl releases the GIL only inside the C
call, and getting it back from a busy decoding thread waits out the interpreter's switch interval on every entry.
A plain subprocess rather than `multiprocessing`, whose spawned workers re-import the caller's main script. The
child starts only when a second batch exists, so a small import never pays for it.

The child's answers are only a cache: `FeedVerifier.extend` still decides every entry in order and checks any
signature the child did not vouch for (entries after a key rotation, every failure, and everything if the child
dies), so nothing is weaker than checking them one by one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from contextlib import suppress
from itertools import islice
from typing import IO

import cbor2

from zkreg.reputation.entry import Entry, decode_entry

SignedBy = set[tuple[str, str]]
"""(signer DID, entry CID) pairs whose signature verified."""


class _SignatureWorker:
    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        # The child finds zkreg where this process did; its stderr is dropped because a child that fails only
        # means the importer checks every signature itself, which is no reason for a traceback on a terminal.
        search_path = os.pathsep.join(entry for entry in sys.path if entry)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "zkreg.reputation.signature_worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env={**os.environ, "PYTHONPATH": search_path},
            )
        except OSError:
            return

    def submit(self, entries: list[Entry]) -> None:
        """Send a batch (the child answers once it has read it; the answer waits in the pipe)."""
        if self.process is None:
            return
        requests: IO[bytes] | None = self.process.stdin
        assert requests is not None
        try:
            cbor2.dump([[entry.author, entry.payload, entry.sig] for entry in entries], requests)
            requests.flush()
        except OSError:  # the child died: the importer checks every signature itself
            self.close()

    def signed(self, entries: list[Entry]) -> SignedBy:
        """The verdicts for the batch submitted before (an empty cache if the child is gone)."""
        if self.process is None:
            return set()
        answers: IO[bytes] | None = self.process.stdout
        assert answers is not None
        verdicts = answers.read(len(entries))
        if len(verdicts) != len(entries):
            self.close()
            return set()
        return {(entry.author, entry.cid) for entry, ok in zip(entries, verdicts, strict=True) if ok == 1}

    def close(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            for pipe in (self.process.stdin, self.process.stdout):
                if pipe is not None:
                    with suppress(OSError):  # a request still buffered for a dead child
                        pipe.close()
            self.process = None


def decoded_batches(blocks: Iterable[bytes], size: int) -> Iterator[tuple[list[Entry], SignedBy]]:
    """Each batch of `size` blocks decoded, with the signatures the child verified for it (none for the first
    batch, which the importer checks itself while the child starts).

    A block or feed file that does not decode raises, but only after every batch before it was yielded, so the
    caller keeps what preceded it exactly as if it had decoded one batch at a time.
    """
    iterator = iter(blocks)
    worker: _SignatureWorker | None = None
    pending: tuple[list[Entry], bool] | None = None
    """The batch decoded last, and whether the child has it."""

    def finish(batch: tuple[list[Entry], bool]) -> tuple[list[Entry], SignedBy]:
        entries, submitted = batch
        return entries, worker.signed(entries) if submitted and worker is not None else set()

    try:
        while True:
            try:
                entries = [decode_entry(block) for block in islice(iterator, size)]
            except Exception:  # a malformed block or feed file: hand over what came before it, then fail
                if pending is not None:
                    yield finish(pending)
                raise
            if not entries:
                if pending is not None:
                    yield finish(pending)
                return
            if pending is not None and worker is None:  # a second batch: from now on, verify ahead
                worker = _SignatureWorker()
            if worker is not None:
                worker.submit(entries)
            if pending is not None:
                yield finish(pending)
            pending = entries, worker is not None
    finally:
        if worker is not None:
            worker.close()
