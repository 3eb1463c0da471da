"""Verification summaries: `verify --vsa-out` writes an in-toto Statement with a SLSA VSA predicate in a DSSE envelope
signed by the identity; `verify FILE` reads one back, and an edited signature or subject digest is exit 4."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from tests.reputation.ledger_helpers import identity
from zkreg.api import PublishRequest, Repo, VerifyRequest, VerifySummaryRequest, publish, verify, verify_summary
from zkreg.errors import BadSignature, VsaMalformed, VsaSubjectMismatch
from zkreg.vsa import PAYLOAD_TYPE, PREDICATE_TYPE, STATEMENT_TYPE, Subject, pae, read_summary, sign_summary


def test_pae_is_the_dsse_spec_encoding() -> None:
    # The example of DSSE's protocol.md: lengths are byte counts in ASCII decimal.
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


@pytest.fixture
def summary_file(repo: Repo, tmp_path: Path) -> tuple[Repo, Path, str]:
    (tmp_path / "rows.csv").write_text("a,b\n1,2\n")
    (tmp_path / "more.csv").write_text("c\n3\n")
    cid = publish(repo, PublishRequest([tmp_path / "rows.csv", tmp_path / "more.csv"], name="rows")).cid
    policy = tmp_path / "policy.toml"
    policy.write_text(f'authors = ["{repo.identity.did}"]\n')
    out = tmp_path / "rows.vsa.json"
    verify(repo, VerifyRequest(cid, policy=policy, vsa_out=out))
    return repo, out, cid


def _statement(path: Path) -> dict[str, Any]:
    envelope = json.loads(path.read_text())
    statement: dict[str, Any] = json.loads(base64.b64decode(envelope["payload"]))
    return statement


def test_the_summary_is_an_in_toto_statement_with_a_slsa_vsa_predicate_signed_as_dsse(
    summary_file: tuple[Repo, Path, str], tmp_path: Path
) -> None:
    repo, out, cid = summary_file
    envelope = json.loads(out.read_text())
    assert envelope["payloadType"] == PAYLOAD_TYPE == "application/vnd.in-toto+json"
    assert envelope["signatures"][0]["keyid"] == repo.identity.did
    statement = _statement(out)
    assert statement["_type"] == STATEMENT_TYPE == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == PREDICATE_TYPE == "https://slsa.dev/verification_summary/v1"
    assert statement["subject"] == [
        {"name": "more.csv", "digest": {"sha256": hashlib.sha256(b"c\n3\n").hexdigest()}},
        {"name": "rows.csv", "digest": {"sha256": hashlib.sha256(b"a,b\n1,2\n").hexdigest()}},
    ]
    predicate = statement["predicate"]
    assert predicate["verifier"] == {"id": repo.identity.did}
    assert predicate["resourceUri"] == f"ipfs://{cid}"
    assert predicate["verificationResult"] == "PASSED"
    policy_bytes = (tmp_path / "policy.toml").read_bytes()
    assert predicate["policy"]["digest"] == {"sha256": hashlib.sha256(policy_bytes).hexdigest()}

    verdict = verify_summary(repo, VerifySummaryRequest(out))
    assert (verdict.summary.passed, verdict.manifest.cid, verdict.summary.verifier) == (True, cid, repo.identity.did)


def test_a_summary_with_an_edited_signature_is_refused(summary_file: tuple[Repo, Path, str], cli: Any) -> None:
    repo, out, _ = summary_file
    envelope = json.loads(out.read_text())
    signature = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
    signature[5] ^= 0x01
    envelope["signatures"][0]["sig"] = base64.b64encode(bytes(signature)).decode()
    out.write_text(json.dumps(envelope))
    with pytest.raises(BadSignature):
        read_summary(out)
    result = cli("verify", str(out), "--json", home_dir=repo.home)
    assert result.code == 4
    assert result.json()["error"]["code"] == "integrity/bad-signature"


def test_a_summary_with_an_edited_subject_digest_is_refused_even_when_signed_again(
    summary_file: tuple[Repo, Path, str], cli: Any
) -> None:
    repo, out, _ = summary_file
    summary = read_summary(out)
    first = summary.subjects[0]
    edited = dataclasses.replace(summary, subjects=(Subject(first.name, "0" * 64), *summary.subjects[1:]))

    # Edited in place: the signature no longer covers it.
    envelope = json.loads(out.read_text())
    statement = _statement(out)
    statement["subject"][0]["digest"]["sha256"] = "0" * 64
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    out.write_text(json.dumps(envelope))
    result = cli("verify", str(out), "--json", home_dir=repo.home)
    assert (result.code, result.json()["error"]["code"]) == (4, "integrity/bad-signature")

    # Signed again by the verifier itself (a verifier lying about the bytes): the bytes held here decide.
    out.write_bytes(sign_summary(repo.identity, edited))
    with pytest.raises(VsaSubjectMismatch):
        verify_summary(repo, VerifySummaryRequest(out))
    result = cli("verify", str(out), home_dir=repo.home)
    assert result.code == 4
    assert "integrity/vsa-subject-mismatch" in result.stderr
    assert first.name in result.stderr


def test_a_summary_signed_by_another_key_than_its_verifier_is_refused(
    summary_file: tuple[Repo, Path, str], tmp_path: Path
) -> None:
    _, out, _ = summary_file
    envelope = json.loads(out.read_text())
    payload = base64.b64decode(envelope["payload"])
    mallory = identity("vsa-mallory")
    envelope["signatures"] = [
        {"keyid": mallory.did, "sig": base64.b64encode(mallory.sign(pae(PAYLOAD_TYPE, payload))).decode()}
    ]
    out.write_text(json.dumps(envelope))
    with pytest.raises(BadSignature):
        read_summary(out)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        pytest.param(lambda env: env | {"payloadType": "application/json"}, "payloadType", id="payload-type"),
        pytest.param(lambda env: env | {"payload": "!!not base64!!"}, "payload", id="payload-not-base64"),
        pytest.param(lambda env: env | {"signatures": []}, "signatures", id="no-signature"),
        pytest.param(
            lambda env: env | {"payload": base64.b64encode(b'{"_type": "https://in-toto.io/Statement/v1"}').decode()},
            "statement",
            id="statement-shape",
        ),
    ],
)
def test_a_malformed_summary_is_refused_before_its_signature_is_checked(
    summary_file: tuple[Repo, Path, str], edit: Any, message: str
) -> None:
    _, out, _ = summary_file
    out.write_text(json.dumps(edit(json.loads(out.read_text()))))
    with pytest.raises(VsaMalformed) as caught:
        read_summary(out)
    assert message in caught.value.message


def test_a_summary_is_written_with_failed_when_a_rule_is_not_met(repo: Repo, tmp_path: Path) -> None:
    (tmp_path / "rows.csv").write_text("a\n")
    cid = publish(repo, PublishRequest([tmp_path / "rows.csv"], name="rows")).cid
    policy = tmp_path / "policy.toml"
    policy.write_text("require_dataset = true\n")
    out = tmp_path / "vsa.json"
    result = verify(repo, VerifyRequest(cid, policy=policy, vsa_out=out))
    assert result.policy is not None
    assert not result.policy.passed
    summary = read_summary(out)
    assert not summary.passed
    assert _statement(out)["predicate"]["verifiedLevels"] == ["FAILED"]
