"""Moving feeds between peers. A transport only moves bytes; every verdict is the ledger's (and so `verify`'s).

File format (`zkreg ledger export`): a CARv1 file. Header: DAG-CBOR `{"roots": [head CID of each exported feed,
by author], "version": 1}`. Then one section per block, `varint(len(cid) + len(block)) || cid || block`: each
feed's entries in seq order (feeds by author), then the equivocation evidence held for those feeds, so a peer that
imports the file converges on the same forks. A reader recomputes every CID; the claimed one must match.

`FeedTransport` is the interface a peer transport implements: the file transport below, and the HTTP transport
against `zkreg serve`'s `/v1/feeds` (`zkreg.peer.client.HttpFeedTransport`, which speaks the same CAR format).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cbor2
from multiformats import varint

from zkreg.errors import FeedFileNotFound, FeedNotFound, MalformedCar, OversizedImport
from zkreg.progress import SILENT, Progress
from zkreg.registry.cid import DAG_CBOR, cid_bytes, cid_from_str, cid_to_str
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


def _varint(value: int) -> bytes:
    return bytes(varint.encode(value))


def _read_varint(data: memoryview, offset: int) -> tuple[int, int]:
    """An unsigned LEB128 varint, minimal and at most 9 bytes (the multiformats rules), read in place: it runs
    once per block, and `multiformats.varint.decode_raw`'s runtime type checks cost a third of a sync."""
    value = shift = 0
    for position in range(offset, min(offset + 9, len(data))):
        byte = data[position]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            if byte == 0 and position > offset:
                break  # a trailing zero byte: not minimal
            return value, position + 1
        shift += 7
    raise MalformedCar(f"bad varint at byte {offset} of the feed file")


def _section(cid: str, block: bytes) -> bytes:
    binary = cid_from_str(cid)
    return _varint(len(binary) + len(block)) + binary + block


def car_stream(roots: list[str], blocks: Iterable[tuple[str, bytes]]) -> Iterator[bytes]:
    """The CARv1 encoding of `blocks` ((CID, block) pairs) under a header naming `roots`, piece by piece."""
    header = cbor2.dumps(
        {"roots": [cbor2.CBORTag(42, b"\x00" + cid_from_str(root)) for root in roots], "version": 1}, canonical=True
    )
    yield _varint(len(header)) + header
    for cid, block in blocks:
        yield _section(cid, block)


@dataclass(frozen=True)
class ExportResult:
    path: Path
    feeds: int
    entries: int
    evidence: int


def export_car(ledger: Ledger, path: Path, author: str | None = None) -> ExportResult:
    """Write the feeds (one, with `author`) and their evidence to `path`, atomically (temp file + rename)."""
    heads = [state for state in ledger.heads(author) if state.head is not None]
    if author is not None and not heads:
        raise FeedNotFound(f"no feed of {author} in the ledger")
    header = cbor2.dumps(
        {"roots": [cbor2.CBORTag(42, b"\x00" + cid_from_str(str(s.head))) for s in heads], "version": 1},
        canonical=True,
    )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    entries = evidence = 0
    try:
        with open(tmp, "wb") as handle:
            handle.write(_varint(len(header)) + header)
            for state in heads:
                for _, cid, block in ledger.blocks(state.author):
                    handle.write(_section(cid, block))
                    entries += 1
            for record, block in zip(ledger.evidence(author), ledger.evidence_blocks(author), strict=True):
                handle.write(_section(record.other, block))
                evidence += 1
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return ExportResult(path, len(heads), entries, evidence)


def read_car(data: bytes) -> Iterator[bytes]:
    """The entry blocks of a feed file, each checked against its claimed CID; raises on anything malformed."""
    view = memoryview(data)
    header_length, offset = _read_varint(view, 0)
    if header_length > _MAX_HEADER_BYTES or offset + header_length > len(data):
        raise MalformedCar("feed file header is truncated or too large")
    try:
        header = cbor2.loads(bytes(view[offset : offset + header_length]))
    except Exception as exc:  # cbor2 raises several unrelated types for hostile input
        raise MalformedCar(f"feed file header is not CBOR: {exc}") from exc
    if not isinstance(header, dict) or header.get("version") != 1 or not isinstance(header.get("roots"), list):
        raise MalformedCar("not a CARv1 feed file (header must be {roots, version: 1})")
    offset += header_length
    while offset < len(data):
        length, offset = _read_varint(view, offset)
        if length > _CID_LENGTH + MAX_ENTRY_BYTES:
            raise OversizedImport(f"a block of {length} bytes exceeds the {MAX_ENTRY_BYTES}-byte entry cap")
        if length <= _CID_LENGTH or offset + length > len(data):
            raise MalformedCar(f"truncated block at byte {offset} of the feed file")
        claimed = bytes(view[offset : offset + _CID_LENGTH])
        block = bytes(view[offset + _CID_LENGTH : offset + length])
        if claimed != cid_bytes(DAG_CBOR, hashlib.sha256(block).digest()):
            raise MalformedCar(f"block at byte {offset} does not match its CID {cid_to_str(claimed)}")
        offset += length
        yield block


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
