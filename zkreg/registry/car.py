"""CARv1 files: a DAG's blocks in one stream, for offline hand-over and for `ipfs dag import` / `dag export`.

Spec: https://ipld.io/specs/transport/car/carv1/ — a varint-prefixed DAG-CBOR header `{version: 1, roots: [CID]}`,
then sections `varint(len(cid) + len(block)) | cid | block`. Reading is streaming and bounded: a section's length
is checked before its bytes are read, so an oversized or hostile length is refused at once, and every block is
re-hashed against its CID. What is kept in memory is the set of CIDs seen and linked (about 60 bytes per 256 KiB
block), never block data; completeness (every root and every link present) is known only at the end of the
stream, which is why importing reads a file twice: once to verify, once to store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

import dag_cbor
from multiformats import CID

from zkreg.errors import (
    CarMalformed,
    CarMissingBlock,
    CarOversized,
    CarRootMissing,
    CarTruncated,
    MalformedObject,
    UnsupportedCid,
)
from zkreg.registry.cid import DAG_CBOR, DAG_PB, RAW, check_block, cid_from_str, cid_to_str
from zkreg.registry.unixfs import encode_varint, node_links

MAX_HEADER_BYTES = 1024 * 1024
MAX_BLOCK_BYTES = 4 * 1024 * 1024 + 1024
"""The largest block zkreg writes is a manifest (at most 4 MiB); chunks are 256 KiB."""
_CID_BYTES = 36
MAX_SECTION_BYTES = _CID_BYTES + MAX_BLOCK_BYTES
_CODECS = (RAW, DAG_PB, DAG_CBOR)

GetBlock = Callable[[str], bytes]


class Readable(Protocol):
    """What the reader needs of a stream: a file, or an HTTP response body (`IpfsStore` reads the node's CARs)."""

    def read(self, size: int, /) -> bytes: ...


def _read_varint(stream: Readable) -> int | None:
    """The next unsigned varint, or None at a clean end of stream."""
    value = 0
    for index in range(9):
        byte = stream.read(1)
        if not byte:
            if index == 0:
                return None
            raise CarTruncated("CAR file ends inside a length prefix")
        value |= (byte[0] & 0x7F) << (7 * index)
        if byte[0] < 0x80:
            return value
    raise CarMalformed("CAR length prefix is longer than 9 bytes")


def _read_exact(stream: Readable, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise CarTruncated(f"CAR file ends {size - len(data)} bytes early")
    return data


def links_of(cid: str, block: bytes) -> list[str]:
    """The CIDs a block links to (dag-pb links, DAG-CBOR tag-42 links; raw blocks have none)."""
    codec = cid_from_str(cid)[1]
    if codec == RAW:
        return []
    if codec == DAG_PB:
        return [_cid_text(binary) for binary in node_links(block)]
    try:
        decoded = dag_cbor.decode(block)
    except Exception as exc:  # dag_cbor raises several unrelated types for malformed input
        raise MalformedObject(f"block {cid} is not valid DAG-CBOR: {exc}") from exc
    found: list[str] = []
    _collect_cbor_links(decoded, found)
    return found


def _collect_cbor_links(value: Any, found: list[str]) -> None:
    if isinstance(value, CID):
        found.append(_cid_text(bytes(value)))
    elif isinstance(value, dict):
        for item in value.values():
            _collect_cbor_links(item, found)
    elif isinstance(value, list):
        for item in value:
            _collect_cbor_links(item, found)


def _cid_text(binary: bytes) -> str:
    if len(binary) != _CID_BYTES or binary[0] != 1 or binary[1] not in _CODECS or binary[2:4] != b"\x12\x20":
        raise UnsupportedCid(
            f"unsupported CID {binary[:8].hex()}… (zkreg handles CIDv1 sha2-256 raw, dag-pb and dag-cbor)",
        )
    return cid_to_str(binary)


def walk_dag(get_block: GetBlock, roots: list[str], skip: set[str] | None = None) -> Iterator[tuple[str, bytes]]:
    """Every block reachable from `roots`, each once, parents before children (the order `dag export` uses);
    the DAGs under the CIDs in `skip` are left out."""
    seen: set[str] = set(skip or ())
    stack = list(reversed(roots))
    while stack:
        cid = stack.pop()
        if cid in seen:
            continue
        seen.add(cid)
        block = get_block(cid)
        yield cid, block
        stack.extend(reversed(links_of(cid, block)))


def write_car(out: IO[bytes], roots: list[str], blocks: Iterable[tuple[str, bytes]]) -> int:
    """Write a CARv1 stream; the number of blocks written."""
    header = dag_cbor.encode({"roots": [CID.decode(root) for root in roots], "version": 1})
    out.write(encode_varint(len(header)) + header)
    count = 0
    for cid, block in blocks:
        binary = cid_from_str(cid)
        out.write(encode_varint(len(binary) + len(block)))
        out.write(binary)
        out.write(block)
        count += 1
    return count


def read_roots(stream: Readable) -> list[str]:
    """Read and check the header; the stream is left at the first section."""
    length = _read_varint(stream)
    if length is None or length == 0:
        raise CarMalformed("not a CAR file: no header")
    if length > MAX_HEADER_BYTES:
        raise CarOversized(f"CAR header of {length} bytes is over {MAX_HEADER_BYTES}")
    try:
        header = dag_cbor.decode(_read_exact(stream, length))
    except MalformedObject:
        raise
    except Exception as exc:  # dag_cbor raises several unrelated types for malformed input
        raise CarMalformed(f"CAR header is not DAG-CBOR: {exc}") from exc
    roots = header.get("roots") if isinstance(header, dict) else None
    if not isinstance(header, dict) or header.get("version") != 1 or not isinstance(roots, list):
        raise CarMalformed("not a CARv1 header ({version: 1, roots: [...]})")
    if not roots or not all(isinstance(root, CID) for root in roots):
        raise CarMalformed("CAR header names no roots, or a root that is not a CID")
    return [_cid_text(bytes(root)) for root in roots if isinstance(root, CID)]


def read_blocks(stream: Readable) -> Iterator[tuple[str, bytes]]:
    """The sections after the header, each checked against its CID before it is yielded."""
    while True:
        length = _read_varint(stream)
        if length is None:
            return
        if length > MAX_SECTION_BYTES:
            raise CarOversized(
                f"CAR section of {length} bytes is over the {MAX_SECTION_BYTES}-byte limit",
            )
        if length < _CID_BYTES:
            raise CarMalformed(f"CAR section of {length} bytes is shorter than a CID")
        cid = _cid_text(_read_exact(stream, _CID_BYTES))
        block = _read_exact(stream, length - _CID_BYTES)
        check_block(cid, block)
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
