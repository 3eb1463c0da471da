"""Decoding and signature checking of a large import, spread over the machine's cores.

An Ed25519 verify costs about three times the decoding of an entry. While the importing process decodes batch
N+1 (CBOR, canonical form, schema, CID) and applies batch N, one child process per core
(`zkreg.reputation.signature_worker`, at most `MAX_WORKERS`) checks a share of batch N's signatures against
each feed's first key; the operating system balances the importer and the children over the cores. Not threads:
PyNaCl releases the GIL only inside each C call, and getting it back from a busy decoding thread waits out the
interpreter's switch interval on every verify. Plain subprocesses rather than `multiprocessing`, whose spawned
workers re-import the caller's main script. The children start with the first full batch, so a small import
never pays for them.

The children's answers are only a cache of (signer, CID) pairs the importer asked about: `FeedVerifier.extend`
still decides every entry in order and checks any signature not vouched for (entries after a key rotation, every
failure, and everything a child did not answer in the protocol: a child that dies, answers short, answers out of
turn or with anything but 0 and 1 is dropped and its share is checked by the importer). So nothing is weaker than
checking them one by one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from itertools import count, islice
from typing import IO

import cbor2

from zkreg.reputation.entry import Entry, decode_entry

SignedBy = set[tuple[str, str]]
"""(signer DID, entry CID) pairs whose signature verified."""

MAX_WORKERS = 4
"""Beyond this many children the importer's own decoding is the bottleneck."""
WORKER_COMMAND = [sys.executable, "-m", "zkreg.reputation.signature_worker"]
_TOKEN_BYTES = _LENGTH_BYTES = 8
_PIPE_BYTES = 1024 * 1024
"""Room in each request pipe for a few batches (~330 bytes an entry), so submitting never waits for a busy child."""


def worker_count() -> int:
    """One child per core this process may run on, at most `MAX_WORKERS`."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_WORKERS))


class _SignatureWorker:
    """One child process. A request is its length (8 bytes, big-endian) and the DAG-CBOR `[token, [[signer DID,
    payload, signature], ...]]`; the answer is the token (8 bytes, big-endian) and one byte per item (1: verifies,
    0: does not). Whole messages, because cbor2 reading from or writing to a pipe makes a call per item."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        # The child finds zkreg where this process did; its stderr is dropped because a child that fails only
        # means the importer checks those signatures itself, which is no reason for a traceback on a terminal.
        search_path = os.pathsep.join(entry for entry in sys.path if entry)
        try:
            self.process = subprocess.Popen(
                WORKER_COMMAND,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env={**os.environ, "PYTHONPATH": search_path},
            )
        except OSError:
            return
        assert self.process.stdin is not None
        with suppress(AttributeError, OSError):  # F_SETPIPE_SZ is Linux's; elsewhere a write may wait, no more
            import fcntl

            fcntl.fcntl(self.process.stdin.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)

    def submit(self, token: int, entries: list[Entry]) -> bool:
        """Send a share of a batch; False if the child is gone."""
        if self.process is None:
            return False
        requests: IO[bytes] | None = self.process.stdin
        assert requests is not None
        request = cbor2.dumps([token, [[entry.author, entry.payload, entry.sig] for entry in entries]])
        try:
            requests.write(len(request).to_bytes(_LENGTH_BYTES, "big") + request)
            requests.flush()
        except OSError:  # the child died: the importer checks its share itself
            self.close()
            return False
        return True

    def verdicts(self, token: int, size: int) -> bytes | None:
        """The answer to request `token` of `size` items; None (and the child dropped) for anything else."""
        if self.process is None:
            return None
        answers: IO[bytes] | None = self.process.stdout
        assert answers is not None
        expected = token.to_bytes(_TOKEN_BYTES, "big")
        try:
            answer = answers.read(_TOKEN_BYTES + size)
        except OSError:
            answer = b""
        verdicts = answer[_TOKEN_BYTES:]
        if answer[:_TOKEN_BYTES] != expected or len(verdicts) != size or verdicts.strip(b"\x00\x01"):
            self.close()
            return None
        return verdicts

    def close(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            for pipe in (self.process.stdin, self.process.stdout):
                if pipe is not None:
                    with suppress(OSError):  # a request still buffered for a dead child
                        pipe.close()
            self.process = None


@dataclass(frozen=True)
class _Share:
    """A slice of a batch sent to one child under a token."""

    worker: _SignatureWorker
    token: int
    entries: list[Entry]


class _SignatureWorkers:
    """The children, each checking an equal slice of every batch."""

    def __init__(self, count_: int) -> None:
        self.workers = [_SignatureWorker() for _ in range(count_)]
        self.tokens = count(1)

    def submit(self, entries: list[Entry]) -> list[_Share]:
        live = [worker for worker in self.workers if worker.process is not None]
        shares: list[_Share] = []
        for index, worker in enumerate(live):
            part = entries[len(entries) * index // len(live) : len(entries) * (index + 1) // len(live)]
            share = _Share(worker, next(self.tokens), part)
            if part and worker.submit(share.token, part):
                shares.append(share)
        return shares

    @staticmethod
    def signed(shares: list[_Share]) -> SignedBy:
        """The (signer, CID) pairs the children vouched for (a share whose child failed vouches for nothing)."""
        vouched: SignedBy = set()
        for share in shares:
            verdicts = share.worker.verdicts(share.token, len(share.entries))
            if verdicts is not None:
                vouched.update((e.author, e.cid) for e, ok in zip(share.entries, verdicts, strict=True) if ok == 1)
        return vouched

    def close(self) -> None:
        for worker in self.workers:
            worker.close()


def decoded_batches(blocks: Iterable[bytes], size: int) -> Iterator[tuple[list[Entry], SignedBy]]:
    """Each batch of `size` blocks decoded, with the signatures the children verified for it (none if the import
    is smaller than one batch, which the importer checks itself).

    A block or feed file that does not decode raises, but only after every batch before it was yielded, so the
    caller keeps what preceded it exactly as if it had decoded one batch at a time.
    """
    iterator = iter(blocks)
    workers: _SignatureWorkers | None = None
    pending: tuple[list[Entry], list[_Share]] | None = None
    """The batch decoded last, and the shares of it the children have."""

    def finish(batch: tuple[list[Entry], list[_Share]]) -> tuple[list[Entry], SignedBy]:
        entries, shares = batch
        return entries, _SignatureWorkers.signed(shares)

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
            if workers is None and len(entries) == size:  # a full batch: more may follow, so check ahead
                workers = _SignatureWorkers(worker_count())
            shares = workers.submit(entries) if workers is not None else []
            if pending is not None:
                yield finish(pending)
            pending = entries, shares
    finally:
        if workers is not None:
            workers.close()
