"""UnixFS over dag-pb, byte-for-byte as IPFS importers build it under the CID profiles of IPIP-499.

Specs: https://specs.ipfs.tech/unixfs/, https://specs.ipfs.tech/ipips/ipip-0499/ and
https://ipld.io/specs/codecs/dag-pb/spec/. A `CidProfile` fixes every parameter that changes a CID:
- a file is cut into fixed-size chunks; each is a raw block (raw leaves) or a dag-pb UnixFS `File` node carrying the
  bytes (CIDv0 profile);
- one chunk: the file's CID is that leaf's; more: a balanced tree of dag-pb nodes with at most `max_links` links
  each, every node carrying UnixFS `Data{Type=File, filesize, blocksizes}`;
- a directory is a dag-pb node with `Data{Type=Directory}` and one named link per entry, sorted by name bytes,
  unless its estimated size exceeds the HAMT threshold (strictly): then it is a HAMT of `Data{Type=HAMTShard}`
  nodes, fanout 256, keyed by murmur3-x64-64 of the entry name (see `_hamt`).
Links carry `Tsize`, the total encoded size of the subtree. dag-pb writes Links (field 2) before Data (field 1).
The importer keeps one partial node per tree level, so memory is constant whatever the file size; `import_path`
hashes the leaves of one file on every core (hashlib releases the GIL while it hashes).
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import mmh3

from zkreg.codecs import varint
from zkreg.errors import BadCidProfile, MalformedObject
from zkreg.registry.cid import DAG_PB, RAW, cid_bytes, cid_from_binary, cid_from_str, cid_to_str, link_bytes

_TYPE_DIRECTORY = 1
_TYPE_FILE = 2
_TYPE_HAMT_SHARD = 5
_MURMUR3_X64_64 = 0x22
HAMT_FANOUT = 256
KIB = 1024


@dataclass(frozen=True)
class CidProfile:
    """Every import parameter that changes a CID (IPIP-499's table), under one name."""

    name: str
    cid_version: int
    raw_leaves: bool
    chunk_size: int
    max_links: int
    """Links per file node before the balanced tree grows a level."""
    hamt_threshold: int
    """A directory whose estimated size is strictly above this many bytes becomes a HAMT."""
    hamt_estimate: str
    """"links-bytes": the sum of link name and binary CID lengths; "block-bytes": the encoded directory block."""
    add_params: dict[str, str] | None
    """The `/add` parameters of an IPFS node's RPC that build this profile's DAG, or None if `/add` cannot (the
    RPC has no parameter for links per node): then the blocks are uploaded as zkreg computed them."""


UNIXFS_V1_2025 = CidProfile("unixfs-v1-2025", 1, True, 1024 * KIB, 1024, 256 * KIB, "block-bytes", None)
UNIXFS_V0_2015 = CidProfile(
    "unixfs-v0-2015",
    0,
    False,
    256 * KIB,
    174,
    256 * KIB,
    "links-bytes",
    {"cid-version": "0", "raw-leaves": "false", "chunker": f"size-{256 * KIB}"},
)
KUBO_V1_LEGACY = CidProfile(
    "kubo-v1-legacy",
    1,
    True,
    256 * KIB,
    174,
    256 * KIB,
    "links-bytes",
    {"cid-version": "1", "raw-leaves": "true", "chunker": f"size-{256 * KIB}"},
)
"""`ipfs add --cid-version=1 --raw-leaves` before IPIP-499, what zkreg used before profiles: a manifest without a
`cid_profile` was made with it. Also the fixed parameters of internal commitments (proof bundles, zk model CIDs)."""
PROFILES = {profile.name: profile for profile in (UNIXFS_V1_2025, UNIXFS_V0_2015, KUBO_V1_LEGACY)}
DEFAULT_PROFILE = UNIXFS_V1_2025


def profile_named(name: str) -> CidProfile:
    try:
        return PROFILES[name]
    except KeyError:
        raise BadCidProfile(f"unknown CID profile {name!r}: one of {', '.join(PROFILES)}") from None


PutBlock = Callable[[str, bytes], None]
"""Where the importer sends each block it makes: (cid, bytes)."""


@dataclass(frozen=True)
class Link:
    cid: bytes
    """As the link stores it: a CIDv0 (34 bytes) in a version 0 DAG, else a CIDv1."""
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


def leaf_block(chunk: bytes, profile: CidProfile) -> bytes:
    """The block holding one chunk: the bytes themselves, or a `File` node carrying them (no Data when empty)."""
    if profile.raw_leaves:
        return chunk
    payload = _field_bytes(2, chunk) if chunk else b""
    return encode_node([], _field_varint(1, _TYPE_FILE) + payload + _field_varint(3, len(chunk)))


DIRECTORY_DATA = _field_varint(1, _TYPE_DIRECTORY)


class _Level:
    """The links of one not-yet-emitted node at one height of the tree."""

    __slots__ = ("links", "sizes")

    def __init__(self) -> None:
        self.links: list[Link] = []
        self.sizes: list[int] = []


class FileImporter:
    """Feed chunks with `add_chunk` (or leaves hashed elsewhere with `add_leaf`), then `finish()`; blocks go to
    `put_block` as soon as they are final."""

    def __init__(self, put_block: PutBlock, profile: CidProfile = KUBO_V1_LEGACY) -> None:
        self._put = put_block
        self.profile = profile
        self._levels: list[_Level] = [_Level()]
        self._size = 0

    def add_chunk(self, chunk: bytes) -> None:
        block = leaf_block(chunk, self.profile)
        self.add_leaf(block, hashlib.sha256(block).digest(), len(chunk))

    def add_leaf(self, block: bytes, digest: bytes, size: int) -> None:
        """A leaf block made by `leaf_block` and its sha2-256 digest, of a chunk of `size` bytes."""
        codec = RAW if self.profile.raw_leaves else DAG_PB
        self._put(cid_to_str(cid_bytes(codec, digest)), block)
        self._size += size
        self._push(0, Link(link_bytes(codec, digest, self.profile.cid_version), "", len(block)), size)

    def _push(self, height: int, link: Link, filesize: int) -> None:
        if height == len(self._levels):
            self._levels.append(_Level())
        level = self._levels[height]
        level.links.append(link)
        level.sizes.append(filesize)
        if len(level.links) == self.profile.max_links:
            self._push(height + 1, *self._emit(level))
            self._levels[height] = _Level()

    def _emit(self, level: _Level) -> tuple[Link, int]:
        filesize = sum(level.sizes)
        block = encode_node(level.links, _file_data(filesize, level.sizes))
        digest = hashlib.sha256(block).digest()
        self._put(cid_to_str(cid_bytes(DAG_PB, digest)), block)
        tsize = len(block) + sum(link.tsize for link in level.links)
        return Link(link_bytes(DAG_PB, digest, self.profile.cid_version), "", tsize), filesize

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
                return ImportedFile(cid_from_binary(root.cid), self._size, root.tsize)
            if level.links:
                link, filesize = self._emit(level)
                self._levels[height] = _Level()
                if is_top:
                    self._levels.append(_Level())
                upper = self._levels[height + 1]
                upper.links.append(link)
                upper.sizes.append(filesize)
            height += 1


def read_chunks(stream: BinaryIO, chunk_size: int, on_read: Callable[[int], None] | None = None) -> Iterator[bytes]:
    """Exactly `chunk_size` bytes per chunk (the last may be shorter), as a fixed-size splitter cuts them."""
    while True:
        chunk = stream.read(chunk_size)
        while chunk and len(chunk) < chunk_size:
            more = stream.read(chunk_size - len(chunk))
            if not more:
                break
            chunk += more
        if not chunk:
            return
        if on_read is not None:
            on_read(len(chunk))
        yield chunk


def import_stream(
    stream: BinaryIO,
    put_block: PutBlock,
    on_read: Callable[[int], None] | None = None,
    profile: CidProfile = KUBO_V1_LEGACY,
) -> ImportedFile:
    importer = FileImporter(put_block, profile)
    for chunk in read_chunks(stream, profile.chunk_size, on_read):
        importer.add_chunk(chunk)
    return importer.finish()


HASH_WORKERS = max(1, min(4, os.cpu_count() or 1))
_IN_FLIGHT_PER_WORKER = 4  # chunks read and hashed ahead of the tree builder: bounds memory (16 MiB at 1 MiB chunks)


def _read_and_hash(fd: int, offset: int, profile: CidProfile) -> tuple[bytes, bytes, int]:
    """One leaf, read with `pread` (no shared file position) and hashed; both release the GIL."""
    chunk = os.pread(fd, profile.chunk_size, offset)
    while len(chunk) < profile.chunk_size:  # pread may return short before the end of the file
        more = os.pread(fd, profile.chunk_size - len(chunk), offset + len(chunk))
        if not more:
            break
        chunk += more
    block = leaf_block(chunk, profile)
    return block, hashlib.sha256(block).digest(), len(chunk)


def import_path(
    path: Path,
    put_block: PutBlock,
    profile: CidProfile,
    on_read: Callable[[int], None] | None = None,
    workers: int = HASH_WORKERS,
) -> ImportedFile:
    """A file's DAG with its leaves read and hashed on `workers` threads, in order into one importer (which
    also calls `put_block`, on this thread). The size is taken at the start: bytes appended meanwhile are not
    read, and a file that shrank gives short chunks the caller's size check refuses."""
    importer = FileImporter(put_block, profile)
    with path.open("rb") as stream:
        fd = stream.fileno()
        size = os.fstat(fd).st_size
        offsets = iter(range(0, size, profile.chunk_size))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="zkreg-hash") as pool:
            pending: deque[Future[tuple[bytes, bytes, int]]] = deque()
            for offset in offsets:
                pending.append(pool.submit(_read_and_hash, fd, offset, profile))
                if len(pending) >= workers * _IN_FLIGHT_PER_WORKER:
                    _take(pending, importer, on_read)
            while pending:
                _take(pending, importer, on_read)
    return importer.finish()


