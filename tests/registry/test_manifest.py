"""Signed manifests: what a reader accepts, and the forgeries it refuses."""

from __future__ import annotations

from typing import Any

import dag_cbor
import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multiformats import CID

from zkreg.errors import BadSignature, CidMismatch, MalformedObject
from zkreg.identity import Identity, did_from_public_key
from zkreg.registry.cid import DAG_CBOR, RAW, compute
from zkreg.registry.manifest import build_and_sign, decode_and_verify

FILE_CID = compute(RAW, b"weights")
TREE_CID = compute(RAW, b"tree")


def new_identity() -> Identity:
    return Identity(nacl.signing.SigningKey.generate())


def signed(identity: Identity, **overrides: Any) -> tuple[str, bytes]:
    fields: dict[str, Any] = {
        "kind": "model",
        "name": "mnist",
        "version": "1",
        "created": "2026-11-25T00:00:00Z",
        "files": {"model.onnx": (FILE_CID, 7)},
        "tree": TREE_CID,
        "parents": [],
        "weights": "public",
        "dataset": None,
        "message": None,
    }
    fields.update(overrides)
    return build_and_sign(identity, **fields)


def resign(identity: Identity, body: dict[str, Any]) -> tuple[str, bytes]:
    """Re-encode a (tampered) manifest body with a fresh signature by `identity`."""
    body = {key: value for key, value in body.items() if key != "sig"}
    block = dag_cbor.encode({**body, "sig": identity.sign(dag_cbor.encode(body))})
    return compute(DAG_CBOR, block), block


def test_signed_manifest_verifies_and_exposes_its_fields() -> None:
    alice = new_identity()
    cid, block = signed(alice, dataset=compute(DAG_CBOR, b"ds"), message="first")
    manifest = decode_and_verify(cid, block)
    assert manifest.author == alice.did
    assert manifest.files == {"model.onnx": FILE_CID}
    assert manifest.sizes == {"model.onnx": 7}
    assert manifest.dataset == compute(DAG_CBOR, b"ds")
    assert manifest.message == "first"


def test_changed_field_breaks_the_signature() -> None:
    alice = new_identity()
    _, block = signed(alice)
    body = dag_cbor.decode(block)
    body["version"] = "2"
    tampered = dag_cbor.encode(body)  # keeps Alice's old signature
    with pytest.raises(BadSignature):
        decode_and_verify(compute(DAG_CBOR, tampered), tampered)


def test_manifest_signed_by_another_key_is_refused() -> None:
    alice, mallory = new_identity(), new_identity()
    _, block = signed(alice)
    body = dag_cbor.decode(block)
    # Mallory signs a manifest that claims Alice as its author.
    cid, forged = resign(mallory, {**body, "author": alice.did})
    with pytest.raises(BadSignature):
        decode_and_verify(cid, forged)


def test_block_under_the_wrong_cid_is_refused() -> None:
    _cid, block = signed(new_identity())
    other_cid, _ = signed(new_identity())
    with pytest.raises(CidMismatch):
        decode_and_verify(other_cid, block)


def test_non_canonical_cbor_is_refused() -> None:
    _cid, block = signed(new_identity())
    # Same map, keys in insertion (non-canonical) order: re-sorting would change the bytes, so it's refused.
    import cbor2

    body = dag_cbor.decode(block)
    noncanonical = cbor2.dumps(dict(reversed(list(_cbor2_ready(body).items()))))
    with pytest.raises(MalformedObject, match="canonical"):
        decode_and_verify(compute(DAG_CBOR, noncanonical), noncanonical)


def _cbor2_ready(value: Any) -> Any:
    import cbor2

    if isinstance(value, CID):
        return cbor2.CBORTag(42, b"\x00" + bytes(value))
    if isinstance(value, dict):
        return {key: _cbor2_ready(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_cbor2_ready(item) for item in value]
    return value


def test_duplicate_keys_are_refused() -> None:
    _cid, block = signed(new_identity())
    # A map header claiming one more entry, followed by a duplicate of the first key/value pair.
    assert block[0] & 0xE0 == 0xA0
    assert block[0] & 0x1F < 23
    first_key = dag_cbor.encode("author")
    start = block.index(first_key)
    end = start + len(first_key) + len(dag_cbor.encode(dag_cbor.decode(block)["author"]))
    duplicated = bytes([block[0] + 1]) + block[1:end] + block[start:end] + block[end:]
    with pytest.raises(MalformedObject):
        decode_and_verify(compute(DAG_CBOR, duplicated), duplicated)


@pytest.mark.parametrize("path", ["../escape.txt", "/etc/passwd", "a/../../b", "a//b", "./a", "a\\b"])
def test_path_traversal_in_files_is_refused(path: str) -> None:
    mallory = new_identity()
    _, block = signed(mallory)
    body = dag_cbor.decode(block)
    body["files"] = {path: body["files"]["model.onnx"]}
    cid, forged = resign(mallory, body)
    with pytest.raises(MalformedObject, match="schema"):
        decode_and_verify(cid, forged)


def test_unknown_fields_are_refused() -> None:
    mallory = new_identity()
    body = dag_cbor.decode(signed(mallory)[1])
    cid, forged = resign(mallory, {**body, "extra": 1})
    with pytest.raises(MalformedObject, match="extra"):
        decode_and_verify(cid, forged)


def test_unknown_cid_profile_in_a_signed_manifest_is_refused_and_none_means_legacy() -> None:
    mallory = new_identity()
    body = dag_cbor.decode(signed(mallory)[1])
    assert "cid_profile" not in body
    assert decode_and_verify(*resign(mallory, body)).cid_profile == "kubo-v1-legacy"
    cid, forged = resign(mallory, {**body, "cid_profile": "unixfs-v9-2099"})
    with pytest.raises(MalformedObject, match="cid_profile"):
        decode_and_verify(cid, forged)


@settings(max_examples=30, deadline=None)
@given(
    name=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True),
    version=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9.+-]{0,10}", fullmatch=True),
    message=st.one_of(st.none(), st.text(min_size=1, max_size=50)),
    sizes=st.lists(st.integers(0, 2**53), min_size=1, max_size=5),
)
def test_manifest_round_trips(name: str, version: str, message: str | None, sizes: list[int]) -> None:
    identity = new_identity()
    files = {f"d/f{i}.bin": (compute(RAW, bytes([i])), size) for i, size in enumerate(sizes)}
    cid, block = signed(identity, name=name, version=version, message=message, files=files)
    manifest = decode_and_verify(cid, block)
    assert (manifest.name, manifest.version, manifest.message) == (name, version, message)
    assert manifest.sizes == {path: size for path, (_, size) in files.items()}
    assert did_from_public_key(identity.public_key) == manifest.author
