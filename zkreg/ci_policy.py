"""The policy file CI pipelines check in and gate on (`zkreg verify REF --policy FILE`), and its rules. Pure: the
file's bytes in, a frozen `Policy` out; a `Policy` and the facts gathered about an artefact in, one result per rule.

    authors = ["did:key:z6Mk..."]      # the manifest's author is one of these
    min_author_trust = 0.01            # the author's Proof of Reputation trust, seen from this peer's roots
    require_dataset = true             # lineage: the model names a dataset manifest, held here and verified
    min_consensus = 0.66               # ok_share of the trust-weighted consensus of the attesters held
    min_attesters = 2                  # trusted attesters (weight > 0) whose latest verdict is ok
    srs = "ceremony"                   # a zk setup must use a ceremony SRS ("any" accepts the dev SRS)
    [metrics]                          # proven metrics only (evaluation bundles), never the manifest's own claims
    accuracy = { min = 0.9 }           # and/or max = ...

The file is parsed once, whole (at most 64 KiB): an unknown key, a value of the wrong type or range, or an author
that is not an Ed25519 did:key is one `input/bad-policy` error naming the key, before anything is checked.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zkreg.errors import BadDid, BadPolicy
from zkreg.identity import public_key_from_did
from zkreg.reputation.consensus import Consensus
from zkreg.zk.documents import read_bounded

MAX_POLICY_BYTES = 64 * 1024
_METRIC_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_SCALAR_RULES = ("authors", "min_author_trust", "require_dataset", "min_consensus", "min_attesters", "srs")
_TOP_LEVEL = (*_SCALAR_RULES, "metrics")
SRS_KINDS = ("ceremony", "any")
SWARM_RULES = frozenset({"min_author_trust", "min_consensus", "min_attesters"})
"""Rules that weigh what others say (reputation, attestations) rather than the artefact itself: recorded in an
attestation's details, but they never make its verdict `fail`, so verdicts do not echo each other."""


@dataclass(frozen=True)
class MetricBound:
    name: str
    min: float | None
    max: float | None


@dataclass(frozen=True)
class Policy:
    """A parsed policy file: each rule is None when the file does not set it."""

    source: str
    """The file's name as given, for the verification summary's `policy.uri`."""
    sha256: str
    """Of the file's exact bytes."""
    authors: tuple[str, ...] | None = None
    min_author_trust: float | None = None
    require_dataset: bool | None = None
    min_consensus: float | None = None
    min_attesters: int | None = None
    srs: str | None = None
    metrics: tuple[MetricBound, ...] = ()

    @classmethod
    def load(cls, path: Path) -> Policy:
        return cls.from_bytes(read_bounded(path, what="policy file", max_bytes=MAX_POLICY_BYTES, error=BadPolicy), path)

    @classmethod
    def from_bytes(cls, data: bytes, path: Path) -> Policy:
        where = path.name
        try:
            document = tomllib.loads(data.decode())
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise BadPolicy(f"{where} is not TOML: {exc}") from None
        unknown = sorted(set(document) - set(_TOP_LEVEL))
        if unknown:
            raise BadPolicy(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(_TOP_LEVEL)})")
        policy = cls(
            source=str(path),
            sha256=hashlib.sha256(data).hexdigest(),
            authors=_authors(document, where),
            min_author_trust=_fraction(document, "min_author_trust", where),
            require_dataset=_boolean(document, "require_dataset", where),
            min_consensus=_fraction(document, "min_consensus", where),
            min_attesters=_count(document, "min_attesters", where),
            srs=_srs(document, where),
            metrics=_metrics(document.get("metrics"), where),
        )
        if not policy.rule_names():
            raise BadPolicy(f"{where} sets no rule (known: {', '.join(_TOP_LEVEL)})")
        return policy

    def rule_names(self) -> list[str]:
        names = [name for name in _SCALAR_RULES if getattr(self, name) is not None]
        return names + [f"metrics.{bound.name}" for bound in self.metrics]


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _fraction(document: Mapping[str, Any], key: str, where: str) -> float | None:
    value = document.get(key)
    if value is None:
        return None
    if not _number(value) or not 0 <= value <= 1:
        raise BadPolicy(f"{where}: {key} must be a number from 0 to 1, not {value!r}")
    return float(value)


def _boolean(document: Mapping[str, Any], key: str, where: str) -> bool | None:
    value = document.get(key)
    if value is not None and not isinstance(value, bool):
        raise BadPolicy(f"{where}: {key} must be true or false, not {value!r}")
    return value


def _count(document: Mapping[str, Any], key: str, where: str) -> int | None:
    value = document.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 10_000:
        raise BadPolicy(f"{where}: {key} must be a whole number from 0 to 10000, not {value!r}")
    return value


def _srs(document: Mapping[str, Any], where: str) -> str | None:
    value = document.get("srs")
    if value is not None and value not in SRS_KINDS:
        raise BadPolicy(f"{where}: srs must be one of {', '.join(SRS_KINDS)}, not {value!r}")
    return value


def _authors(document: Mapping[str, Any], where: str) -> tuple[str, ...] | None:
    value = document.get("authors")
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
        raise BadPolicy(f"{where}: authors must be a non-empty list of did:key strings")
    for did in value:
        try:
            public_key_from_did(did)
        except BadDid as exc:
            raise BadPolicy(f"{where}: authors: {exc.message}") from None
    return tuple(value)


