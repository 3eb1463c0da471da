"""Same CIDs everywhere: what zkreg computes offline is what a real IPFS node computes for the same bytes."""

from __future__ import annotations

import json
import random
from pathlib import Path

import httpx
import pytest

from tests.ipfs.node import IpfsNode
from zkreg.registry.unixfs import KUBO_V1_LEGACY, import_stream

CHUNK_SIZE = KUBO_V1_LEGACY.chunk_size

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "unixfs-files.json"


def node_only_hash(node: IpfsNode, data: bytes) -> str:
    answer = httpx.post(
        f"{node.url}/api/v0/add",
        params={
            "only-hash": "true",
            "cid-version": "1",
            "raw-leaves": "true",
            "chunker": f"size-{CHUNK_SIZE}",
            "cid-base": "base32",
            "progress": "false",
        },
        files={"file": ("data", data)},
        timeout=120,
        trust_env=False,
    )
    answer.raise_for_status()
    return str(json.loads(answer.text.splitlines()[-1])["Hash"])


def offline_cid(tmp_path: Path, data: bytes) -> str:
    path = tmp_path / "data"
    path.write_bytes(data)
    with path.open("rb") as stream:
        return import_stream(stream, lambda cid, block: None).cid


EDGE_SIZES = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE, 7 * CHUNK_SIZE + 12345]


@pytest.mark.parametrize("size", EDGE_SIZES)
def test_offline_cid_equals_node_cid_at_chunk_edges(ipfs_node: IpfsNode, tmp_path: Path, size: int) -> None:
    data = random.Random(size).randbytes(size)
    assert offline_cid(tmp_path, data) == node_only_hash(ipfs_node, data)


def test_offline_cid_equals_node_cid_for_random_sizes(ipfs_node: IpfsNode, tmp_path: Path) -> None:
    rng = random.Random(20261125)
    for _ in range(6):
        data = rng.randbytes(rng.randrange(0, 4 * 1024 * 1024))
        assert offline_cid(tmp_path, data) == node_only_hash(ipfs_node, data), len(data)


@pytest.mark.slow
def test_offline_cid_equals_node_cid_for_a_two_level_tree(ipfs_node: IpfsNode, tmp_path: Path) -> None:
    """175 chunks: more than one dag-pb node's 174 links, so the file needs a second tree level."""
    data = random.Random(175).randbytes(175 * CHUNK_SIZE - 7)
    assert offline_cid(tmp_path, data) == node_only_hash(ipfs_node, data)


@pytest.mark.skipif(not VECTORS.exists(), reason="the Foundation's golden vectors are not in this checkout")
def test_golden_vectors_match_the_node(ipfs_node: IpfsNode, tmp_path: Path) -> None:
    for name, vector in json.loads(VECTORS.read_text()).items():
        data = random.Random(vector["seed"]).randbytes(vector["size"])
        assert node_only_hash(ipfs_node, data) == vector["cid"], name
        assert offline_cid(tmp_path, data) == vector["cid"], name


def test_offline_cid_equals_aleph_cid_for_sizes_past_the_node_tests(tmp_path: Path) -> None:
    """aleph-cid is an independent implementation (Rust); these sizes span several second-level tree nodes."""
    import aleph_cid

    for size in (2 * 174 * CHUNK_SIZE + 3, 3 * 174 * CHUNK_SIZE - 1):
        data = random.Random(size).randbytes(size)
        hasher = aleph_cid.CidHasher.for_ipfs_v1_raw_leaves()
        hasher.update(data)
        assert offline_cid(tmp_path, data) == hasher.finalize(), size
