"""Signed peer requests (schema `request.v1.json`): who asks, for what, once, and when.

A request is a JSON object signed by its requester: Ed25519 over the canonical JSON encoding (sorted keys, no
whitespace, no NaN) of the object without `signature`, the same rule as proof bundles. `check_request` is pure
(the caller passes the clock): shape, then signature, then freshness. A body from the network goes through
`parse_body` first (bounded depth, finite numbers), so the two together parse it once into a `SignedRequest`.
Single use is the nonce store's job (`zkreg.peer.store`), after the signature, so nobody can burn another
identity's nonces.

The nonce doubles as the request id that pairs the consumer's `use` with the provider's `receipt`.
"""

from __future__ import annotations

import json
import math
import secrets
from dataclasses import dataclass
from typing import Any

from zkreg.errors import (
    BadSignature,
    InvalidInput,
    MalformedObject,
    MalformedRequest,
    StaleRequest,
    UnsignedRequest,
)
from zkreg.identity import Identity, verify_signature
from zkreg.schemas import validate

SCHEMA_ID = "zkreg/request/1"
ACTIONS = ("prove", "receipt")
MAX_REQUEST_AGE_MS = 120_000
"""A request's `ts` may be at most this far from the provider's clock, either way; older nonces can be forgotten."""
MAX_DEPTH = 8
"""Nesting a request body may have: the schema needs 3 (object, `input`, one input's numbers)."""
MAX_INTEGER = 2**63


@dataclass(frozen=True)
class SignedRequest:
    """A request that passed every check of `check_request`: the only form the provider handles."""

    action: str
    requester: str
    nonce: str
    ts: int
    manifest: str
    input: tuple[tuple[float, ...], ...]
    document: dict[str, Any]
    """The exact signed JSON object, to send or to log."""


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is not finite")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > 19 or abs(int(text)) > MAX_INTEGER:
        raise ValueError(f"integer {text[:20]}... is out of range")
    return int(text)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _depth(document: Any) -> int:
    """The nesting depth of parsed JSON, without recursion."""
    deepest = 0
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, depth)
            if depth > MAX_DEPTH:
                return depth
            stack.extend((item, depth + 1) for item in (value.values() if isinstance(value, dict) else value))
    return deepest


def parse_body(body: bytes) -> Any:
    """A request body as JSON, parsed once with bounds: UTF-8, finite numbers, integers within 64 bits, at most
    `MAX_DEPTH` levels of nesting. Anything else is a `MalformedRequest` (HTTP 422), never another exception."""
    try:
        document = json.loads(
            body.decode("utf-8"), parse_float=_finite, parse_int=_bounded_int, parse_constant=_refuse_constant
        )
    except RecursionError:
        raise MalformedRequest(f"request body nests deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedRequest(f"request body is not JSON: {exc}") from None
    if _depth(document) > MAX_DEPTH:
        raise MalformedRequest(f"request body nests deeper than {MAX_DEPTH} levels")
    return document


def canonical_json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def sign_request(
    identity: Identity, action: str, manifest: str, values: list[list[float]], now_ms: int, nonce: str | None = None
) -> SignedRequest:
    body: dict[str, Any] = {
        "schema": SCHEMA_ID,
        "action": action,
        "requester": identity.did,
        "nonce": nonce or secrets.token_hex(16),
        "ts": now_ms,
        "manifest": manifest,
        "input": values,
    }
    document = {**body, "signature": identity.sign(canonical_json(body)).hex()}
    return check_request(document, now_ms)


def check_request(document: Any, now_ms: int, max_age_ms: int = MAX_REQUEST_AGE_MS) -> SignedRequest:
    """The request, if it has the schema's shape, its requester's signature and a fresh timestamp; else raise."""
    try:
        validate("request.v1", document, what="request")
    except MalformedObject as exc:
        raise MalformedRequest(exc.message) from None
    body = {key: value for key, value in document.items() if key != "signature"}
    try:
        signed = canonical_json(body)
    except ValueError as exc:  # a NaN or infinity handed over from Python (a parsed body has none)
        raise MalformedRequest(f"request is not canonical JSON: {exc}") from None
    try:
        verify_signature(document["requester"], signed, bytes.fromhex(document["signature"]))
    except (BadSignature, InvalidInput, ValueError) as exc:
        raise UnsignedRequest(f"request {document['nonce']} is not signed by {document['requester']}") from exc
    if abs(now_ms - document["ts"]) > max_age_ms:
        raise StaleRequest(
            f"request {document['nonce']} is {abs(now_ms - document['ts']) / 1000:.0f} s away from this peer's clock "
            f"(at most {max_age_ms / 1000:.0f} s allowed)",
            hint="check the clocks of both machines",
        )
    return SignedRequest(
        action=document["action"],
        requester=document["requester"],
        nonce=document["nonce"],
        ts=document["ts"],
        manifest=document["manifest"],
        input=tuple(tuple(float(value) for value in values) for values in document["input"]),
        document=document,
    )
