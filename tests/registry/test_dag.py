"""The one DAG walker: each CID once, parents first, and the callers' policies for held, followed and broken."""

from __future__ import annotations

import pytest

from zkreg.codecs import dagcbor
from zkreg.errors import MalformedObject, NotFound
from zkreg.registry.car import walk_dag
from zkreg.registry.cid import DAG_CBOR, DAG_PB, RAW, compute
from zkreg.registry.dag import links_of, walk
from zkreg.registry.unixfs import directory_node

LEAF_A, LEAF_B = b"leaf a", b"leaf b"
A, B = compute(RAW, LEAF_A), compute(RAW, LEAF_B)
INNER = directory_node({"a": (A, len(LEAF_A)), "b": (B, len(LEAF_B))})
INNER_CID = compute(DAG_PB, INNER)
TOP = directory_node({"inner": (INNER_CID, 0), "a-again": (A, len(LEAF_A))})
TOP_CID = compute(DAG_PB, TOP)
MANIFEST = dagcbor.encode({"tree": dagcbor.link(TOP_CID), "parents": [dagcbor.link(INNER_CID)]})
MANIFEST_CID = compute(DAG_CBOR, MANIFEST)
BLOCKS = {A: LEAF_A, B: LEAF_B, INNER_CID: INNER, TOP_CID: TOP, MANIFEST_CID: MANIFEST}


def get_block(cid: str) -> bytes:
    if cid not in BLOCKS:
        raise NotFound(f"no block {cid}")
    return BLOCKS[cid]


def test_links_of_reads_dag_pb_and_dag_cbor_links() -> None:
    assert links_of(TOP_CID, TOP) == [A, INNER_CID]  # dag-pb links sort by name: "a-again" < "inner"
    assert links_of(MANIFEST_CID, MANIFEST) == [TOP_CID, INNER_CID]  # canonical key order: "tree" < "parents"
    assert links_of(A, LEAF_A) == []


def test_walk_yields_each_cid_once_parents_first_and_never_reads_leaves() -> None:
    read: list[str] = []

    def reading(cid: str) -> bytes:
        read.append(cid)
        return get_block(cid)

    assert list(walk(reading, [MANIFEST_CID])) == [MANIFEST_CID, TOP_CID, A, INNER_CID, B]
    assert sorted(read) == sorted([MANIFEST_CID, INNER_CID, TOP_CID])
    assert [cid for cid, _ in walk_dag(get_block, [TOP_CID])] == [TOP_CID, A, INNER_CID, B]
    assert dict(walk_dag(get_block, [TOP_CID], skip={INNER_CID})) == {TOP_CID: TOP, A: LEAF_A}


def test_walk_reports_what_is_not_held_and_does_not_follow_it() -> None:
    missing: list[str] = []
    held = {MANIFEST_CID, TOP_CID, A}
    found = list(walk(get_block, [MANIFEST_CID], held=held.__contains__, on_missing=missing.append))
    assert (found, missing) == ([MANIFEST_CID, TOP_CID, A], [INNER_CID])  # B, under INNER, stays unknown


def test_a_broken_block_raises_unless_the_caller_takes_it() -> None:
    broken_blocks = {**BLOCKS, INNER_CID: b"\xff not dag-pb"}
    with pytest.raises(MalformedObject):
        list(walk(broken_blocks.__getitem__, [TOP_CID]))
    broken: list[str] = []
    found = list(walk(broken_blocks.__getitem__, [TOP_CID], on_broken=broken.append))
    assert (found, broken) == ([TOP_CID, A, INNER_CID], [INNER_CID])
    only_dag_pb = list(walk(get_block, [MANIFEST_CID], follow=lambda cid: cid != MANIFEST_CID))
    assert only_dag_pb == [MANIFEST_CID]
