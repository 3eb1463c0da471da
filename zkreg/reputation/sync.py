"""Moving feeds between peers. A transport only moves bytes; every verdict is the ledger's (and so `verify`'s).

File format (`zkreg ledger export`): a CARv1 file. Header: DAG-CBOR `{"roots": [head CID of each exported feed,
by author], "version": 1}`. Then one section per block, `varint(len(cid) + len(block)) || cid || block`: each
feed's entries in seq order (feeds by author), then the equivocation evidence held for those feeds, so a peer that
imports the file converges on the same forks. A reader recomputes every CID; the claimed one must match.

`FeedTransport` is the interface a peer transport implements: the file transport below, and the HTTP transport
against `zkreg serve`'s `/v1/feeds` (`zkreg.peer.client.HttpFeedTransport`, which speaks the same CAR format).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from zkreg.errors import (
    CarOversized,
    FeedFileNotFound,
    FeedNotFound,
    IntegrityError,
    MalformedCar,
    OversizedImport,
)
from zkreg.fsutil import atomic_write
from zkreg.progress import SILENT, Progress
from zkreg.registry.car import car_stream, read_blocks, read_roots
from zkreg.registry.cid import DAG_CBOR
from zkreg.reputation.entry import MAX_ENTRY_BYTES
from zkreg.reputation.ledger import ImportReport, Ledger

MAX_IMPORT_BYTES = 512 * 1024 * 1024
"""A feed file larger than this is refused before a byte of it is parsed."""
_MAX_HEADER_BYTES = 4 * 1024 * 1024
_CID_LENGTH = 36


class FeedTransport(Protocol):
    """Where feeds come from. `blocks` yields entry blocks (evidence included) that the peer holds beyond
    `known` (author -> the seq we hold); yielding more is allowed, since imports of held entries are no-ops."""

    def blocks(self, known: dict[str, int]) -> Iterator[bytes]: ...


@dataclass(frozen=True)
class ExportResult:
    path: Path
    feeds: int
    entries: int
    evidence: int


def export_car(ledger: Ledger, path: Path, author: str | None = None) -> ExportResult:
    """Write the feeds (one, with `author`) and their evidence to `path`, atomically (`atomic_write`)."""
    heads = [state for state in ledger.heads(author) if state.head is not None]
    if author is not None and not heads:
        raise FeedNotFound(f"no feed of {author} in the ledger")
    counts = {"entries": 0, "evidence": 0}

    def sections() -> Iterator[tuple[str, bytes]]:
        for state in heads:
            for _, cid, block in ledger.blocks(state.author):
                yield cid, block
                counts["entries"] += 1
        for record, block in zip(ledger.evidence(author), ledger.evidence_blocks(author), strict=True):
            yield record.other, block
            counts["evidence"] += 1

    atomic_write(path, car_stream([str(state.head) for state in heads], sections()))
    return ExportResult(path, len(heads), counts["entries"], counts["evidence"])


def read_car(data: bytes) -> Iterator[bytes]:
    """The entry blocks of a feed file, each checked against its claimed CID; raises on anything malformed."""
    stream = io.BytesIO(data)
    try:
        read_roots(stream, max_header=_MAX_HEADER_BYTES, require_roots=False)
        sections = read_blocks(
            stream, max_section=_CID_LENGTH + MAX_ENTRY_BYTES, max_bytes=MAX_IMPORT_BYTES, codecs=(DAG_CBOR,)
        )
        for _, block in sections:
            if not block:
                raise MalformedCar("an empty block in the feed file")
            yield block
    except CarOversized as exc:
        raise OversizedImport(f"feed file: {exc.message} (the entry cap is {MAX_ENTRY_BYTES} bytes)") from exc
    except IntegrityError as exc:
        if isinstance(exc, MalformedCar):
            raise
        raise MalformedCar(f"feed file: {exc.message}") from exc


class CarFileTransport:
    """A feed file as a transport: it holds what it holds, so `known` only lets the ledger skip replays."""

    def __init__(self, path: Path, max_bytes: int = MAX_IMPORT_BYTES) -> None:
        try:
            size = path.stat().st_size
        except FileNotFoundError as exc:
            raise FeedFileNotFound(f"no such feed file: {path}") from exc
        if size > max_bytes:
            raise OversizedImport(f"feed file {path} is {size} bytes; the cap is {max_bytes}")
        self.path = path
        self.max_bytes = max_bytes

    def blocks(self, known: dict[str, int]) -> Iterator[bytes]:
        # A stream (a FIFO, /dev/zero, `<(cmd)`) has no size to check up front: the cap holds while reading.
        with self.path.open("rb") as stream:
            data = stream.read(self.max_bytes + 1)
        if len(data) > self.max_bytes:
            raise OversizedImport(f"feed file {self.path} is over the {self.max_bytes}-byte cap")
        return read_car(data)


def pull(ledger: Ledger, transport: FeedTransport, progress: Progress = SILENT) -> ImportReport:
    """Import what a transport offers; only valid extensions of held feeds (and evidence) are applied."""
    known = {state.author: state.seq for state in ledger.heads()}
    return ledger.import_blocks(transport.blocks(known), progress=progress)