def _take(
    pending: deque[Future[tuple[bytes, bytes, int]]], importer: FileImporter, on_read: Callable[[int], None] | None
) -> None:
    block, digest, size = pending.popleft().result()
    if size == 0:  # the file shrank under us: stop feeding; the caller compares sizes
        return
    importer.add_leaf(block, digest, size)
    if on_read is not None:
        on_read(size)


def file_cid(path: Path, profile: CidProfile = KUBO_V1_LEGACY) -> str:
    """The CID of a file, computed without storing it (private files never enter the blockstore)."""
    return import_path(path, lambda cid, block: None, profile).cid


def link_to(cid: str, profile: CidProfile) -> bytes:
    """The binary form of `cid` that a link in a DAG of this profile carries."""
    binary = cid_from_str(cid)
    return link_bytes(binary[1], binary[4:], profile.cid_version)


def directory_node(entries: dict[str, tuple[str, int]], profile: CidProfile = KUBO_V1_LEGACY) -> bytes:
    """A basic UnixFS directory block; `entries` maps a name to (CID, Tsize of that entry's subtree)."""
    return encode_node(_sorted_links(entries, profile), DIRECTORY_DATA)


def _sorted_links(entries: dict[str, tuple[str, int]], profile: CidProfile) -> list[Link]:
    return [
        Link(link_to(cid, profile), name, tsize)
        for name, (cid, tsize) in sorted(entries.items(), key=lambda item: item[0].encode())
    ]


