"""Ledger entries: the signed, hash-chained records of one identity's feed.

An entry is a DAG-CBOR map `{author, seq, prev, ts, type, body, sig}`: `prev` is the CID link of the author's
previous entry (null for seq 1), `ts` integer milliseconds since the Unix epoch, and `sig` the Ed25519 signature
over the DAG-CBOR encoding of the map without `sig`. The entry's id is its CID (dag-cbor, sha2-256).

Decoding is strict, because every peer must derive the same id and verdict from the same bytes: a size cap first,
then the bytes must re-encode to themselves (canonical DAG-CBOR: sorted keys, minimal integers, no duplicate keys,
no trailing bytes, only tag 42), then match `zkreg/schemas/ledger-entry.v1.json`.

Encoding is `zkreg.codecs.dagcbor`'s (cbor2's C codec in canonical mode, checked against golden vectors from the
independent `dag_cbor`); decoding uses cbor2 with the checks below, specialised to entries: the pure Python
`dag_cbor` decoder costs ~6x an Ed25519 verify per entry, which would make feed sync signature-bound no more.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, cached_property, lru_cache
from typing import Any

import cbor2
import jsonschema_rs

from zkreg.codecs import dagcbor
from zkreg.errors import MalformedEntry
from zkreg.identity import Identity
from zkreg.registry.cid import DAG_CBOR, cid_bytes, cid_to_str
from zkreg.schemas import compile_schema, mismatch
from zkreg.schemas import load as load_schema

SCHEMA_NAME = "ledger-entry.v1"
MAX_ENTRY_BYTES = 16 * 1024
ENTRY_TYPES = ("publish", "use", "receipt", "attest", "endorse", "revoke", "rotate", "vouch")
LINK_FIELDS: dict[str, tuple[str, ...]] = {
    "publish": ("manifest",),
    "use": ("manifest",),
    "receipt": ("proof",),
    "attest": ("subject",),
    "endorse": (),
    "revoke": ("manifest",),
    "rotate": (),
    "vouch": (),
}
_KNOWN_CID_PREFIXES = (b"\x01\x71\x12\x20", b"\x01\x55\x12\x20", b"\x01\x70\x12\x20")
_LINKS = frozenset(b"\x00" + prefix for prefix in _KNOWN_CID_PREFIXES)
"""How the bytes of a link tag zkreg knows begin."""


@dataclass(frozen=True)
class Entry:
    """A decoded entry. Links are CID strings; `block` is the exact signed encoding, `cid` its id and `payload`
    the bytes the signature covers (the encoding without `sig`)."""

    author: str
    seq: int
    prev: str | None
    ts: int
    type: str
    sig: bytes
    cid: str
    block: bytes
    payload: bytes = field(repr=False)
    wire_body: dict[str, Any] = field(repr=False, compare=False)

    @cached_property
    def body(self) -> dict[str, Any]:
        """The body with links as CID strings (computed on first use: verification never needs it)."""
        return {
            key: _unlink(value) if isinstance(value, cbor2.CBORTag) else value for key, value in self.wire_body.items()
        }

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


def _wire_map(author: str, seq: int, prev: str | None, ts: int, type_: str, body: dict[str, Any]) -> dict[str, Any]:
    links = LINK_FIELDS.get(type_, ())
    wire_body = {
        key: dagcbor.link(value) if key in links and value is not None else value for key, value in body.items()
    }
    return {
        "author": author,
        "seq": seq,
        "prev": None if prev is None else dagcbor.link(prev),
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
    sig = identity.sign(dagcbor.encode(unsigned))
    block = dagcbor.encode({**unsigned, "sig": sig})
    entry = decode_entry(block)  # what we write must be exactly what every reader accepts
    return entry


def _typed_schema(type_: object) -> dict[str, Any]:
    """The schema; for a known type, specialised to that type's body (the same rules, but without evaluating the
    other types' `if` branches, which is most of the cost of checking an entry)."""
    schema = load_schema(SCHEMA_NAME)
    if type_ in ENTRY_TYPES:
        del schema["allOf"]
        schema["properties"]["body"] = {"$ref": f"#/definitions/bodies/{type_}"}
    return schema


@cache
def _schema_check(type_: object) -> Any:
    """The reference validator (fastjsonschema, as for every other document): it names what is wrong."""
    return compile_schema(_typed_schema(type_))


@cache
def _fast_schema_check(type_: object) -> Callable[[Any], bool]:
    """The same schema in jsonschema-rs (Rust), ~5x faster per entry: it only says yes or no, and its no is
    checked again by `_schema_check`, which gives the reason (or overrules it: an entry the reference validator
    accepts is never refused)."""
    return jsonschema_rs.Draft7Validator(_typed_schema(type_)).is_valid


