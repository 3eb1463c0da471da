"""A bounded fuzz of every decoder and document parser that foreign bytes reach (issue 9).

Property, for each target: given any bytes (or any JSON document), the parser succeeds or raises a `ZkregError`,
never another exception. Inputs are random bytes or documents plus structured mutations (a byte flipped,
truncated, inserted or cut out) of a real valid encoding, so the fuzz gets past the first length or tag check.
Each failure the fuzz found is kept as an `@example`, named in a comment; the figures are in docs/threats.md.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.reputation.ledger_helpers import endorse, feed, identity
from zkreg.errors import NotFound, ZkregError
from zkreg.peer import answers
from zkreg.peer.envelope import check_request, sign_request
from zkreg.registry.car import car_stream, scan_car, write_car
from zkreg.registry.cid import DAG_CBOR, DAG_PB, RAW, cid_from_str, compute
from zkreg.registry.dag import links_of
from zkreg.registry.manifest import build_and_sign, decode_and_verify
from zkreg.registry.store import BlockStore
from zkreg.registry.unixfs import Link, _file_data, decode_file_node, directory_node, encode_node, node_links
from zkreg.reputation.entry import decode_entry
from zkreg.reputation.sync import read_car

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "500"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NOW_MS = 1_800_000_000_000


def zkreg_error_or_success(parse: Callable[[], object]) -> None:
    with contextlib.suppress(ZkregError):
        parse()


# ---- valid encodings to mutate -------------------------------------------------------------------------------


@cache
def valid_dag() -> tuple[list[str], list[tuple[str, bytes]]]:
    """A small real DAG: a directory of a two-leaf UnixFS file and a one-leaf file, and a manifest naming them."""
    leaves = [b"first leaf\n" * 20, b"second leaf\n" * 20, b"lonely file\n"]
    leaf_cids = [compute(RAW, leaf) for leaf in leaves]
    file_node = encode_node(
        [Link(cid_from_str(leaf_cids[i]), "", len(leaves[i])) for i in (0, 1)],
        _file_data(len(leaves[0]) + len(leaves[1]), [len(leaves[0]), len(leaves[1])]),
    )
    file_cid = compute(DAG_PB, file_node)
    directory = directory_node({"big.txt": (file_cid, len(file_node) + 460), "small.txt": (leaf_cids[2], 12)})
    tree = compute(DAG_PB, directory)
    manifest_cid, manifest = valid_manifest(tree, file_cid, leaf_cids[2])
    blocks = [(manifest_cid, manifest), (tree, directory), (file_cid, file_node)]
    blocks += list(zip(leaf_cids, leaves, strict=True))
    return [manifest_cid, tree], blocks


def valid_manifest(tree: str, big: str, small: str) -> tuple[str, bytes]:
    return build_and_sign(
        identity("fuzz-author"),
        kind="dataset",
        name="fuzzed",
        version="1",
        created="2026-12-01T00:00:00Z",
        files={"big.txt": (big, 460), "small.txt": (small, 12)},
        tree=tree,
        parents=[],
        weights="public",
        dataset=None,
        message="a manifest to mutate",
    )


@cache
def valid_car() -> bytes:
    roots, blocks = valid_dag()
    out = io.BytesIO()
    write_car(out, roots, blocks)
    return out.getvalue()


@cache
def valid_entries() -> list[Any]:
    return feed(identity("fuzz-feed"), [endorse(identity(f"peer-{n}")) for n in range(3)])


@cache
def valid_feed_car() -> bytes:
    entries = valid_entries()
    return b"".join(car_stream([entries[-1].cid], [(entry.cid, entry.block) for entry in entries]))


@cache
def valid_request() -> dict[str, Any]:
    roots, _ = valid_dag()
    return sign_request(identity("fuzz-requester"), "prove", roots[0], [[0.5, -1.25, 3.0]], NOW_MS).document


DID = identity("fuzz-author").did
CID = "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
VALID_ANSWERS: dict[str, dict[str, Any]] = {
    "health": {"ok": True, "did": DID, "version": "0.1.0"},
    "heads": {"heads": [{"author": DID, "seq": 3, "head": CID, "forked": False}]},
    "push": {"received": 3, "accepted": 2, "duplicates": 1, "rejected": []},
    "manifest": {"cid": CID, "block": "oWFhAQ=="},
    "receipt": {"receipt": CID, "request": "ab" * 16, "provider": DID},
    "prove": {
        "proof": CID,
        "receipt": CID,
        "bundle": "e30=",
        "decision": {"requester": DID, "balance": 1.5, "unpaid": 0, "free_quota": 2.0, "price": 1, "available": 3.5},
    },
    "error": {"error": {"code": "policy/refused", "message": "no", "exit_code": 5, "balance": 0.0}},
}


# ---- strategies ------------------------------------------------------------------------------------------------


@st.composite
def mutated(draw: st.DrawFn, valid: bytes) -> bytes:
    """`valid` with one to three edits: a byte replaced, the tail cut, bytes inserted, or a range removed."""
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        edit = draw(st.sampled_from(["replace", "truncate", "insert", "delete"]))
        if edit == "replace" and data:
            data[at] = draw(st.integers(0, 255))
        elif edit == "truncate":
            del data[at:]
        elif edit == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        else:
            del data[at : at + draw(st.integers(1, 64))]
    return bytes(data)


DEEP_CBOR = st.integers(1, 20_000).map(lambda depth: b"\xa1\x61a" + b"\x81" * depth + b"\x00")
"""A map whose one value is an array nested `depth` deep."""


def bytes_or_mutation_of(valid: Callable[[], bytes]) -> st.SearchStrategy[bytes]:
    return st.one_of(st.binary(max_size=512), DEEP_CBOR, st.deferred(lambda: mutated(valid())))


JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)


def nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


DEEP_VALUES = st.integers(1, 3000).map(nested)
"""Nested past any recursion limit (3000 levels), as a parsed document: what a stack-bound validator trips on."""


@st.composite
def mutated_document(draw: st.DrawFn, valid: dict[str, Any], values: st.SearchStrategy[Any] = JSON_VALUES) -> Any:
    """`valid` with one value somewhere inside replaced by one of `values` (or a key dropped)."""
    document = json.loads(json.dumps(valid))
    node = document
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node))) if isinstance(node, list) else []
        if not keys:
            break
        key = draw(st.sampled_from(keys))
        child = node[key]
        if isinstance(child, dict | list) and child and draw(st.booleans()):
            node = child
            continue
        if isinstance(node, dict) and draw(st.integers(0, 4)) == 0:
            del node[key]
        else:
            node[key] = draw(values)
        break
    return document


def deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


# ---- targets ---------------------------------------------------------------------------------------------------


@FUZZ
@given(bytes_or_mutation_of(valid_car))
def test_fuzz_carv1_reader(data: bytes) -> None:
    zkreg_error_or_success(lambda: scan_car(io.BytesIO(data)))


@FUZZ
@given(bytes_or_mutation_of(valid_feed_car))
def test_fuzz_feed_car_reader(data: bytes) -> None:
    zkreg_error_or_success(lambda: list(read_car(data)))


def _manifest_block() -> bytes:
    return valid_dag()[1][0][1]


@FUZZ
@given(bytes_or_mutation_of(_manifest_block))
def test_fuzz_manifest_decoder(block: bytes) -> None:
    """The CID is the block's own, so the fuzz reaches the CBOR, canonical-form, schema and signature checks."""
    zkreg_error_or_success(lambda: decode_and_verify(compute(DAG_CBOR, block), block))
    zkreg_error_or_success(lambda: links_of(compute(DAG_CBOR, block), block))