def put_directory(entries: dict[str, tuple[str, int]], profile: CidProfile, put_block: PutBlock) -> tuple[str, int]:
    """Store the directory holding `entries` (name -> (CID, Tsize)), as a HAMT if the profile says it is too big;
    its (CID, Tsize)."""
    links = _sorted_links(entries, profile)
    block = encode_node(links, DIRECTORY_DATA)
    if profile.hamt_estimate == "block-bytes":
        estimate = len(block)
    else:
        estimate = sum(len(link.name.encode()) + len(link.cid) for link in links)
    if estimate > profile.hamt_threshold:
        return _hamt(links, profile, put_block)
    return _put_node(block, put_block), len(block) + sum(link.tsize for link in links)


def _put_node(block: bytes, put_block: PutBlock) -> str:
    cid = cid_to_str(cid_bytes(DAG_PB, hashlib.sha256(block).digest()))
    put_block(cid, block)
    return cid


def hamt_hash(name: str) -> bytes:
    """murmur3-x64-64 of an entry name as UnixFS HAMTs use it: the first 64-bit half of murmur3-x64-128,
    big-endian; each level of the HAMT takes the next byte as its bucket index (fanout 256)."""
    return mmh3.hash64(name.encode(), signed=False)[0].to_bytes(8, "big")


