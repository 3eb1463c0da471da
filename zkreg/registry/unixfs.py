"""UnixFS over dag-pb, byte-for-byte as `ipfs add --cid-version=1 --raw-leaves` builds it.

Specs: https://github.com/ipfs/specs/blob/main/UNIXFS.md and https://ipld.io/specs/codecs/dag-pb/spec/
- a file is cut into 256 KiB chunks, each a raw block;
- one chunk: the file's CID is the raw leaf's; more: a balanced tree of dag-pb nodes with at most 174 links
  each, every node carrying UnixFS `Data{Type=File, filesize, blocksizes}`;
- a directory is a dag-pb node with `Data{Type=Directory}` and one named link per entry, sorted by name bytes.
Links carry `Tsize`, the total encoded size of the subtree. dag-pb writes Links (field 2) before Data (field 1).
The importer keeps one partial node per tree level, so memory is constant whatever the file size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from zkreg.codecs import varint
from zkreg.errors import MalformedObject
from zkreg.registry.cid import DAG_PB, RAW, cid_bytes, cid_from_str, cid_to_str

CHUNK_SIZE = 256 * 1024
MAX_LINKS = 174

_TYPE_DIRECTORY = 1
_TYPE_FILE = 2

PutBlock = Callable[[str, bytes], None]
"""Where the importer sends each block it makes: (cid, bytes)."""


@dataclass(frozen=True)
class Link:
    cid: bytes
    name: str
    tsize: int


@dataclass(frozen=True)
class ImportedFile:
    cid: str
    size: int
    tsize: int
    """Bytes of every block of the file's DAG: what a parent directory's link records."""


def _field_bytes(field: int, payload: bytes) -> bytes:
    return varint.encode(field << 3 | 2) + varint.encode(len(payload)) + payload


def _field_varint(field: int, value: int) -> bytes:
    return varint.encode(field << 3) + varint.encode(value)


def encode_node(links: list[Link], data: bytes) -> bytes:
    out = bytearray()
    for link in links:
        body = _field_bytes(1, link.cid) + _field_bytes(2, link.name.encode()) + _field_varint(3, link.tsize)
        out += _field_bytes(2, body)
    out += _field_bytes(1, data)
    return bytes(out)


def _file_data(filesize: int, blocksizes: list[int]) -> bytes:
    return (
        _field_varint(1, _TYPE_FILE)
        + _field_varint(3, filesize)
        + b"".join(_field_varint(4, size) for size in blocksizes)
    )


DIRECTORY_DATA = _field_varint(1, _TYPE_DIRECTORY)


class _Level:
    """The links of one not-yet-emitted node at one height of the tree."""

    __slots__ = ("links", "sizes")

    def __init__(self) -> None:
        self.links: list[Link] = []
        self.sizes: list[int] = []


class FileImporter:
    """Feed chunks with `add_chunk`, then `finish()`; blocks go to `put_block` as soon as they are final."""

    def __init__(self, put_block: PutBlock) -> None:
        self._put = put_block
        self._levels: list[_Level] = [_Level()]
        self._size = 0

    def add_chunk(self, chunk: bytes) -> None:
        binary = cid_bytes(RAW, hashlib.sha256(chunk).digest())
        self._put(cid_to_str(binary), chunk)
        self._size += len(chunk)
        self._push(0, Link(binary, "", len(chunk)), len(chunk))

    def _push(self, height: int, link: Link, filesize: int) -> None:
        if height == len(self._levels):
            self._levels.append(_Level())
        level = self._levels[height]
        level.links.append(link)
        level.sizes.append(filesize)
        if len(level.links) == MAX_LINKS:
            self._push(height + 1, *self._emit(level))
            self._levels[height] = _Level()

    def _emit(self, level: _Level) -> tuple[Link, int]:
        filesize = sum(level.sizes)
        block = encode_node(level.links, _file_data(filesize, level.sizes))
        binary = cid_bytes(DAG_PB, hashlib.sha256(block).digest())
        self._put(cid_to_str(binary), block)
        return Link(binary, "", len(block) + sum(link.tsize for link in level.links)), filesize

    def finish(self) -> ImportedFile:
        if self._size == 0:
            self.add_chunk(b"")
        height = 0
        # A level becomes a node unless it is the top and holds a single link (that link is the root); a lone
        # subtree under a taller tree still gets its single-link parents, as the balanced builder makes them.
        while True:
            level = self._levels[height]
            is_top = height == len(self._levels) - 1
            if is_top and len(level.links) == 1:
                root = level.links[0]
                return ImportedFile(cid_to_str(root.cid), self._size, root.tsize)
            if level.links:
                link, filesize = self._emit(level)
                self._levels[height] = _Level()
                if is_top:
                    self._levels.append(_Level())
                upper = self._levels[height + 1]
                upper.links.append(link)
                upper.sizes.append(filesize)
            height += 1


def read_chunks(stream: BinaryIO, on_read: Callable[[int], None] | None = None) -> Iterator[bytes]:
    """Exactly CHUNK_SIZE bytes per chunk (the last may be shorter), as Kubo's size splitter cuts them."""
    while True:
        chunk = stream.read(CHUNK_SIZE)
        while chunk and len(chunk) < CHUNK_SIZE:
            more = stream.read(CHUNK_SIZE - len(chunk))
            if not more:
                break
            chunk += more
        if not chunk:
            return
        if on_read is not None:
            on_read(len(chunk))
        yield chunk