def _file_node() -> bytes:
    return valid_dag()[1][2][1]


def _directory_node() -> bytes:
    return valid_dag()[1][1][1]


@FUZZ
@given(st.one_of(bytes_or_mutation_of(_file_node), bytes_or_mutation_of(_directory_node)))
def test_fuzz_dag_pb_decoder(block: bytes) -> None:
    zkreg_error_or_success(lambda: decode_file_node(block))
    zkreg_error_or_success(lambda: node_links(block))
    zkreg_error_or_success(lambda: links_of(compute(DAG_PB, block), block))


class MemoryStore(BlockStore):
    """The blocks a hostile author built (each under its true CID: hashing cannot stop a malformed DAG)."""

    def __init__(self, blocks: dict[str, bytes]) -> None:
        self.blocks = blocks

    def put_block(self, cid: str, data: bytes) -> None:
        self.blocks[cid] = data

    def get_block(self, cid: str) -> bytes:
        if cid not in self.blocks:
            raise NotFound(f"no block {cid}")
        return self.blocks[cid]

    def has(self, cid: str) -> bool:
        return cid in self.blocks


@FUZZ
@given(bytes_or_mutation_of(_file_node), st.one_of(st.none(), st.just(460), st.integers(0, 2**64)))
def test_fuzz_unixfs_file_walk(block: bytes, size: int | None) -> None:
    """Reading a file back (`BlockStore.iter_file`, what `pull` and `verify` do) from a hostile file node."""
    cid = compute(DAG_PB, block)
    store = MemoryStore({**dict(valid_dag()[1]), cid: block})
    zkreg_error_or_success(lambda: b"".join(store.iter_file(cid, size)))