def _metrics(value: object, where: str) -> tuple[MetricBound, ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise BadPolicy(f"{where}: metrics must be a table of name = {{ min = x, max = y }}")
    bounds = []
    for name, bound in sorted(value.items()):
        if not _METRIC_NAME.match(name):
            raise BadPolicy(f"{where}: metrics: {name!r} is not a metric name ([A-Za-z0-9_.-], 1-64 characters)")
        if not isinstance(bound, dict) or not bound or set(bound) - {"min", "max"}:
            raise BadPolicy(f"{where}: metrics.{name} must be a table with min and/or max, e.g. {{ min = 0.9 }}")
        if not all(_number(limit) for limit in bound.values()):
            raise BadPolicy(f"{where}: metrics.{name}: min and max must be numbers")
        low, high = bound.get("min"), bound.get("max")
        bounds.append(MetricBound(name, None if low is None else float(low), None if high is None else float(high)))
    return tuple(bounds)


# ---- evaluation --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Facts:
    """What was found about a verified artefact, for the rules to judge."""

    author: str
    author_trust: float
    dataset: str | None
    """The dataset manifest the model names, if any."""
    dataset_problem: str | None
    """Why the named dataset does not count (not held here, not a dataset), or None if it does."""
    srs_kind: str | None
    """The zk setup's SRS kind ("dev" | "ceremony"), None without a zk section."""
    metrics: Mapping[str, float]
    """Proven metrics only."""
    consensus: Consensus


@dataclass(frozen=True)
class RuleResult:
    rule: str
    passed: bool
    detail: str
    """The numbers: what was found against what the rule asks."""
    actual: Any
    expected: Any

    def to_json(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "passed": self.passed,
            "detail": self.detail,
            "actual": self.actual,
            "expected": self.expected,
        }


@dataclass(frozen=True)
class PolicyReport:
    policy: Policy
    rules: tuple[RuleResult, ...]

    @property
    def passed(self) -> bool:
        return all(rule.passed for rule in self.rules)

    def own_failures(self) -> list[RuleResult]:
        """Failed rules about the artefact itself (not about what others say of it)."""
        return [rule for rule in self.rules if not rule.passed and rule.rule not in SWARM_RULES]

    def to_json(self) -> dict[str, object]:
        return {"passed": self.passed, "rules": [rule.to_json() for rule in self.rules]}


def evaluate(policy: Policy, facts: Facts) -> PolicyReport:
    """Every rule the policy sets, judged against `facts`, in the file format's order."""
    results: list[RuleResult] = []
    if policy.authors is not None:
        listed = facts.author in policy.authors
        results.append(
            RuleResult(
                "authors",
                listed,
                f"author {facts.author} is {'' if listed else 'not '}one of the {len(policy.authors)} listed",
                facts.author,
                list(policy.authors),
            )
        )
    if policy.min_author_trust is not None:
        results.append(_at_least("min_author_trust", "author trust", facts.author_trust, policy.min_author_trust))
    if policy.require_dataset is not None:
        results.append(_dataset_rule(policy.require_dataset, facts))
    consensus = facts.consensus
    if policy.min_consensus is not None:
        results.append(_at_least("min_consensus", "ok_share", consensus.ok_share, policy.min_consensus))
    if policy.min_attesters is not None:
        agreeing = sum(1 for item in consensus.trusted if item.vote.verdict == "ok")
        results.append(
            _at_least("min_attesters", "trusted attesters agreeing ok", agreeing, policy.min_attesters, integer=True)
        )
    if policy.srs is not None:
        results.append(_srs_rule(policy.srs, facts.srs_kind))
    for bound in policy.metrics:
        results.append(_metric_rule(bound, facts.metrics.get(bound.name)))
    return PolicyReport(policy, tuple(results))


def _at_least(rule: str, what: str, actual: float, minimum: float, *, integer: bool = False) -> RuleResult:
    passed = actual >= minimum
    shown = (f"{actual:g}", f"{minimum:g}") if integer else (f"{actual:.4f}", f"{minimum:.4f}")
    return RuleResult(rule, passed, f"{what} {shown[0]} {'>=' if passed else '<'} {shown[1]}", actual, minimum)


def _dataset_rule(required: bool, facts: Facts) -> RuleResult:
    if not required:
        return RuleResult("require_dataset", True, "no dataset required", facts.dataset, False)
    if facts.dataset is None:
        return RuleResult("require_dataset", False, "the manifest names no dataset", None, True)
    if facts.dataset_problem is not None:
        return RuleResult("require_dataset", False, facts.dataset_problem, facts.dataset, True)
    return RuleResult("require_dataset", True, f"dataset {facts.dataset} held and verified", facts.dataset, True)


def _srs_rule(wanted: str, kind: str | None) -> RuleResult:
    if kind is None:
        return RuleResult("srs", True, "no zk setup to judge", None, wanted)
    passed = wanted == "any" or kind == wanted
    return RuleResult("srs", passed, f"zk setup uses a {kind} SRS ({'allowed' if passed else 'refused'})", kind, wanted)


def _metric_rule(bound: MetricBound, value: float | None) -> RuleResult:
    rule = f"metrics.{bound.name}"
    expected = {key: limit for key, limit in (("min", bound.min), ("max", bound.max)) if limit is not None}
    if value is None:
        return RuleResult(rule, False, f"no proven metric {bound.name}", None, expected)
    problems = []
    if bound.min is not None and value < bound.min:
        problems.append(f"< min {bound.min:g}")
    if bound.max is not None and value > bound.max:
        problems.append(f"> max {bound.max:g}")
    limits = ", ".join(f"{key} {limit:g}" for key, limit in expected.items())
    detail = f"proven {bound.name} {value:g} " + (", ".join(problems) if problems else f"within {limits}")
    return RuleResult(rule, not problems, detail, value, expected)
