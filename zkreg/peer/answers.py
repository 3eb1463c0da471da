"""Every answer of a peer, parsed once into a frozen object (the way python-tuf's `Metadata.from_bytes` does).

A peer is reachable but untrusted: its bytes are bounded in size before they are read (`PeerClient` streams them
against the caps below), then decoded as JSON with finite numbers only and at most `MAX_JSON_DEPTH` levels, then
checked against a JSON Schema, and only then turned into the dataclasses here. Any failure is one
`MalformedAnswer` (exit 4: the bytes fail our checks, as a tampered block does; exit 6 stays for a peer that
cannot be reached). Nothing downstream sees the raw document.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from functools import cache
from typing import Any

from zkreg.errors import InvalidInput, MalformedAnswer
from zkreg.identity import public_key_from_did
from zkreg.registry.manifest import MAX_MANIFEST_BYTES
from zkreg.schemas import Validator, compile_schema, mismatch

MAX_JSON_ANSWER_BYTES = 8 * 1024 * 1024
"""Health, heads, push reports, receipts, manifests (a manifest is at most 4 MiB, 5.4 MiB as base64)."""
MAX_PROVE_ANSWER_BYTES = 96 * 1024 * 1024
"""A prove answer carries the bundle (at most 64 MiB) as base64."""
MAX_FEED_PAGE_BYTES = 256 * 1024 * 1024
"""A page holds at most 10,000 entries of at most 16 KiB, plus the evidence held against its author."""
MAX_ERROR_BYTES = 64 * 1024
MAX_JSON_DEPTH = 16
MAX_SEQ = 2**63 - 1
"""The largest seq SQLite can hold."""
EXIT_CODES = range(1, 7)
"""The exit codes a peer's error may claim (design.md); anything else falls back to one from the HTTP status."""

_DID = {"type": "string", "pattern": "^did:key:z6Mk[1-9A-HJ-NP-Za-km-z]{44}$"}
_CID = {"type": "string", "pattern": "^b[a-z2-7]{58}$"}
_COUNT = {"type": "integer", "minimum": 0, "maximum": MAX_SEQ}
_NUMBER = {"type": "number"}
_SHORT_TEXT = {"type": "string", "maxLength": 200}

SCHEMAS: dict[str, dict[str, Any]] = {
    "health": {
        "type": "object",
        "required": ["did"],
        "properties": {"did": _DID, "version": _SHORT_TEXT},
    },
    "heads": {
        "type": "object",
        "required": ["heads"],
        "properties": {
            "heads": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["author", "seq", "head", "forked"],
                    "properties": {
                        "author": _DID,
                        "seq": _COUNT,
                        "head": {"anyOf": [_CID, {"type": "null"}]},
                        "forked": {"type": "boolean"},
                    },
                },
            }
        },
    },
    "push": {
        "type": "object",
        "required": ["accepted", "duplicates"],
        "properties": {"accepted": _COUNT, "duplicates": _COUNT},
    },
    "manifest": {
        "type": "object",
        "required": ["cid", "block"],
        "properties": {"cid": _CID, "block": {"type": "string"}},
    },
    "receipt": {
        "type": "object",
        "required": ["receipt"],
        "properties": {"receipt": _CID, "request": _SHORT_TEXT, "provider": _DID},
    },
    "prove": {
        "type": "object",
        "required": ["proof", "receipt", "bundle", "decision"],
        "properties": {
            "proof": _CID,
            "receipt": _CID,
            "bundle": {"type": "string"},
            "decision": {
                "type": "object",
                "required": ["requester", "balance", "unpaid", "free_quota", "price", "available"],
                "properties": {
                    "requester": _DID,
                    "balance": _NUMBER,
                    "unpaid": _COUNT,
                    "free_quota": _NUMBER,
                    "price": _COUNT,
                    "available": _NUMBER,
                    "rule": {"enum": ["balance", "stake", "newcomer-budget"]},
                },
            },
        },
    },
    "error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "pattern": "^[a-z0-9][a-z0-9/._-]{0,63}$"},
                    "message": {"type": "string", "maxLength": 4000},
                    "hint": {"type": "string", "maxLength": 1000},
                    "exit_code": {"type": "integer"},
                },
            }
        },
    },
}


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def _check_depth(document: Any, what: str) -> None:
    """Iterative, so a deep document cannot exhaust the stack of the checks that follow."""
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise MalformedAnswer(f"{what} is nested more than {MAX_JSON_DEPTH} levels deep")
            items = value.values() if isinstance(value, dict) else value
            stack.extend((item, depth + 1) for item in items)