_VIEW_LEAVES = (str, int, type(None))
"""Values the schema sees as they are."""
_LINK_PLACEHOLDER = {"/": "b" + "a" * 58}
_SIG_PLACEHOLDER = {"/": {"bytes": "0" * 128}}
_SIG_KEY = dagcbor.encode("sig")
_SIG_START = 1 + len(dagcbor.encode("ts")) + len(dagcbor.encode("seq"))
"""Where the `sig` pair starts, less the encoded lengths of `ts` and `seq` (the header is one byte)."""
_SIG_PAIR_BYTES = len(_SIG_KEY) + len(dagcbor.encode(bytes(64)))


@lru_cache(maxsize=65536)
def _cid_string(binary: bytes) -> str:
    """Base32 of a binary CID, cached: an entry's id comes back as the next entry's `prev`, and popular manifests
    recur in many bodies (`base64.b32encode` is pure Python and costs as much as the rest of a link's handling)."""
    return cid_to_str(binary)


def _encoded_length(value: Any) -> int:
    """Length of a CBOR-encoded unsigned integer in canonical form (the encoder's answer for anything else)."""
    if type(value) is int and 0 <= value < 2**64:
        return 1 if value < 24 else 2 if value < 2**8 else 3 if value < 2**16 else 5 if value < 2**32 else 9
    return len(dagcbor.encode(value))


def _unlink(tag: cbor2.CBORTag) -> str:
    return _cid_string(tag.value[1:])


def _schema_view(value: Any) -> Any:
    """The IPLD JSON data model view of a decoded value, for schema validation.

    Links are checked here, in binary (a sha2-256 CIDv1 of a codec zkreg knows), and shown to the schema as a
    well-formed placeholder: converting each to base32 just to match a pattern would cost more than the rest of
    the check.
    """
    kind = type(value)
    if kind is str or kind is int or value is None:  # most values: checked first, returned as they are
        return value
    if kind is dict:
        return {key: item if type(item) in _VIEW_LEAVES else _schema_view(item) for key, item in value.items()}
    if isinstance(value, cbor2.CBORTag):
        link = value.value
        if value.tag != dagcbor.CID_TAG or not isinstance(link, bytes) or len(link) != 37 or link[:1] != b"\x00":
            raise MalformedEntry(f"unsupported CBOR tag {value.tag} in a ledger entry")
        if link[1:5] not in _KNOWN_CID_PREFIXES:
            raise MalformedEntry("a link in a ledger entry is not a sha2-256 CIDv1 zkreg knows")
        return _LINK_PLACEHOLDER
    if isinstance(value, bytes):
        if len(value) != 64:
            raise MalformedEntry("the only byte string in a ledger entry is its 64-byte signature")
        return _SIG_PLACEHOLDER
    if isinstance(value, list):
        return [_schema_view(item) for item in value]
    if isinstance(value, float):
        raise MalformedEntry("floats are not allowed in ledger entries")
    return value


def _key_order(key: Any) -> tuple[int, bytes]:
    encoded = dagcbor.encode(key)
    return len(encoded), encoded


_ENTRY_KEYS = tuple(sorted(load_schema(SCHEMA_NAME)["required"], key=_key_order))
"""The keys of an entry map in canonical order (length first, then bytes): ts, seq, sig, body, prev, type, author."""


@lru_cache(maxsize=1024)
def _keys_in_order(keys: tuple[Any, ...]) -> bool:
    """Whether a map's keys are text in canonical order (cached: entries of a type have the same keys)."""
    return all(type(key) is str for key in keys) and list(keys) == sorted(keys, key=_key_order)


class _NotPlain(Exception):
    """A value `_plain_view` leaves to the general checks."""


def _plain_view(value: Any) -> Any:
    """`_schema_view` of a value that holds only text, integers, booleans, null, links zkreg knows, 64-byte byte
    strings, lists and maps with text keys in canonical order; raises `_NotPlain` for anything else (floats, other
    tags, sets, ...). For such a value cbor2's plain encoding (maps in the order read) is the canonical one, so
    one cheap encoding checks the block."""
    kind = type(value)
    if kind is str or kind is int or value is None or kind is bool:
        return value
    if kind is dict:
        if not _keys_in_order(tuple(value)):
            raise _NotPlain
        return {key: item if type(item) in _VIEW_LEAVES else _plain_view(item) for key, item in value.items()}
    if kind is cbor2.CBORTag:
        link = value.value
        if value.tag != dagcbor.CID_TAG or type(link) is not bytes or len(link) != 37 or link[:5] not in _LINKS:
            raise _NotPlain
        return _LINK_PLACEHOLDER
    if kind is bytes:
        if len(value) != 64:
            raise _NotPlain
        return _SIG_PLACEHOLDER
    if kind is list:
        return [_plain_view(item) for item in value]
    raise _NotPlain


