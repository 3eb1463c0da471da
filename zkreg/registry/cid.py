"""CIDs with sha2-256: CIDv1 (raw, dag-pb, dag-cbor), and CIDv0 (`Qm...`, dag-pb) inside the dag-pb nodes of
the `unixfs-v0-2015` profile.

Inside zkreg every CID travels as its canonical CIDv1 string (multibase base32, `b...`): a CIDv0 names the same
block as the CIDv1 dag-pb CID with the same multihash, so the store, the index and manifests key blocks one way
whatever profile made them, and `as_version` renders the `Qm...` form where a user expects it. The hot path (one
CID per chunk) builds them from a digest with `base64`, because `multiformats.CID` costs ~120 µs per object,
about as much as hashing the chunk; parsing of untrusted strings and CBOR links goes through `multiformats`.
"""

from __future__ import annotations

import base64
import hashlib

from bases import base58btc

from zkreg.errors import BadCid, CidMismatch, InvalidInput, UnsupportedCid

RAW = 0x55
DAG_PB = 0x70
DAG_CBOR = 0x71
_SHA2_256 = 0x12
_CODEC_PREFIX = {RAW: b"\x01\x55", DAG_PB: b"\x01\x70", DAG_CBOR: b"\x01\x71"}
_MULTIHASH_PREFIX = b"\x12\x20"
_BASE32_PAIRS = [
    first + second for first in "abcdefghijklmnopqrstuvwxyz234567" for second in "abcdefghijklmnopqrstuvwxyz234567"
]
"""Every 10-bit value as two base32 digits."""


def cid_bytes(codec: int, digest: bytes) -> bytes:
    """The binary CIDv1 for a sha2-256 digest."""
    return _CODEC_PREFIX[codec] + _MULTIHASH_PREFIX + digest


def link_bytes(codec: int, digest: bytes, version: int) -> bytes:
    """The binary CID a dag-pb link carries: a CIDv0 (the bare multihash) for a dag-pb block in a version 0 DAG."""
    if version == 0 and codec == DAG_PB:
        return _MULTIHASH_PREFIX + digest
    return cid_bytes(codec, digest)


def as_version(cid: str, version: int) -> str:
    """`cid` as a user of a version 0 profile sees it (`Qm...` for dag-pb); CIDv1 strings pass unchanged."""
    binary = cid_from_str(cid)
    if version == 0 and binary[1] == DAG_PB:
        return str(base58btc.encode(binary[2:]))
    return cid


def cid_to_str(binary: bytes) -> str:
    """Multibase base32 (lower case, unpadded), 10 bits at a time from one integer: twice as fast as
    `base64.b32encode` (pure Python as well), and a ledger import computes one per entry and per CAR section."""
    bits = 8 * len(binary)
    padding = -bits % 10
    number = int.from_bytes(binary, "big") << padding
    digits = "".join([_BASE32_PAIRS[(number >> shift) & 1023] for shift in range(bits + padding - 10, -1, -10)])
    return "b" + digits[: -(-bits // 5)]


def cid_from_str(text: str) -> bytes:
    """Parse a base32 CIDv1 string that zkreg could have made; anything else is an input error."""
    if not text.startswith("b") or len(text) != 59:
        raise BadCid(f"not a zkreg CID (base32 CIDv1, sha2-256): {text!r}")
    try:
        body = text[1:].upper()
        binary = base64.b32decode(body + "=" * (-len(body) % 8))
    except ValueError as exc:
        raise BadCid(f"not a base32 CID: {text!r}") from exc
    if binary[:2] not in _CODEC_PREFIX.values() or binary[2:4] != _MULTIHASH_PREFIX:
        raise BadCid(f"unsupported CID codec or hash: {text!r}")
    return binary


def cid_from_binary(binary: bytes, codecs: tuple[int, ...] = (RAW, DAG_PB, DAG_CBOR)) -> str:
    """The string of a binary CID read from foreign bytes (a CAR section, a link); one zkreg cannot handle, or of
    another codec than `codecs`, is refused. A CIDv0 (sha2-256 multihash alone) is a dag-pb CIDv1 here."""
    if len(binary) == 34 and binary[:2] == _MULTIHASH_PREFIX and DAG_PB in codecs:
        return cid_to_str(_CODEC_PREFIX[DAG_PB] + binary)
    if len(binary) != 36 or binary[0] != 1 or binary[1] not in codecs or binary[2:4] != _MULTIHASH_PREFIX:
        raise UnsupportedCid(
            f"unsupported CID {binary[:8].hex()}… (zkreg handles sha2-256 CIDv0 and CIDv1 raw, dag-pb and dag-cbor)",
        )
    return cid_to_str(binary)


def codec_of(cid: str) -> int:
    return cid_from_str(cid)[1]


def compute(codec: int, block: bytes | memoryview) -> str:
    return cid_to_str(cid_bytes(codec, hashlib.sha256(block).digest()))


def looks_like_cid(text: str) -> bool:
    try:
        cid_from_str(text)
    except InvalidInput:
        return False
    return True


def check_block(cid: str, block: bytes | memoryview) -> None:
    """Raise `CidMismatch` unless `block` hashes to `cid` (a store or a node can lie)."""
    binary = cid_from_str(cid)
    if hashlib.sha256(block).digest() != binary[4:]:
        raise CidMismatch(f"block {cid} does not match its CID (tampered or truncated)")