def _hamt(links: list[Link], profile: CidProfile, put_block: PutBlock) -> tuple[str, int]:
    keyed = [(hamt_hash(link.name), link) for link in links]
    return _shard(keyed, 0, profile, put_block)


def _shard(keyed: list[tuple[bytes, Link]], depth: int, profile: CidProfile, put_block: PutBlock) -> tuple[str, int]:
    """One HAMT node at `depth`: a bucket with one entry links to it as `XXname`, one with more to a child shard
    as `XX` (built on the next byte of the hash). Links go in bucket order."""
    if depth == 8:
        raise MalformedObject("two directory entries have the same 64-bit HAMT hash")
    buckets: dict[int, list[tuple[bytes, Link]]] = {}
    for key, link in keyed:
        buckets.setdefault(key[depth], []).append((key, link))
    shard_links: list[Link] = []
    for index in sorted(buckets):
        members = buckets[index]
        if len(members) == 1:
            link = members[0][1]
            shard_links.append(Link(link.cid, f"{index:02X}{link.name}", link.tsize))
        else:
            child, tsize = _shard(members, depth + 1, profile, put_block)
            shard_links.append(Link(link_to(child, profile), f"{index:02X}", tsize))
    bitfield = sum(1 << index for index in buckets).to_bytes(HAMT_FANOUT // 8, "big").lstrip(b"\0")
    data = (
        _field_varint(1, _TYPE_HAMT_SHARD)
        + _field_bytes(2, bitfield)
        + _field_varint(5, _MURMUR3_X64_64)
        + _field_varint(6, HAMT_FANOUT)
    )
    block = encode_node(shard_links, data)
    return _put_node(block, put_block), len(block) + sum(link.tsize for link in shard_links)


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
    data: bytes
    """The bytes a leaf node carries (dag-pb leaves of a CIDv0 DAG); empty for a node with links."""


def _unixfs_data(block: bytes) -> tuple[list[Link], bytes]:
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
    return links, data


def decode_file_node(block: bytes) -> FileNode:
    links, data = _unixfs_data(block)
    node_type, filesize, blocksizes, payload = 0, 0, [], b""
    for field, value in _fields(data):
        if field == 1 and isinstance(value, int):
            node_type = value
        elif field == 2 and isinstance(value, bytes):
            payload = value
        elif field == 3 and isinstance(value, int):
            filesize = value
        elif field == 4 and isinstance(value, int):
            blocksizes.append(value)
    is_leaf = not links and not blocksizes and filesize == len(payload)
    is_branch = not payload and len(blocksizes) == len(links) and sum(blocksizes) == filesize
    if node_type != _TYPE_FILE or not (is_leaf or is_branch):
        raise MalformedObject("dag-pb block is not a UnixFS file node zkreg can read")
    return FileNode(links, filesize, blocksizes, payload)


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
