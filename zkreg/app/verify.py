"""Verify: re-check a held manifest and every block it names, optionally against a CI policy file; with `attest`, the
verdict and what was checked go to the ledger; with `vsa_out`, a signed verification summary goes to a file.

Order: the policy file is parsed first (a bad one is an error before any work and attests nothing); then the
manifest's signature, every block, the zk section and every proven metric's evaluation bundle, re-verified (a
failure is exit 4, attested `fail` with its cause); then the proof bundles held for it and the policy's rules. The
attested verdict is `fail` when a rule about the artefact itself fails (authors, lineage, SRS, metrics); rules that
weigh what others say (author trust, consensus, attesters) are recorded in the details but never make this
verifier's own verdict a `fail`, so that verdicts do not echo one another. A summary is written whether the policy
passed or not (its result says which), but not for bytes that did not verify.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zkreg.app.consensus import ConsensusRequest, consensus
from zkreg.app.metrics import MetricsRequest, ProvenMetric, proven_metrics
from zkreg.app.proofs import scores
from zkreg.app.repo import Repo
from zkreg.ci_policy import SWARM_RULES, Facts, Policy, PolicyReport, evaluate
from zkreg.errors import IntegrityError, NotFound, ProofInvalid, VsaSubjectMismatch
from zkreg.fsutil import atomic_write
from zkreg.progress import SILENT, Progress
from zkreg.registry.dag import walk
from zkreg.registry.manifest import Manifest
from zkreg.reputation.consensus import Consensus, weigh
from zkreg.vsa import InputAttestation, Subject, Summary, now_rfc3339, read_summary, sign_summary
from zkreg.zk.workflow import zk_section

MAX_DETAILS = 2048
"""The ledger schema's bound on an `attest` entry's `details`."""
BUILT_IN_POLICY = "zkreg:verify"
"""`policy.uri` of a summary written without a policy file: signature and every block only."""


@dataclass(frozen=True)
class VerifyRequest:
    ref: str
    attest: bool = False
    """Append the verdict (ok, or fail with the cause) and what was checked to this identity's feed."""
    policy: Path | None = None
    """A CI policy file (TOML, see `zkreg.ci_policy`) whose every rule is judged."""
    vsa_out: Path | None = None
    """Write a signed verification summary (in-toto Statement, SLSA VSA predicate, DSSE envelope) here."""


@dataclass(frozen=True)
class VerifyResult:
    manifest: Manifest
    files: int
    bytes: int
    checks: dict[str, Any] = field(default_factory=dict)
    """What was checked and found, as recorded in an attestation's details."""
    policy: PolicyReport | None = None
    consensus: Consensus | None = None
    """The consensus the policy's rules read (None when no rule reads it)."""
    metrics: tuple[ProvenMetric, ...] = ()
    """Proven metrics, each re-verified from its evaluation bundle (a file of the manifest)."""


@dataclass(frozen=True)
class VerifySummaryRequest:
    path: Path


@dataclass(frozen=True)
class SummaryVerdict:
    summary: Summary
    manifest: Manifest


def verify(repo: Repo, request: VerifyRequest, progress: Progress = SILENT) -> VerifyResult:
    """Check the manifest (CID, canonical form, schema, signature) and re-hash every block it names (each file's
    DAG and the directory nodes of its tree); then judge the policy's rules, attest and write a summary as asked."""
    policy = Policy.load(request.policy) if request.policy is not None else None
    cid = repo.resolve(request.ref)
    checks: dict[str, Any] = {}
    try:
        manifest = repo.manifest(cid)
        checks["signature"] = f"ok: signed by {manifest.author}"
        total, digests = _rehash_files(repo, manifest, progress)
        for _ in walk(repo.store.get_block, [manifest.tree], skip=manifest.files.values()):
            pass  # every directory node of the tree, HAMT shards included, is held and hashes to its CID
        checks["blocks"] = f"ok: {len(manifest.files)} files, {total} bytes re-hashed"
        zk = zk_section(manifest)
        metrics = proven_metrics(repo, MetricsRequest(cid)).proven
        failed = next((metric for metric in metrics if not metric.verified), None)
        if failed is not None:
            raise ProofInvalid(f"proven {failed.name} does not verify: {failed.reason}")
    except IntegrityError as error:
        if request.attest:
            checks["cause"] = f"{error.code}: {error.message}"
            _attest(repo, cid, "fail", checks)
        raise
    checks["zk"] = f"{zk.mode} weights, {zk.srs_kind} SRS" if zk else "none"
    checks["proofs"] = _proofs_held(repo, cid)
    checks["metrics"] = {
        metric.name: f"{metric.value} proven ({metric.correct}/{metric.rows} rows of dataset {metric.dataset})"
        for metric in metrics
    } or "none proven"
    report = swarm = None
    if policy is not None:
        proven = {metric.name: metric.value for metric in metrics}
        report, swarm = _judge(repo, manifest, policy, None if zk is None else zk.srs_kind, proven)
        checks["policy"] = {rule.rule: f"{'pass' if rule.passed else 'FAIL'}: {rule.detail}" for rule in report.rules}
    if request.attest:
        failures = report.own_failures() if report is not None else []
        if failures:
            checks["cause"] = "; ".join(f"policy {rule.rule}: {rule.detail}" for rule in failures)
        _attest(repo, cid, "fail" if failures else "ok", checks)
    if request.vsa_out is not None:
        summary = Summary(
            verifier=repo.identity.did,
            manifest=cid,
            subjects=tuple(Subject(name, digests[name]) for name in sorted(digests)),
            passed=report is None or report.passed,
            time_verified=now_rfc3339(),
            policy_uri=policy.source if policy is not None else BUILT_IN_POLICY,
            policy_sha256=policy.sha256 if policy is not None else None,
            inputs=tuple(
                InputAttestation(f"ipfs://{item.vote.entry}", item.vote.entry_sha256)
                for item in (swarm.trusted if swarm is not None else ())
            ),
        )
        atomic_write(request.vsa_out, sign_summary(repo.identity, summary))
    return VerifyResult(manifest, len(manifest.files), total, checks, report, swarm, metrics)


