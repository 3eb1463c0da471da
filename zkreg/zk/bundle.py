"""Proof bundles: the signed JSON document `zkreg prove` writes and `zkreg verify` checks (schema
`proof-bundle.v1.json`). The signature is the prover's Ed25519 signature over the canonical JSON encoding
(sorted keys, no whitespace) of the bundle without `signature`. Bundles are read with
`zkreg.zk.documents.ProofBundle`."""

from __future__ import annotations

import json
from typing import Any

from zkreg.identity import Identity

SCHEMA_ID = "zkreg/proof-bundle/1"
PROOF_KEYS = ("instances", "proof", "protocol", "split", "transcript_type", "version")
"""The parts of ezkl's proof JSON the verifier covers; `pretty_public_inputs` is not covered, so it is dropped."""


def canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def sign_bundle(identity: Identity, body: dict[str, Any]) -> dict[str, Any]:
    body = {**body, "schema": SCHEMA_ID, "prover": identity.did}
    return {**body, "signature": identity.sign(canonical(body)).hex()}
