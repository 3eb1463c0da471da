"""CID strings: the base32 text of binary CIDs is computed by hand for speed, so it is held to the standard
library's encoder (RFC 4648 base32, lower case, unpadded, behind the multibase prefix "b")."""

from __future__ import annotations

import base64

from hypothesis import given
from hypothesis import strategies as st

from zkreg.registry.cid import DAG_CBOR, cid_bytes, cid_from_str, cid_to_str


@given(st.binary(max_size=80))
def test_cid_text_is_rfc4648_base32_for_any_bytes(binary: bytes) -> None:
    assert cid_to_str(binary) == "b" + base64.b32encode(binary).decode("ascii").lower().rstrip("=")


@given(st.binary(min_size=32, max_size=32))
def test_cid_text_parses_back_to_the_same_cid(digest: bytes) -> None:
    binary = cid_bytes(DAG_CBOR, digest)
    assert cid_from_str(cid_to_str(binary)) == binary