def import_stream(stream: BinaryIO, put_block: PutBlock, on_read: Callable[[int], None] | None = None) -> ImportedFile:
    importer = FileImporter(put_block)
    for chunk in read_chunks(stream, on_read):
        importer.add_chunk(chunk)
    return importer.finish()


def file_cid(path: Path) -> str:
    """The `ipfs add` CID of a file, computed without storing it (private files never enter the blockstore)."""
    with path.open("rb") as stream:
        return import_stream(stream, lambda cid, block: None).cid


def directory_node(entries: dict[str, tuple[str, int]]) -> bytes:
    """A UnixFS directory block; `entries` maps a name to (CID, Tsize of that entry's subtree)."""
    links = [
        Link(cid_from_str(cid), name, tsize)
        for name, (cid, tsize) in sorted(entries.items(), key=lambda item: item[0].encode())
    ]
    return encode_node(links, DIRECTORY_DATA)


# Decoding: a strict reader for the subset above, used to walk a file's DAG when reading it back.


def _fields(buf: bytes) -> Iterator[tuple[int, int | bytes]]:
    pos = 0
    while pos < len(buf):
        key, pos = varint.decode(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = varint.decode(buf, pos)
            yield field, value
        elif wire == 2:
            length, pos = varint.decode(buf, pos)
            if pos + length > len(buf):
                raise MalformedObject("dag-pb field runs past the end of the block")
            yield field, buf[pos : pos + length]
            pos += length
        else:
            raise MalformedObject(f"unexpected protobuf wire type {wire} in dag-pb block")


@dataclass(frozen=True)
class FileNode:
    links: list[Link]
    filesize: int
    blocksizes: list[int]


def decode_file_node(block: bytes) -> FileNode:
    links: list[Link] = []
    data = b""
    for field, value in _fields(block):
        if field == 2 and isinstance(value, bytes):
            parts = dict(_fields(value))
            cid, name, tsize = parts.get(1), parts.get(2, b""), parts.get(3, 0)
            if not isinstance(cid, bytes) or not isinstance(name, bytes) or not isinstance(tsize, int):
                raise MalformedObject("dag-pb link without a valid hash")
            links.append(Link(cid, name.decode(errors="replace"), tsize))
        elif field == 1 and isinstance(value, bytes):
            data = value
    node_type, filesize, blocksizes = 0, 0, []
    for field, value in _fields(data):
        if field == 1 and isinstance(value, int):
            node_type = value
        elif field == 3 and isinstance(value, int):
            filesize = value
        elif field == 4 and isinstance(value, int):
            blocksizes.append(value)
    if node_type != _TYPE_FILE or len(blocksizes) != len(links) or sum(blocksizes) != filesize:
        raise MalformedObject("dag-pb block is not a UnixFS file node zkreg can read")
    return FileNode(links, filesize, blocksizes)


def node_links(block: bytes) -> list[bytes]:
    """The binary CIDs a dag-pb node links to, in order (files and directories alike)."""
    links: list[bytes] = []
    for field, value in _fields(block):
        if field == 2 and isinstance(value, bytes):
            cid = dict(_fields(value)).get(1)
            if not isinstance(cid, bytes):
                raise MalformedObject("dag-pb link without a valid hash")
            links.append(cid)
    return links
