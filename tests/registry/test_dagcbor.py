"""The one canonical DAG-CBOR encoder: byte for byte what the independent `dag_cbor` codec writes, and strict."""

from __future__ import annotations

from typing import Any

import cbor2
import dag_cbor
import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multiformats import CID

from tests import vectors
from zkreg.codecs import dagcbor
from zkreg.errors import MalformedObject
from zkreg.identity import Identity
from zkreg.registry.cid import DAG_CBOR, RAW, compute
from zkreg.registry.manifest import build_and_sign, decode_and_verify

GOLDEN = vectors.load("dag-cbor")


def _reference(value: Any) -> Any:
    """Our value (links as cbor2 tags) in `dag_cbor`'s model (links as multiformats CIDs)."""
    if dagcbor.is_link(value):
        return CID.decode(dagcbor.unlink(value))
    if isinstance(value, dict):
        return {key: _reference(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_reference(item) for item in value]
    return value


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_encoding_matches_the_golden_vector_written_by_dag_cbor(name: str) -> None:
    document = vectors.dag_cbor_documents(dagcbor.link)[name]
    golden = bytes.fromhex(GOLDEN[name])
    assert dagcbor.encode(document) == golden
    assert dagcbor.decode(golden, what=name) == document


links = st.sampled_from([compute(RAW, b"a"), compute(DAG_CBOR, b"b"), vectors.LINKED]).map(dagcbor.link)
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**64), 2**64 - 1),
    st.text(max_size=40),
    st.binary(max_size=40),
    links,
)
documents = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=6), st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(document=documents)
def test_encoder_writes_what_dag_cbor_writes_for_any_document(document: Any) -> None:
    block = dagcbor.encode(document)
    assert block == dag_cbor.encode(_reference(document))
    assert dagcbor.decode(block, what="document") == document


@settings(max_examples=40, deadline=None)
@given(
    name=st.from_regex(r"[a-z][a-z0-9._-]{0,30}", fullmatch=True),
    version=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,20}", fullmatch=True),
    sizes=st.lists(st.integers(0, 2**53), min_size=1, max_size=4),
    price=st.one_of(st.none(), st.integers(0, 10**6)),
)
def test_signed_manifest_is_dag_cbor_and_verifies(name: str, version: str, sizes: list[int], price: int | None) -> None:
    signer = Identity(nacl.signing.SigningKey.generate())
    files = {f"f{index}.bin": (compute(RAW, bytes([index])), size) for index, size in enumerate(sizes)}
    cid, block = build_and_sign(
        signer,
        kind="model",
        name=name,
        version=version,
        created="2026-01-01T00:00:00Z",
        files=files,
        tree=compute(DAG_CBOR, b"tree"),
        parents=[],
        weights="public",
        dataset=None,
        message=None,
        price=price,
    )
    assert dag_cbor.encode(dag_cbor.decode(block)) == block
    assert decode_and_verify(cid, block).sizes == {path: size for path, (_, size) in files.items()}


@pytest.mark.parametrize(
    ("block", "reason"),
    [
        (cbor2.dumps(1.5), "float"),
        (cbor2.dumps({1: "x"}), "not a string"),
        (cbor2.dumps(cbor2.CBORTag(7, b"x")), "tag 7"),
        (cbor2.dumps({"bb": 1, "a": 2}), "not canonical"),
        (b"\x19\x00\x05", "not canonical"),  # 5 in a 2-byte integer
        (b"\x9f\x01\xff", "not canonical"),  # an indefinite-length list
        (cbor2.dumps(2**64), "64-bit range"),  # a bignum
        (b"\xc2\x41\x05", "not canonical"),  # 5 as a bignum
        (b"\x01\x02", "not"),  # trailing bytes
        (b"\x81" * 1000 + b"\x00", "not valid DAG-CBOR"),
    ],
)
def test_decoder_refuses_what_the_encoder_would_not_write(block: bytes, reason: str) -> None:
    with pytest.raises(MalformedObject, match=reason):
        dagcbor.decode(block, what="document")
