"""Bounded fuzz of the zk document parsers (`zkreg.zk.documents`): proof bundles, circuit settings, a manifest's
zk section and bounded JSON (inference inputs). Property: a `ZkregError` or success, never another exception.

Each target gets random bytes, random JSON documents and mutations of a valid document (one field replaced by
any JSON value, or the text cut or spliced). Examples per target are in docs/threats.md.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reputation.ledger_helpers import identity
from zkreg.errors import ZkregError
from zkreg.zk.bundle import sign_bundle
from zkreg.zk.documents import MAX_DEPTH, CircuitSettings, ProofBundle, ZkSection, parse_json

CID = "b" + "a" * 58
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters() | st.characters(categories=["Cs"]), max_size=20),  # lone surrogates too
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
hostile_tokens = st.sampled_from(
    ["1e999", "-1e999", "NaN", "Infinity", "-Infinity", "9" * 5000, "[" * 200 + "]" * 200, '"\\ud800"', "\x00"]
)

SECTION: dict[str, Any] = {
    "backend": "ezkl",
    "version": "23.0.5",
    "mode": "hashed",
    "settings": CID,
    "vk": CID,
    "srs": CID,
    "srs_kind": "dev",
    "logrows": 15,
    "visibility": {"input": "public", "output": "public", "params": "hashed"},
    "params_commitment": ["00" * 32],
}
SETTINGS: dict[str, Any] = {
    "model_instance_shapes": [[1, 4], [1, 3]],
    "model_input_scales": [13],
    "model_output_scales": [13],
    "input_types": ["F32"],
    "run_args": {"logrows": 15, "epsilon": 2.2e-16},
}
BUNDLE = sign_bundle(
    identity("fuzzed prover"),
    {
        "manifest": CID,
        "backend": {"name": "ezkl", "version": "23.0.5"},
        "settings": CID,
        "vk": CID,
        "srs": CID,
        "input": [[0.5, -0.25, 0.75, 0.1]],
        "output": [[1.0, 2.0, 3.0]],
        "proof": {"instances": [["00" * 32] * 7], "proof": [1, 2, 3]},
        "created": "2026-12-01T00:00:00Z",
    },
)


def _mutated(document: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    """`document` with one top-level or nested field replaced by any JSON value."""
    copy = json.loads(json.dumps(document))
    key = data.draw(st.sampled_from(sorted(copy)))
    if isinstance(copy[key], dict) and copy[key] and data.draw(st.booleans()):
        inner = data.draw(st.sampled_from(sorted(copy[key])))
        copy[key][inner] = data.draw(json_values)
    else:
        copy[key] = data.draw(json_values)
    return copy


def _text_attack(document: dict[str, Any], data: st.DataObject) -> bytes:
    """The document's JSON cut short, or with a hostile token spliced in at some position."""
    text = json.dumps(document)
    at = data.draw(st.integers(0, len(text)))
    if data.draw(st.booleans()):
        return text[:at].encode()
    return (text[:at] + data.draw(hostile_tokens) + text[at:]).encode()


def _never_another_exception(parse: Any, argument: Any) -> None:
    with contextlib.suppress(ZkregError):
        parse(argument)


@FUZZ
@given(st.binary(max_size=512))
def test_fuzz_bundle_random_bytes(data: bytes) -> None:
    _never_another_exception(ProofBundle.from_bytes, data)


@FUZZ
@given(st.data())
def test_fuzz_bundle_mutations(data: st.DataObject) -> None:
    _never_another_exception(ProofBundle.from_bytes, json.dumps(_mutated(BUNDLE, data)).encode())
    _never_another_exception(ProofBundle.from_bytes, _text_attack(BUNDLE, data))


@FUZZ
@given(st.sampled_from(["created", "manifest", "settings"]), st.text(st.characters(categories=["Cs", "Cc", "L"])))
def test_fuzz_bundle_string_fields(field: str, text: str) -> None:
    _never_another_exception(ProofBundle.from_bytes, json.dumps({**BUNDLE, field: text}).encode())


@FUZZ
@given(st.binary(max_size=512) | json_values.map(lambda value: json.dumps(value).encode()))
def test_fuzz_settings_random(data: bytes) -> None:
    _never_another_exception(CircuitSettings.from_bytes, data)


@FUZZ
@given(st.data())
def test_fuzz_settings_mutations(data: st.DataObject) -> None:
    _never_another_exception(CircuitSettings.from_bytes, json.dumps(_mutated(SETTINGS, data)).encode())
    _never_another_exception(CircuitSettings.from_bytes, _text_attack(SETTINGS, data))


@FUZZ
@given(st.data())
def test_fuzz_zk_section_mutations(data: st.DataObject) -> None:
    _never_another_exception(lambda section: ZkSection.parse(section, what="fuzz"), _mutated(SECTION, data))
    _never_another_exception(lambda section: ZkSection.parse(section, what="fuzz"), data.draw(json_values))


@FUZZ
@given(st.binary(max_size=512), st.integers(0, 2 * MAX_DEPTH))
def test_fuzz_bounded_json(data: bytes, depth: int) -> None:
    def parse(text: bytes) -> Any:
        return parse_json(text, what="fuzz", max_bytes=1 << 20, error=ZkregError)

    _never_another_exception(parse, data)
    _never_another_exception(parse, b"[" * depth + data + b"]" * depth)


def test_the_valid_documents_parse() -> None:
    """The fuzz's seeds are accepted, so mutations start from something the parsers take."""
    assert ProofBundle.from_bytes(json.dumps(BUNDLE).encode()).output == [[1.0, 2.0, 3.0]]
    assert CircuitSettings.from_bytes(json.dumps(SETTINGS).encode()).input_shapes == [[1, 4]]
    assert ZkSection.parse(SECTION, what="seed").params_commitment == ("00" * 32,)
