"""Identities: did:key naming, the key file's protection, and passphrase sealing."""

from __future__ import annotations

import stat
from pathlib import Path

import bases
import pytest
from hypothesis import given
from hypothesis import strategies as st

from zkreg.errors import BadSignature, InvalidInput, NotFound, ZkregError
from zkreg.identity import (
    KEY_FILE,
    Identity,
    _b58decode,
    create_identity,
    did_from_public_key,
    load_identity,
    public_key_from_did,
    verify_signature,
)


def test_did_key_uses_the_ed25519_multicodec_prefix() -> None:
    # did:key spec: multibase base58btc of 0xed01 + key, so every Ed25519 did:key starts with z6Mk.
    did = did_from_public_key(bytes(32))
    assert did.startswith("did:key:z6Mk")
    assert public_key_from_did(did) == bytes(32)


def test_did_key_matches_published_vectors() -> None:
    # Public did:key examples (Aries Cloud Agent's test DIDs; transmute's did-key-ed25519 README, seed -> DID).
    import bases
    import nacl.signing

    did = "did:key:z6MkmjY8GnV5i9YTDtPETC2uUAW6ejw3nk5mXF5yci5ab7th"
    assert public_key_from_did(did) == bytes(bases.base58btc.decode("8HH5gYEeNc3z7PYXmd54d4x6qAfCNrqQqEB3nS7Zfu7K"))
    seed = bytes.fromhex("4f66b355aa7b0980ff901f2295b9c562ac3061be4df86703eb28c612faae6578")
    identity = Identity(nacl.signing.SigningKey(seed))
    assert identity.did == "did:key:z6Mkk7yqnGF3YwTrLpqrW6PGsKci7dNqh1CjnvMbzrMerSeL"


@pytest.mark.parametrize("bad", ["did:web:example.com", "did:key:zQ3sh", "did:key:z6Mk0OIl", "nope"])
def test_malformed_did_is_an_input_error(bad: str) -> None:
    with pytest.raises(InvalidInput):
        public_key_from_did(bad)


def test_key_file_is_private_and_signatures_verify(tmp_path: Path) -> None:
    identity = create_identity(tmp_path, passphrase=None)
    mode = stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode)
    assert mode == 0o600
    loaded = load_identity(tmp_path, passphrase=None)
    assert loaded.did == identity.did
    verify_signature(identity.did, b"msg", loaded.sign(b"msg"))
    with pytest.raises(BadSignature):
        verify_signature(identity.did, b"other", loaded.sign(b"msg"))


def test_existing_identity_is_never_overwritten(tmp_path: Path) -> None:
    first = create_identity(tmp_path, passphrase=None)
    with pytest.raises(ZkregError, match="already exists"):
        create_identity(tmp_path, passphrase=None)
    assert load_identity(tmp_path, None).did == first.did


def test_passphrase_seals_the_seed(tmp_path: Path) -> None:
    identity = create_identity(tmp_path, passphrase="correct horse")
    text = (tmp_path / KEY_FILE).read_text()
    import base64

    assert base64.b64encode(bytes(identity.signing_key)).decode() not in text
    assert load_identity(tmp_path, "correct horse").did == identity.did
    with pytest.raises(ZkregError, match="wrong passphrase"):
        load_identity(tmp_path, "wrong")
    with pytest.raises(ZkregError, match="encrypted"):
        load_identity(tmp_path, None)


def test_missing_identity_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(NotFound) as caught:
        load_identity(tmp_path, None)
    assert caught.value.hint is not None
    assert "zkreg init" in caught.value.hint


@given(st.binary(min_size=32, max_size=32))
def test_did_key_round_trips_every_public_key(key: bytes) -> None:
    assert public_key_from_did(did_from_public_key(key)) == key


@given(st.binary(max_size=48))
def test_base58_decoding_agrees_with_the_bases_library(data: bytes) -> None:
    # The decoder is integer arithmetic for speed; `bases` (which encodes) is the reference, leading zeros included.
    text = bases.base58btc.encode(data)
    assert _b58decode(text) == bytes(bases.base58btc.decode(text)) == data
