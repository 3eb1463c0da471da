"""CARv1 files: a DAG's blocks in one stream, for offline hand-over and for `ipfs dag import` / `dag export`.

Spec: https://ipld.io/specs/transport/car/carv1/ — a varint-prefixed DAG-CBOR header `{version: 1, roots: [CID]}`,
then sections `varint(len(cid) + len(block)) | cid | block`. Reading is streaming and bounded: a section's length
is checked before its bytes are read, so an oversized or hostile length is refused at once, and every block is
re-hashed against its CID. What is kept in memory is the set of CIDs seen and linked (about 60 bytes per 256 KiB
block), never block data; completeness (every root and every link present) is known only at the end of the
stream, which is why importing reads a file twice: once to verify, once to store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Protocol

from zkreg.codecs import dagcbor, varint
from zkreg.errors import (
    CarMalformed,
    CarMissingBlock,
    CarOversized,
    CarRootMissing,
    CarTruncated,
    CidMismatch,
    MalformedObject,
)
from zkreg.registry.cid import cid_from_binary, cid_from_str
from zkreg.registry.dag import CODECS, GetBlock, links_of, walk

MAX_HEADER_BYTES = 1024 * 1024
MAX_BLOCK_BYTES = 4 * 1024 * 1024 + 1024
"""The largest block zkreg writes is a manifest (at most 4 MiB); chunks are 256 KiB."""
_CID_BYTES = 36
MAX_SECTION_BYTES = _CID_BYTES + MAX_BLOCK_BYTES


class Readable(Protocol):
    """What the reader needs of a stream: a file, or an HTTP response body (`IpfsStore` reads the node's CARs)."""

    def read(self, size: int, /) -> bytes: ...


def _read_varint(stream: Readable) -> int | None:
    """The next length prefix, or None at a clean end of stream."""
    prefix = b""
    while len(prefix) < varint.MAX_BYTES:
        byte = stream.read(1)
        if not byte:
            if not prefix:
                return None
            raise CarTruncated("CAR file ends inside a length prefix")
        prefix += byte
        if byte[0] < 0x80:
            break
    try:
        return varint.decode(prefix)[0]
    except MalformedObject as exc:
        raise CarMalformed(f"CAR length prefix: {exc.message}") from exc


def _read_exact(stream: Readable, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise CarTruncated(f"CAR file ends {size - len(data)} bytes early")
    return data


def walk_dag(get_block: GetBlock, roots: list[str], skip: set[str] | None = None) -> Iterator[tuple[str, bytes]]:
    """Every block reachable from `roots`, each once, parents before children (the order `dag export` uses);
    the DAGs under the CIDs in `skip` are left out."""
    read: dict[str, bytes] = {}

    def remembered(cid: str) -> bytes:  # the walk reads a node for its links just before yielding it
        read.clear()
        read[cid] = get_block(cid)
        return read[cid]

    for cid in walk(remembered, roots, skip=skip or ()):
        yield cid, read.pop(cid) if cid in read else get_block(cid)


def car_header(roots: list[str]) -> bytes:
    header = dagcbor.encode({"roots": [dagcbor.link(root) for root in roots], "version": 1})
    return varint.encode(len(header)) + header


def car_section(cid: str, block: bytes) -> bytes:
    binary = cid_from_str(cid)
    return varint.encode(len(binary) + len(block)) + binary + block


def car_stream(roots: list[str], blocks: Iterable[tuple[str, bytes]]) -> Iterator[bytes]:
    """The CARv1 encoding of `blocks` ((CID, block) pairs) under a header naming `roots`, piece by piece."""
    yield car_header(roots)
    for cid, block in blocks:
        yield car_section(cid, block)


def write_car(out: IO[bytes], roots: list[str], blocks: Iterable[tuple[str, bytes]]) -> int:
    """Write a CARv1 stream; the number of blocks written."""
    pieces = car_stream(roots, blocks)
    out.write(next(pieces))
    count = 0
    for section in pieces:
        out.write(section)
        count += 1
    return count


def read_roots(stream: Readable, *, max_header: int = MAX_HEADER_BYTES, require_roots: bool = True) -> list[str]:
    """Read and check the header; the stream is left at the first section. A feed file may name no roots."""
    length = _read_varint(stream)
    if length is None or length == 0:
        raise CarMalformed("not a CAR file: no header")
    if length > max_header:
        raise CarOversized(f"CAR header of {length} bytes is over {max_header}")
    data = _read_exact(stream, length)
    try:
        header = dagcbor.decode(data, what="CAR header")
    except MalformedObject as exc:
        raise CarMalformed(exc.message) from exc
    roots = header.get("roots") if isinstance(header, dict) else None
    if not isinstance(header, dict) or header.get("version") != 1 or not isinstance(roots, list):
        raise CarMalformed("not a CARv1 header ({version: 1, roots: [...]})")
    if (require_roots and not roots) or not all(dagcbor.is_link(root) for root in roots):
        raise CarMalformed("CAR header names no roots, or a root that is not a CID")
    return [dagcbor.unlink(root) for root in roots]


def read_blocks(
    stream: Readable,
    *,
    max_section: int = MAX_SECTION_BYTES,
    max_bytes: int | None = None,
    codecs: tuple[int, ...] = CODECS,
) -> Iterator[tuple[str, bytes]]:
    """The sections after the header, each checked against its CID (parsed once, from its binary form) before it
    is yielded. A section's length is checked before its bytes are read; `max_bytes` caps all sections together;
    a CID of another codec than `codecs` is refused."""
    total = 0
    while True:
        length = _read_varint(stream)
        if length is None:
            return
        if length > max_section:
            raise CarOversized(f"CAR section of {length} bytes is over the {max_section}-byte limit")
        total += length
        if max_bytes is not None and total > max_bytes:
            raise CarOversized(f"CAR sections add up to more than the {max_bytes}-byte limit")
        if length < _CID_BYTES:
            raise CarMalformed(f"CAR section of {length} bytes is shorter than a CID")
        binary = _read_exact(stream, _CID_BYTES)
        cid = cid_from_binary(binary, codecs)
        block = _read_exact(stream, length - _CID_BYTES)
        if hashlib.sha256(block).digest() != binary[4:]:
            raise CidMismatch(f"block {cid} does not match its CID (tampered or truncated)")
        yield cid, block


@dataclass
class CarSummary:
    """What a verified CAR holds: its roots, the blocks (count and bytes), and the root blocks themselves."""

    roots: list[str]
    blocks: int = 0
    size: int = 0
    root_blocks: dict[str, bytes] = field(default_factory=dict)


def scan_car(stream: Readable, on_block: Callable[[str, bytes], None] | None = None) -> CarSummary:
    """Verify a whole CAR: every block matches its CID, every root and every link is present. Each verified block
    also goes to `on_block`, if given, so a stream can be stored while it is read once (the caller then takes the
    blocks back if the CAR turns out incomplete)."""
    summary = CarSummary(read_roots(stream))
    wanted_roots = set(summary.roots)
    present: set[str] = set()
    linked: set[str] = set()
    for cid, block in read_blocks(stream):
        if on_block is not None:
            on_block(cid, block)
        present.add(cid)
        linked.update(links_of(cid, block))
        summary.blocks += 1
        summary.size += len(block)
        if cid in wanted_roots:
            summary.root_blocks[cid] = block
    for root in summary.roots:
        if root not in present:
            raise CarRootMissing(f"CAR header names root {root}, which is not in the file")
    missing = sorted(linked - present)
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise CarMissingBlock(f"CAR file lacks block {missing[0]}{more}")
    return summary