def _entry_block() -> bytes:
    return valid_entries()[1].block


@FUZZ
@given(bytes_or_mutation_of(_entry_block))
def test_fuzz_ledger_entry_decoder(block: bytes) -> None:
    zkreg_error_or_success(lambda: decode_entry(block))


@FUZZ
@given(
    st.one_of(
        JSON_VALUES, DEEP_VALUES, st.deferred(lambda: mutated_document(valid_request(), JSON_VALUES | DEEP_VALUES))
    )
)
@example({**valid_request(), "input": nested(990)})  # found: RecursionError in jsonschema's error message
@example(nested(3000))
def test_fuzz_signed_request_parser(document: Any) -> None:
    zkreg_error_or_success(lambda: check_request(document, NOW_MS))


ANSWER_PARSERS: dict[str, Callable[[bytes], object]] = {
    "health": lambda body: answers.Health.from_bytes(body, "answer"),
    "heads": lambda body: answers.FeedHeads.from_bytes(body, "answer"),
    "push": lambda body: answers.PushReport.from_bytes(body, "answer"),
    "manifest": lambda body: answers.ManifestAnswer.from_bytes(body, "answer"),
    "receipt": lambda body: answers.ReceiptAnswer.from_bytes(body, "answer"),
    "prove": lambda body: answers.ProveAnswer.from_bytes(body, "answer"),
    "error": answers.ErrorAnswer.from_bytes,
}


def answer_bodies(name: str) -> st.SearchStrategy[bytes]:
    valid = VALID_ANSWERS[name]
    return st.one_of(
        st.binary(max_size=256),
        mutated(json.dumps(valid).encode()),
        mutated_document(valid).map(lambda document: json.dumps(document).encode()),
        JSON_VALUES.map(lambda document: json.dumps(document).encode()),
        st.integers(1, 200_000).map(lambda depth: b'{"a": ' + b"[" * depth + b"]" * depth + b"}"),
    )


@pytest.mark.parametrize("name", sorted(ANSWER_PARSERS))
def test_fuzz_peer_answer_parsers(name: str) -> None:
    @FUZZ
    @given(answer_bodies(name))
    @example(deep(100_000))
    @example(b'{"heads": [{"author": 1e999}], "did": NaN}')
    @example(b'{"error": {"code": "x", "message": "m", "exit_code": true}}')
    def parses_or_refuses(body: bytes) -> None:
        zkreg_error_or_success(lambda: ANSWER_PARSERS[name](body))

    parses_or_refuses()


@FUZZ
@given(st.one_of(st.none(), st.text(max_size=30)), st.integers(0, 2**63 - 1))
@example("9" * 5000, 0)
def test_fuzz_feed_page_last_seq_header(header: str | None, after: int) -> None:
    zkreg_error_or_success(lambda: answers.last_seq(header, after, "page"))


def test_valid_encodings_decode() -> None:
    """The mutation seeds are themselves valid, so the fuzz starts from inputs that pass every check."""
    assert scan_car(io.BytesIO(valid_car())).blocks == 6
    assert len(list(read_car(valid_feed_car()))) == 3
    roots, _ = valid_dag()
    assert decode_and_verify(roots[0], _manifest_block()).name == "fuzzed"
    assert decode_file_node(_file_node()).filesize == 460
    assert decode_entry(_entry_block()).seq == 2
    assert check_request(valid_request(), NOW_MS).input == ((0.5, -1.25, 3.0),)
    for name, document in VALID_ANSWERS.items():
        ANSWER_PARSERS[name](json.dumps(document).encode())