def _plain_payload(decoded: Any, block: bytes) -> tuple[bytes, Any] | None:
    """(the signed payload, the schema's view) of a block that holds an entry-shaped map of plain values (the usual
    case); None if the block is not like that, and `_checked_payload` decides.

    One plain encoding checks the block byte for byte, and the payload is the block without its `sig` pair, which
    sits after `ts` and `seq` in canonical order.
    """
    if type(decoded) is not dict or tuple(decoded) != _ENTRY_KEYS:
        return None
    try:
        view = _plain_view(decoded)
    except _NotPlain:
        return None
    if type(decoded["sig"]) is not bytes or cbor2.dumps(decoded) != block:
        return None
    start = _SIG_START + _encoded_length(decoded["ts"]) + _encoded_length(decoded["seq"])
    return bytes([block[0] - 1]) + block[1:start] + block[start + _SIG_PAIR_BYTES :], view


def _checked_payload(decoded: Any, block: bytes, cid: str) -> bytes:
    """The signed payload, by the general rule: the canonical encoding of the map without `sig` must, with `sig`
    put back in its sorted place, rebuild the block byte for byte."""
    try:
        sig = decoded.pop("sig", None) if isinstance(decoded, dict) else None
        payload = dagcbor.encode(decoded) if isinstance(sig, bytes) else b""
    except Exception as exc:  # cbor2 raises several unrelated types for values it cannot encode
        raise MalformedEntry(f"ledger entry {cid} is not valid CBOR: {exc}") from exc
    # With `sig` put back after "ts" and "seq" (the only shorter or equal keys that sort before it) and the map
    # header counting one more pair, the payload must rebuild the block.
    if not payload or not 0xA0 <= payload[0] < 0xB7:
        raise MalformedEntry(f"ledger entry {cid} is not canonical DAG-CBOR (not a map with a byte-string sig)")
    split = 1 + sum(len(key) + 1 + _encoded_length(decoded[key]) for key in ("ts", "seq") if key in decoded)
    rebuilt = bytes([payload[0] + 1]) + payload[1:split] + _SIG_KEY + dagcbor.encode(sig) + payload[split:]
    if rebuilt != block:
        raise MalformedEntry(f"ledger entry {cid} is not canonical DAG-CBOR (key order, duplicates, extra bytes)")
    assert isinstance(sig, bytes)  # checked above: `payload` is empty otherwise
    decoded["sig"] = sig
    return payload


def _schema_problem(decoded: dict[str, Any], plain_view: Any | None) -> str | None:
    type_ = decoded.get("type")
    type_ = type_ if isinstance(type_, str) else None
    if plain_view is not None:
        try:
            if _fast_schema_check(type_)(plain_view):
                return None
        except Exception:  # noqa: S110  a value jsonschema-rs cannot take: the reference validator judges it
            pass
    return mismatch(_schema_check(type_), plain_view if plain_view is not None else _schema_view(decoded))


def decode_entry(block: bytes, expected_cid: str | None = None) -> Entry:
    """Decode and check one entry's form (not its signature or place in a feed: that is `verify`'s job)."""
    if len(block) > MAX_ENTRY_BYTES:
        raise MalformedEntry(f"ledger entry of {len(block)} bytes exceeds the {MAX_ENTRY_BYTES}-byte cap")
    cid = _cid_string(cid_bytes(DAG_CBOR, hashlib.sha256(block).digest()))
    if expected_cid is not None and cid != expected_cid:
        raise MalformedEntry(f"ledger entry does not match its CID {expected_cid} (tampered or truncated)")
    try:
        decoded = cbor2.loads(block)
    except Exception as exc:  # cbor2 raises several unrelated types for hostile input
        raise MalformedEntry(f"ledger entry {cid} is not valid CBOR: {exc}") from exc
    plain = _plain_payload(decoded, block)
    payload, view = plain if plain is not None else (_checked_payload(decoded, block, cid), None)
    problem = _schema_problem(decoded, view)
    if problem is not None:
        raise MalformedEntry(f"ledger entry {cid} does not match schema {SCHEMA_NAME}: {problem}")
    prev = decoded["prev"]
    # The instance dict filled at once: the frozen dataclass's own __init__ sets the ten fields one by one through
    # object.__setattr__, which costs as much as the CBOR decoding (it runs once per imported entry).
    entry = object.__new__(Entry)
    entry.__dict__.update(
        author=decoded["author"],
        seq=decoded["seq"],
        prev=None if prev is None else _unlink(prev),
        ts=decoded["ts"],
        type=decoded["type"],
        sig=decoded["sig"],
        cid=cid,
        block=block,
        payload=payload,
        wire_body=decoded["body"],
    )
    return entry
