"""Verification summaries others can read: an in-toto Statement v1 whose predicate is a SLSA Verification Summary
(`https://slsa.dev/verification_summary/v1`), in a DSSE envelope signed with the verifier's Ed25519 key.

    envelope  {payload: base64(statement JSON), payloadType: "application/vnd.in-toto+json",
               signatures: [{keyid: did:key, sig: base64(Ed25519(PAE(payloadType, payload)))}]}
    PAE       "DSSEv1" SP len(type) SP type SP len(body) SP body   (lengths as ASCII decimals of byte counts)
    statement {_type: "https://in-toto.io/Statement/v1", subject: [{name: file path, digest: {sha256}}],
               predicateType, predicate: {verifier: {id: did:key}, timeVerified, resourceUri: ipfs://<manifest>,
               policy: {uri, digest: {sha256}}, inputAttestations: [{uri: ipfs://<attest entry>, digest}],
               verificationResult: PASSED|FAILED, verifiedLevels: [ZKREG_VERIFIED | FAILED], slsaVersion: "1.0"}}

Reading one back trusts nothing in it: the file is bounded (8 MiB), the envelope and the statement are checked
against their schemas, the signature must verify under the key of the did the predicate names as verifier (the
`keyid` is only a hint, as DSSE says), and only then is the statement turned into a frozen `Summary`. Whether its
subjects are the artefact's files is the caller's check (`zkreg.app.verify.verify_summary`), since it needs them.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from zkreg.errors import BadSignature, MalformedObject, VsaMalformed
from zkreg.identity import Identity, verify_signature
from zkreg.schemas import validate
from zkreg.zk.documents import parse_json, read_bounded

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/verification_summary/v1"
PASSED_LEVEL = "ZKREG_VERIFIED"
"""A custom SlsaResult (the spec allows any not starting with `SLSA_`): signature, every block and the policy."""
MAX_VSA_BYTES = 8 * 1024 * 1024


def pae(payload_type: str, body: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what is signed, so the type cannot be swapped under a signature."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(body), body)


@dataclass(frozen=True)
class Subject:
    name: str
    sha256: str


@dataclass(frozen=True)
class InputAttestation:
    uri: str
    sha256: str


@dataclass(frozen=True)
class Summary:
    """A verification summary whose signature verified: what it says."""

    verifier: str
    manifest: str
    subjects: tuple[Subject, ...]
    passed: bool
    time_verified: str
    policy_uri: str
    policy_sha256: str | None
    inputs: tuple[InputAttestation, ...]

    def statement(self) -> dict[str, Any]:
        predicate: dict[str, Any] = {
            "verifier": {"id": self.verifier},
            "timeVerified": self.time_verified,
            "resourceUri": f"ipfs://{self.manifest}",
            "policy": {"uri": self.policy_uri}
            | ({"digest": {"sha256": self.policy_sha256}} if self.policy_sha256 else {}),
            "inputAttestations": [{"uri": item.uri, "digest": {"sha256": item.sha256}} for item in self.inputs],
            "verificationResult": "PASSED" if self.passed else "FAILED",
            "verifiedLevels": [PASSED_LEVEL if self.passed else "FAILED"],
            "slsaVersion": "1.0",
        }
        return {
            "_type": STATEMENT_TYPE,
            "subject": [{"name": item.name, "digest": {"sha256": item.sha256}} for item in self.subjects],
            "predicateType": PREDICATE_TYPE,
            "predicate": predicate,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "verifier": self.verifier,
            "manifest": self.manifest,
            "result": "PASSED" if self.passed else "FAILED",
            "time_verified": self.time_verified,
            "policy": {"uri": self.policy_uri, "sha256": self.policy_sha256},
            "subjects": [{"name": item.name, "sha256": item.sha256} for item in self.subjects],
            "input_attestations": len(self.inputs),
        }


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sign_summary(identity: Identity, summary: Summary) -> bytes:
    """The DSSE envelope (JSON bytes) of `summary`'s statement, signed by `identity` (the summary's verifier)."""
    if summary.verifier != identity.did:
        raise ValueError("a verification summary is signed by its own verifier")
    payload = json.dumps(summary.statement(), sort_keys=True, separators=(",", ":")).encode()
    signature = identity.sign(pae(PAYLOAD_TYPE, payload))
    envelope = {
        "payload": base64.b64encode(payload).decode(),
        "payloadType": PAYLOAD_TYPE,
        "signatures": [{"keyid": identity.did, "sig": base64.b64encode(signature).decode()}],
    }
    return (json.dumps(envelope, indent=2, sort_keys=True) + "\n").encode()


def _b64(text: str, what: str) -> bytes:
    normalised = text.replace("-", "+").replace("_", "/")  # DSSE allows standard or URL-safe Base64
    try:
        return base64.b64decode(normalised + "=" * (-len(normalised) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise VsaMalformed(f"verification summary: {what} is not Base64") from None


def looks_like_summary(path: Path) -> bool:
    """Whether `path` holds a DSSE envelope (JSON with a `payloadType`), as opposed to a proof bundle."""
    try:
        document = parse_json(
            read_bounded(path, what="file", max_bytes=MAX_VSA_BYTES, error=VsaMalformed),
            what="file",
            max_bytes=MAX_VSA_BYTES,
            error=VsaMalformed,
        )
    except VsaMalformed:
        return False
    return isinstance(document, dict) and "payloadType" in document


def read_summary(path: Path) -> Summary:
    """The verification summary in `path`, once its envelope's signature verified under the verifier's key."""
    what = f"verification summary {path.name}"
    envelope = parse_json(
        read_bounded(path, what=what, max_bytes=MAX_VSA_BYTES, error=VsaMalformed),
        what=what,
        max_bytes=MAX_VSA_BYTES,
        error=VsaMalformed,
    )
    _validate("dsse-envelope.v1", envelope, what)
    payload = _b64(envelope["payload"], "the payload")
    statement = parse_json(payload, what=f"{what}'s statement", max_bytes=MAX_VSA_BYTES, error=VsaMalformed)
    _validate("vsa-statement.v1", statement, f"{what}'s statement")
    predicate = statement["predicate"]
    verifier = predicate["verifier"]["id"]
    message = pae(envelope["payloadType"], payload)
    signatures = [_b64(item["sig"], "a signature") for item in envelope["signatures"]]
    if not any(_verifies(verifier, message, signature) for signature in signatures):
        raise BadSignature(f"{what}: no signature verifies for its verifier {verifier}")
    policy = predicate["policy"]
    return Summary(
        verifier=verifier,
        manifest=predicate["resourceUri"].removeprefix("ipfs://"),
        subjects=tuple(Subject(item["name"], item["digest"]["sha256"]) for item in statement["subject"]),
        passed=predicate["verificationResult"] == "PASSED",
        time_verified=predicate["timeVerified"],
        policy_uri=policy["uri"],
        policy_sha256=policy.get("digest", {}).get("sha256"),
        inputs=tuple(
            InputAttestation(item.get("uri", ""), item["digest"]["sha256"])
            for item in predicate.get("inputAttestations", [])
        ),
    )


def _verifies(did: str, message: bytes, signature: bytes) -> bool:
    try:
        verify_signature(did, message, signature)
    except BadSignature:
        return False
    return True


def _validate(schema: str, document: object, what: str) -> None:
    try:
        validate(schema, document, what=what)
    except MalformedObject as exc:
        raise VsaMalformed(exc.message) from None