def _rehash_files(repo: Repo, manifest: Manifest, progress: Progress) -> tuple[int, dict[str, str]]:
    """Every block of every file re-hashed against its CID; the bytes in all, and each file's sha256."""
    total = 0
    digests: dict[str, str] = {}
    for file_name, file_cid in manifest.files.items():
        digest = hashlib.sha256()
        total += repo.store.verify_file(file_cid, manifest.sizes[file_name], progress, digest)
        digests[file_name] = digest.hexdigest()
    return total, digests


def _judge(
    repo: Repo, manifest: Manifest, policy: Policy, srs_kind: str | None, metrics: dict[str, float]
) -> tuple[PolicyReport, Consensus | None]:
    """The policy's rules on a verified manifest; Proof of Reputation is computed only if a rule reads it."""
    swarm: Consensus | None = None
    author_trust = 0.0
    if set(policy.rule_names()) & SWARM_RULES:
        reputation = scores(repo)
        author_trust = reputation.trust.get(manifest.author, 0.0)
        swarm = consensus(repo, ConsensusRequest(manifest.cid), reputation)
    facts = Facts(
        author=manifest.author,
        author_trust=author_trust,
        dataset=manifest.dataset,
        dataset_problem=_dataset_problem(repo, manifest.dataset),
        srs_kind=srs_kind,
        metrics=metrics,
        consensus=swarm or weigh(manifest.cid, [], {}, []),
    )
    return evaluate(policy, facts), swarm


def _dataset_problem(repo: Repo, dataset: str | None) -> str | None:
    """Why the dataset a model names does not count as its lineage, or None if it does."""
    if dataset is None:
        return None
    try:
        named = repo.manifest(dataset)
    except NotFound:
        return f"dataset {dataset} is not held here"
    except IntegrityError as error:
        return f"dataset {dataset} does not verify: {error.message}"
    return None if named.kind == "dataset" else f"{dataset} is a {named.kind}, not a dataset"


def _proofs_held(repo: Repo, cid: str) -> str:
    verdicts = [verdict for verdict in repo.ledger.proof_verdicts().values() if verdict.manifest == cid]
    verified = sum(1 for verdict in verdicts if verdict.ok)
    return f"{verified} verified, {len(verdicts) - verified} failed" if verdicts else "none held"


def attest_details(checks: dict[str, Any]) -> str:
    """`checks` as compact JSON within the ledger's 2,048 characters: rule details are shortened to pass/FAIL
    first, then the cause is cut, so the verdict's reasons survive whole as long as they can."""
    text = json.dumps(checks, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if len(text) > MAX_DETAILS and isinstance(checks.get("policy"), dict):
        checks = checks | {"policy": {rule: outcome.split(":")[0] for rule, outcome in checks["policy"].items()}}
        text = json.dumps(checks, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if len(text) > MAX_DETAILS and "cause" in checks:
        room = max(0, len(checks["cause"]) - (len(text) - MAX_DETAILS) - 1)
        checks = checks | {"cause": checks["cause"][:room] + "…"}
        text = json.dumps(checks, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text[:MAX_DETAILS]


def _attest(repo: Repo, subject: str, verdict: str, checks: dict[str, Any]) -> None:
    repo.ledger.append(
        repo.identity, "attest", {"subject": subject, "verdict": verdict, "details": attest_details(checks)}
    )


def verify_summary(repo: Repo, request: VerifySummaryRequest, progress: Progress = SILENT) -> SummaryVerdict:
    """Check a verification summary: its envelope's signature by the verifier it names, then that its subjects
    are exactly the files (by sha256, re-hashed from every block here) of the manifest it names."""
    summary = read_summary(request.path)
    manifest = repo.manifest(summary.manifest)
    found = {Subject(name, sha256) for name, sha256 in _rehash_files(repo, manifest, progress)[1].items()}
    claimed = set(summary.subjects)
    if claimed != found or len(claimed) != len(summary.subjects):
        wrong = sorted(subject.name for subject in claimed ^ found)
        raise VsaSubjectMismatch(
            f"verification summary {request.path.name}: its subjects are not the files of {manifest.cid} "
            f"(differ: {', '.join(wrong[:5]) or 'a repeated subject'})"
        )
    return SummaryVerdict(summary, manifest)
