"""Ledger entries: the signed, hash-chained records of one identity's feed.

An entry is a DAG-CBOR map `{author, seq, prev, ts, type, body, sig}`: `prev` is the CID link of the author's
previous entry (null for seq 1), `ts` integer milliseconds since the Unix epoch, and `sig` the Ed25519 signature
over the DAG-CBOR encoding of the map without `sig`. The entry's id is its CID (dag-cbor, sha2-256).

Decoding is strict, because every peer must derive the same id and verdict from the same bytes: a size cap first,
then the bytes must re-encode to themselves (canonical DAG-CBOR: sorted keys, minimal integers, no duplicate keys,
no trailing bytes, only tag 42), then match `zkreg/schemas/ledger-entry.v1.json`.

The hot path uses cbor2's C codec in canonical mode, whose output for this schema (maps, text, byte strings,
integers, null, tag-42 links; no floats) is byte-for-byte DAG-CBOR; a test checks it against `dag_cbor`. The pure
Python `dag_cbor` decoder costs ~6x an Ed25519 verify per entry, which would make feed sync signature-bound no more.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import cbor2

from zkreg.errors import MalformedObject
from zkreg.identity import Identity
from zkreg.registry.cid import DAG_CBOR, cid_from_str, cid_to_str, compute

SCHEMA_NAME = "ledger-entry.v1"
MAX_ENTRY_BYTES = 16 * 1024
ENTRY_TYPES = ("publish", "use", "receipt", "attest", "endorse", "revoke", "rotate")
LINK_FIELDS: dict[str, tuple[str, ...]] = {
    "publish": ("manifest",),
    "use": ("manifest",),
    "receipt": ("proof",),
    "attest": ("subject",),
    "endorse": (),
    "revoke": ("manifest",),
    "rotate": (),
}
_CID_TAG = 42


class MalformedEntry(MalformedObject):
    """Bytes that are not a well-formed ledger entry (size, CBOR, canonical form, schema)."""

    code = "feed/malformed-entry"


@dataclass(frozen=True)
class Entry:
    """A decoded entry. Links are CID strings; `block` is the exact signed encoding, `cid` its id."""

    author: str
    seq: int
    prev: str | None
    ts: int
    type: str
    body: dict[str, Any]
    sig: bytes
    cid: str
    block: bytes

    def signing_bytes(self) -> bytes:
        return _encode(_wire_map(self.author, self.seq, self.prev, self.ts, self.type, self.body))

    def to_json(self) -> dict[str, Any]:
        return {
            "cid": self.cid,
            "author": self.author,
            "seq": self.seq,
            "prev": self.prev,
            "ts": self.ts,
            "type": self.type,
            "body": self.body,
            "sig": self.sig.hex(),
        }


def _encode(value: Any) -> bytes:
    return cbor2.dumps(value, canonical=True)


def _link(cid: str) -> cbor2.CBORTag:
    return cbor2.CBORTag(_CID_TAG, b"\x00" + cid_from_str(cid))


def _wire_map(author: str, seq: int, prev: str | None, ts: int, type_: str, body: dict[str, Any]) -> dict[str, Any]:
    links = LINK_FIELDS.get(type_, ())
    wire_body = {key: _link(value) if key in links and value is not None else value for key, value in body.items()}
    return {
        "author": author,
        "seq": seq,
        "prev": None if prev is None else _link(prev),
        "ts": ts,
        "type": type_,
        "body": wire_body,
    }


def sign_entry(
    identity: Identity,
    *,
    seq: int,
    prev: str | None,
    ts: int,
    type_: str,
    body: dict[str, Any],
    author: str | None = None,
) -> Entry:
    """A new entry signed by `identity`. `author` is the feed's identity, which differs from the signer only
    after a key rotation (the feed keeps its first key's name; later entries are signed by the rotated key)."""
    feed = author or identity.did
    unsigned = _wire_map(feed, seq, prev, ts, type_, body)
    sig = identity.sign(_encode(unsigned))
    block = _encode({**unsigned, "sig": sig})
    entry = decode_entry(block)  # what we write must be exactly what every reader accepts
    return entry


@cache
def _schema_check() -> Any:
    import fastjsonschema

    schema = json.loads(resources.files("zkreg.schemas").joinpath(f"{SCHEMA_NAME}.json").read_text())
    return fastjsonschema.compile(schema)


def _jsonable(value: Any) -> Any:
    """The IPLD JSON data model view of a decoded value (links as {"/": cid}), for schema validation."""
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, cbor2.CBORTag):
        if value.tag != _CID_TAG or not isinstance(value.value, bytes) or value.value[:1] != b"\x00":
            raise MalformedEntry(f"unsupported CBOR tag {value.tag} in a ledger entry")
        return {"/": cid_to_str(value.value[1:])}
    if isinstance(value, bytes):
        return {"/": {"bytes": value.hex()}}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, float):
        raise MalformedEntry("floats are not allowed in ledger entries")
    return value


def decode_entry(block: bytes, expected_cid: str | None = None) -> Entry:
    """Decode and check one entry's form (not its signature or place in a feed: that is `verify`'s job)."""
    if len(block) > MAX_ENTRY_BYTES:
        raise MalformedEntry(f"ledger entry of {len(block)} bytes exceeds the {MAX_ENTRY_BYTES}-byte cap")
    cid = compute(DAG_CBOR, block)
    if expected_cid is not None and cid != expected_cid:
        raise MalformedEntry(f"ledger entry does not match its CID {expected_cid} (tampered or truncated)")
    try:
        decoded = cbor2.loads(block)
        canonical = isinstance(decoded, dict) and _encode(decoded) == block
    except Exception as exc:  # cbor2 raises several unrelated types for hostile input
        raise MalformedEntry(f"ledger entry {cid} is not valid CBOR: {exc}") from exc
    if not canonical:
        raise MalformedEntry(f"ledger entry {cid} is not canonical DAG-CBOR (key order, duplicates, extra bytes)")
    view = _jsonable(decoded)
    import fastjsonschema

    try:
        _schema_check()(view)
    except fastjsonschema.JsonSchemaException as exc:
        raise MalformedEntry(f"ledger entry {cid} does not match schema {SCHEMA_NAME}: {exc}") from exc
    return Entry(
        author=view["author"],
        seq=view["seq"],
        prev=None if view["prev"] is None else view["prev"]["/"],
        ts=view["ts"],
        type=view["type"],
        body={key: value["/"] if isinstance(value, dict) else value for key, value in view["body"].items()},
        sig=decoded["sig"],
        cid=cid,
        block=block,
    )
