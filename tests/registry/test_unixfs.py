"""CIDs exactly as `ipfs add --cid-version=1 --raw-leaves` computes them, checked against golden vectors (recorded
from aleph-cid, an independent implementation) and against aleph-cid directly for random sizes."""

from __future__ import annotations

import contextlib
import io
import tracemalloc
from pathlib import Path

import aleph_cid
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import vectors
from zkreg.api import PublishRequest, publish
from zkreg.errors import CidMismatch, MalformedObject
from zkreg.registry.cid import DAG_PB, RAW, check_block, cid_from_str, compute
from zkreg.registry.unixfs import (
    KUBO_V1_LEGACY,
    FileImporter,
    Link,
    decode_file_node,
    encode_node,
    import_stream,
)

CHUNK_SIZE = KUBO_V1_LEGACY.chunk_size
MAX_LINKS = KUBO_V1_LEGACY.max_links


def offline_cid(data: bytes) -> str:
    return import_stream(io.BytesIO(data), lambda cid, block: None).cid


def aleph(data: bytes) -> str:
    hasher = aleph_cid.CidHasher.for_ipfs_v1_raw_leaves()
    hasher.update(data)
    return str(hasher.finalize())


def test_empty_file_has_the_well_known_cid() -> None:
    assert offline_cid(b"") == "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"


@pytest.mark.parametrize("name", list(vectors.FILE_SIZES))
def test_file_cid_matches_golden_vector(name: str) -> None:
    golden = vectors.load("unixfs-files")[name]
    assert offline_cid(vectors.content(golden["size"], golden["seed"])) == golden["cid"]


def test_directory_cid_matches_golden_vector(tmp_path: Path, repo) -> None:  # type: ignore[no-untyped-def]
    folder = vectors.write_directory(tmp_path / "dir")
    request = PublishRequest([folder], name="dir-vector", kind="dataset", cid_profile="kubo-v1-legacy")
    manifest = repo.show(publish(repo, request).cid)
    tree = repo.store.get_block(manifest.tree)
    # The published tree wraps the folder: its single link is the folder's own UnixFS directory node.
    (link,) = _links(tree)
    assert link.name == "dir"
    assert compute(DAG_PB, repo.store.get_block(compute_str(link))) == vectors.load("unixfs-directory")["cid"]


def compute_str(link: Link) -> str:
    from zkreg.registry.cid import cid_to_str

    return cid_to_str(link.cid)


def _links(block: bytes) -> list[Link]:
    from zkreg.registry.unixfs import _fields

    links = []
    for field, value in _fields(block):
        if field == 2 and isinstance(value, bytes):
            parts = dict(_fields(value))
            links.append(Link(parts[1], parts[2].decode(), parts[3]))  # type: ignore[union-attr,arg-type]
    return links


@settings(max_examples=40, deadline=None)
@given(
    size=st.one_of(st.integers(0, 3 * CHUNK_SIZE), st.sampled_from([CHUNK_SIZE - 1, 2 * CHUNK_SIZE])),
    seed=st.integers(0, 2**16),
)
def test_random_sizes_match_aleph_cid(size: int, seed: int) -> None:
    data = vectors.content(size, seed)
    assert offline_cid(data) == aleph(data)


@pytest.mark.parametrize("chunks", [MAX_LINKS, MAX_LINKS + 1, MAX_LINKS * 2 + 3])
def test_tree_shape_at_the_fan_out_boundary_matches_aleph_cid(chunks: int) -> None:
    # Tiny chunks would change the CID, so fan-out is exercised with real 256 KiB chunks of cheap content.
    data = bytes(range(256)) * (chunks * CHUNK_SIZE // 256)
    assert offline_cid(data[: chunks * CHUNK_SIZE - 7]) == aleph(data[: chunks * CHUNK_SIZE - 7])


def test_every_emitted_block_hashes_to_its_cid_and_the_tree_reads_back() -> None:
    blocks: dict[str, bytes] = {}
    data = vectors.content(MAX_LINKS * CHUNK_SIZE + 12345, seed=9)
    root = import_stream(io.BytesIO(data), blocks.__setitem__)
    for cid, block in blocks.items():
        check_block(cid, block)

    def read(cid: str) -> bytes:
        block = blocks[cid]
        if cid_from_str(cid)[1] == RAW:
            return block
        node = decode_file_node(block)
        return b"".join(read(compute_str(link)) for link in node.links)

    assert read(root.cid) == data
    assert root.size == len(data)
    assert root.tsize == sum(len(block) for block in blocks.values())


def test_importer_memory_is_constant_in_file_size() -> None:
    class Zeros(io.RawIOBase):
        def __init__(self, size: int) -> None:
            self.left = size

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def,override]
            n = min(len(buffer), self.left)
            buffer[:n] = bytes(n)
            self.left -= n
            return n

    tracemalloc.start()
    import_stream(io.BufferedReader(Zeros(200 * 1024 * 1024)), lambda cid, block: None)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, f"importing 200 MiB peaked at {peak / 2**20:.1f} MiB"


@given(sizes=st.lists(st.integers(0, 2**40), min_size=1, max_size=MAX_LINKS))
def test_file_node_encoding_round_trips(sizes: list[int]) -> None:
    links = [Link(bytes.fromhex("01551220") + bytes([i % 256]) * 32, "", size) for i, size in enumerate(sizes)]
    from zkreg.registry.unixfs import _file_data

    block = encode_node(links, _file_data(sum(sizes), sizes))
    node = decode_file_node(block)
    assert node.links == links
    assert node.blocksizes == sizes
    assert node.filesize == sum(sizes)


@given(garbage=st.binary(max_size=200))
def test_garbage_dag_pb_is_a_clear_error_never_a_crash(garbage: bytes) -> None:
    with contextlib.suppress(MalformedObject):
        decode_file_node(garbage)


def test_block_that_does_not_match_its_cid_is_refused() -> None:
    cid = compute(RAW, b"hello")
    with pytest.raises(CidMismatch, match=cid):
        check_block(cid, b"hellO")


def test_importer_hands_out_leaves_before_it_is_finished() -> None:
    seen: list[str] = []
    importer = FileImporter(lambda cid, block: seen.append(cid))
    importer.add_chunk(b"a" * CHUNK_SIZE)
    assert len(seen) == 1