def load_json(body: bytes, what: str, max_bytes: int = MAX_JSON_ANSWER_BYTES) -> Any:
    """Bounded JSON: at most `max_bytes`, finite numbers, integers of at most 4,300 digits, `MAX_JSON_DEPTH`."""
    if len(body) > max_bytes:
        raise MalformedAnswer(f"{what} is {len(body)} bytes, over the {max_bytes}-byte cap")
    try:
        document = json.loads(body, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise MalformedAnswer(f"{what} is not JSON zkreg accepts: {str(exc)[:200]}") from None
    _check_depth(document, what)
    return document


@cache
def _validator(name: str) -> Validator:
    return compile_schema(SCHEMAS[name])


def parse(name: str, body: bytes, what: str, max_bytes: int = MAX_JSON_ANSWER_BYTES) -> Any:
    """The document in `body`, checked against `SCHEMAS[name]`; `MalformedAnswer` otherwise."""
    document = load_json(body, what, max_bytes)
    problem = mismatch(_validator(name), document)
    if problem is not None:
        raise MalformedAnswer(f"{what} does not have the expected shape: {problem[:220]}")
    return document


def _base64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedAnswer(f"{what} is not base64") from None


@dataclass(frozen=True)
class Health:
    did: str
    version: str | None

    @classmethod
    def from_bytes(cls, body: bytes, what: str) -> Health:
        document = parse("health", body, what)
        try:
            public_key_from_did(document["did"])
        except InvalidInput:
            raise MalformedAnswer(f"{what} names {document['did']!r}, which is not an Ed25519 did:key") from None
        return cls(document["did"], document.get("version"))


@dataclass(frozen=True)
class Head:
    """One feed's head as `GET /v1/feeds/heads` gives it: the provider writes it, the client parses it."""

    author: str
    seq: int
    head: str | None
    forked: bool

    def to_json(self) -> dict[str, Any]:
        return {"author": self.author, "seq": self.seq, "head": self.head, "forked": self.forked}


@dataclass(frozen=True)
class FeedHeads:
    heads: tuple[Head, ...]

    @classmethod
    def from_bytes(cls, body: bytes, what: str) -> FeedHeads:
        document = parse("heads", body, what)
        return cls(
            tuple(Head(item["author"], int(item["seq"]), item["head"], item["forked"]) for item in document["heads"])
        )

    def by_author(self) -> dict[str, Head]:
        return {head.author: head for head in self.heads}


@dataclass(frozen=True)
class PushReport:
    accepted: int
    duplicates: int

    @classmethod
    def from_bytes(cls, body: bytes, what: str) -> PushReport:
        document = parse("push", body, what)
        return cls(int(document["accepted"]), int(document["duplicates"]))


@dataclass(frozen=True)
class ManifestAnswer:
    cid: str
    block: bytes

    @classmethod
    def from_bytes(cls, body: bytes, what: str) -> ManifestAnswer:
        document = parse("manifest", body, what)
        block = _base64(document["block"], f"{what}: its block")
        if len(block) > MAX_MANIFEST_BYTES:
            raise MalformedAnswer(f"{what}: its block is over {MAX_MANIFEST_BYTES} bytes")
        return cls(document["cid"], block)


@dataclass(frozen=True)
class ReceiptAnswer:
    receipt: str
    """The CID of the provider's receipt entry."""

    @classmethod
    def from_bytes(cls, body: bytes, what: str) -> ReceiptAnswer:
        return cls(parse("receipt", body, what)["receipt"])


@dataclass(frozen=True)
class PriceDecision:
    """The provider's policy numbers for a served proof (`zkreg.reputation.policy.Decision`, as it reported them)."""

    requester: str
    balance: float
    unpaid: int
    free_quota: float
    price: int
    available: float
    rule: str | None = None
    """The rule that served it (`balance`, `stake`, `newcomer-budget`); None from a provider before vouches."""

    def to_json(self) -> dict[str, Any]:
        return {
            "requester": self.requester,
            "balance": self.balance,
            "unpaid": self.unpaid,
            "free_quota": self.free_quota,
            "price": self.price,
            "available": self.available,
            "rule": self.rule,
        }


@dataclass(frozen=True)
class ProveAnswer:
    proof: str
    """The bundle's CID, which the receipt names."""
    receipt: str
    bundle: bytes
    decision: PriceDecision

    @classmethod
    def from_bytes(cls, body: bytes, what: str) -> ProveAnswer:
        document = parse("prove", body, what, MAX_PROVE_ANSWER_BYTES)
        decision = document["decision"]
        return cls(
            document["proof"],
            document["receipt"],
            _base64(document["bundle"], f"{what}: its bundle"),
            PriceDecision(
                decision["requester"],
                float(decision["balance"]),
                int(decision["unpaid"]),
                float(decision["free_quota"]),
                int(decision["price"]),
                float(decision["available"]),
                decision.get("rule"),
            ),
        )


_SCALAR = str | int | float | bool | None


@dataclass(frozen=True)
class ErrorAnswer:
    """A peer's error body (`{"error": {code, message, hint?, exit_code?, ...}}`), or None if it has no such shape.

    Extra fields (a feed error's author and seq, a refusal's numbers) are kept if they are short scalars."""

    code: str
    message: str
    hint: str | None
    exit_code: int | None
    extra: tuple[tuple[str, _SCALAR], ...]

    @classmethod
    def from_bytes(cls, body: bytes) -> ErrorAnswer | None:
        try:
            error = parse("error", body, "error answer", MAX_ERROR_BYTES)["error"]
        except MalformedAnswer:
            return None
        exit_code = error.get("exit_code")
        extra = tuple(
            (key, value)
            for key, value in error.items()
            if key not in ("code", "message", "hint", "exit_code")
            and len(key) <= 64
            and isinstance(value, _SCALAR)
            and not (isinstance(value, str) and len(value) > 1000)
        )
        return cls(
            error["code"], error["message"], error.get("hint"), exit_code if exit_code in EXIT_CODES else None, extra
        )


def last_seq(header: str | None, after: int, what: str) -> int:
    """The `x-zkreg-last-seq` header of a feed page: the seq to continue after (`after` if absent)."""
    if header is None:
        return after
    if not header.isascii() or not header.isdigit() or len(header) > 19 or int(header) > MAX_SEQ:
        raise MalformedAnswer(f"{what} has a last-seq header {header[:40]!r} that is not a seq")
    return int(header)
