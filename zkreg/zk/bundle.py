"""Proof bundles: the signed JSON document `zkreg prove` writes and `zkreg verify` checks (schema
`proof-bundle.v1.json`). The signature is the prover's Ed25519 signature over the canonical JSON encoding
(sorted keys, no whitespace) of the bundle without `signature`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from zkreg.errors import MalformedObject, NotFound
from zkreg.identity import Identity, verify_signature

SCHEMA_ID = "zkreg/proof-bundle/1"
MAX_BUNDLE_BYTES = 64 * 1024 * 1024
PROOF_KEYS = ("instances", "proof", "protocol", "split", "transcript_type", "version")
"""The parts of ezkl's proof JSON the verifier covers; `pretty_public_inputs` is not covered, so it is dropped."""


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def sign_bundle(identity: Identity, body: dict[str, Any]) -> dict[str, Any]:
    body = {**body, "schema": SCHEMA_ID, "prover": identity.did}
    return {**body, "signature": identity.sign(_canonical(body)).hex()}


def load_bundle(path: Path) -> dict[str, Any]:
    """A bundle that parses, matches the schema and is signed by the prover it names."""
    from zkreg.schemas import validate

    if not path.is_file():
        raise NotFound(f"no such proof bundle: {path}", code="not-found/path")
    if path.stat().st_size > MAX_BUNDLE_BYTES:
        raise MalformedObject(f"proof bundle {path.name} is larger than {MAX_BUNDLE_BYTES} bytes")
    try:
        bundle: Any = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedObject(f"proof bundle {path.name} is not JSON: {exc}") from None
    validate("proof-bundle.v1", bundle, what=f"proof bundle {path.name}")
    body = {key: value for key, value in bundle.items() if key != "signature"}
    verify_signature(bundle["prover"], _canonical(body), bytes.fromhex(bundle["signature"]))
    result: dict[str, Any] = bundle
    return result
