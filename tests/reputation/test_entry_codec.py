"""The entry codec: canonical DAG-CBOR round-trips, and every non-canonical or oversized encoding is refused."""

from __future__ import annotations

from unittest.mock import patch

import cbor2
import dag_cbor
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkreg.errors import MalformedEntry
from zkreg.registry.cid import DAG_CBOR, cid_from_str, compute
from zkreg.reputation import entry as entry_module
from zkreg.reputation.entry import MAX_ENTRY_BYTES, Entry, decode_entry, sign_entry
from zkreg.reputation.verify import signature_ok

from .ledger_helpers import T0, identity, manifest_cid

SIGNERS = [identity(f"codec-{n}") for n in range(3)]
dids = st.sampled_from([signer.did for signer in SIGNERS])
cids = st.binary(min_size=1, max_size=16).map(lambda data: compute(DAG_CBOR, data))
requests = st.from_regex(r"[A-Za-z0-9._:-]{1,128}", fullmatch=True)
bodies = st.one_of(
    st.tuples(st.just("publish"), st.fixed_dictionaries({"manifest": cids})),
    st.tuples(st.just("use"), st.fixed_dictionaries({"manifest": cids, "provider": dids, "request": requests})),
    st.tuples(
        st.just("receipt"),
        st.fixed_dictionaries(
            {
                "request": requests,
                "consumer": dids,
                "proof": st.one_of(st.none(), cids),
                "output_hash": st.binary(min_size=32, max_size=32).map(bytes.hex),
            }
        ),
    ),
    st.tuples(
        st.just("attest"),
        st.fixed_dictionaries(
            {"subject": cids, "verdict": st.sampled_from(["ok", "fail"]), "details": st.text(max_size=300)}
        ),
    ),
    st.tuples(st.just("endorse"), st.fixed_dictionaries({"peer": dids, "weight": st.integers(0, 10)})),
    st.tuples(st.just("revoke"), st.fixed_dictionaries({"manifest": cids})),
    st.tuples(st.just("rotate"), st.fixed_dictionaries({"new_key": dids})),
)


@settings(max_examples=150, deadline=None)
@given(
    signer=st.sampled_from(SIGNERS),
    seq=st.integers(1, 2**53 - 1),
    prev=st.one_of(st.none(), cids),
    ts=st.integers(0, 2**53 - 1),
    typed_body=bodies,
)
def test_entry_round_trips_and_is_byte_identical_to_dag_cbor(signer, seq, prev, ts, typed_body) -> None:
    type_, body = typed_body
    entry = sign_entry(signer, seq=seq, prev=prev, ts=ts, type_=type_, body=body)
    decoded = decode_entry(entry.block)
    assert decoded == entry
    assert (decoded.author, decoded.seq, decoded.prev, decoded.ts, decoded.type, decoded.body) == (
        signer.did,
        seq,
        prev,
        ts,
        type_,
        body,
    )
    # The reference DAG-CBOR codec reads the same value and writes the same bytes: the id is a real IPLD CID.
    assert dag_cbor.encode(dag_cbor.decode(entry.block)) == entry.block
    assert entry.cid == compute(DAG_CBOR, entry.block)


def _sample() -> Entry:
    return sign_entry(
        SIGNERS[0], seq=5, prev=manifest_cid("prev"), ts=T0, type_="publish", body={"manifest": manifest_cid("m")}
    )


def _map(entry: Entry) -> dict[str, object]:
    value = cbor2.loads(entry.block)
    assert isinstance(value, dict)
    return value


def test_non_canonical_cbor_extra_key_is_refused() -> None:
    with pytest.raises(MalformedEntry, match="schema"):
        decode_entry(cbor2.dumps({**_map(_sample()), "extra": 1}, canonical=True))


def test_non_canonical_cbor_duplicate_key_is_refused() -> None:
    block = _sample().block
    assert block[0] == 0xA7  # a map of 7 pairs
    duplicated = bytes([0xA8]) + block[1:] + cbor2.dumps("seq") + cbor2.dumps(5)
    with pytest.raises(MalformedEntry, match="not canonical"):
        decode_entry(duplicated)


def test_non_canonical_cbor_unsorted_keys_are_refused() -> None:
    unsorted = dict(sorted(_map(_sample()).items(), reverse=True))
    with pytest.raises(MalformedEntry, match="not canonical"):
        decode_entry(cbor2.dumps(unsorted))


def test_non_canonical_cbor_trailing_bytes_are_refused() -> None:
    with pytest.raises(MalformedEntry, match="not canonical"):
        decode_entry(_sample().block + b"\x00")


def test_non_canonical_cbor_non_minimal_integer_is_refused() -> None:
    block = _sample().block
    minimal = cbor2.dumps("seq") + b"\x05"
    assert minimal in block
    with pytest.raises(MalformedEntry, match="not canonical"):
        decode_entry(block.replace(minimal, cbor2.dumps("seq") + b"\x19\x00\x05"))


def test_non_canonical_cbor_indefinite_length_map_is_refused() -> None:
    block = _sample().block
    with pytest.raises(MalformedEntry, match="not canonical"):
        decode_entry(b"\xbf" + block[1:] + b"\xff")


def test_float_timestamp_is_refused() -> None:
    with pytest.raises(MalformedEntry):
        decode_entry(cbor2.dumps({**_map(_sample()), "ts": float(T0)}, canonical=True))


def test_foreign_cbor_tag_is_refused() -> None:
    value = _map(_sample())
    value["prev"] = cbor2.CBORTag(43, value["prev"].value)  # type: ignore[union-attr]
    with pytest.raises(MalformedEntry, match="tag"):
        decode_entry(cbor2.dumps(value, canonical=True))


def test_garbage_bytes_are_refused_cleanly() -> None:
    for garbage in (b"", b"\xff", b"\x1b" + b"\xff" * 8, b"\x5b\xff\xff\xff\xff\xff\xff\xff\xff", b"\x81" * 5000):
        with pytest.raises(MalformedEntry):
            decode_entry(garbage)


def test_oversized_entry_is_rejected_before_decoding() -> None:
    # Not even CBOR: the size cap must answer before the decoder sees a byte.
    with pytest.raises(MalformedEntry, match="cap"):
        decode_entry(b"\xff" * (MAX_ENTRY_BYTES + 1))


def test_entry_with_a_mismatching_expected_cid_is_refused() -> None:
    entry = _sample()
    with pytest.raises(MalformedEntry, match="does not match its CID"):
        decode_entry(entry.block, expected_cid=manifest_cid("something else"))


GOLDEN_CID = "bafyreigjjaztwa76kqipg25gp23br7ohbr2hbw3i7xviykumpmskag22zq"
GOLDEN_BLOCK = bytes.fromhex(
    "a76274731b0000019ab697e8006373657102637369675840e25778bb7a5eb6f20a3b256aeb42321c435e45e54727bc1d00c89a14c669"
    "35288fcf386c06de54100cd03af9e90b6fc8debe119b40b87b2d256d2fb127cd930e64626f6479a36772657175657374657265712d3168"
    "6d616e6966657374d82a582500017112202c68f21a6e2c7fab9ec496809b43ef8b613e586b0ebb0b90e69aba3748f518126870726f7669"
    "64657278386469643a6b65793a7a364d6b72447643377475484150677234554c676844526d54575a72646f586d796f424d6b3870755875"
    "65445a4b33706470726576d82a58250001711220c31a912c070fedd45ccf5ecb4beecb40bee09359b71543ed29b72f7e4fd6beae647479"
    "70656375736566617574686f7278386469643a6b65793a7a364d6b6d4e6368765a447935726744746d70417a4e7a32316f54794b78426e"
    "477945533761387664714141436d5a79"
)


def test_golden_entry_keeps_its_bytes_cid_and_signature() -> None:
    """Feeds already exchanged must keep verifying: the codec may never change an entry's bytes or id."""
    golden, provider = identity("golden"), identity("golden-provider")
    body = {"manifest": manifest_cid("golden-model"), "provider": provider.did, "request": "req-1"}
    entry = sign_entry(golden, seq=2, prev=manifest_cid("golden-prev"), ts=T0, type_="use", body=body)
    assert (entry.cid, entry.block) == (GOLDEN_CID, GOLDEN_BLOCK)
    decoded = decode_entry(GOLDEN_BLOCK, expected_cid=GOLDEN_CID)
    assert signature_ok(golden.did, decoded)
    assert decoded.body == body


links = cids.map(lambda cid: cbor2.CBORTag(42, b"\x00" + cid_from_str(cid)))
odd_tags = st.builds(cbor2.CBORTag, st.sampled_from([2, 42, 43, 258]), st.binary(max_size=40))
cbor_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=70)
    | st.binary(max_size=70)
    | dids
    | links
    | odd_tags,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=6,
)
FIELDS = ["author", "seq", "prev", "ts", "type", "body", "sig", "extra", "body.manifest", "body.provider", "body.x"]


def _judged(block: bytes) -> tuple[object, ...]:
    try:
        entry = decode_entry(block)
    except MalformedEntry:
        return ("refused",)
    return (entry.cid, entry.payload, entry.author, entry.seq, entry.prev, entry.ts, entry.type, entry.body, entry.sig)


@settings(max_examples=300, deadline=None)
@given(
    typed_body=bodies,
    field=st.sampled_from(FIELDS),
    value=st.one_of(st.just(None), cbor_values),
    remove=st.booleans(),
    canonical=st.booleans(),
    edit=st.one_of(st.none(), st.tuples(st.integers(0, 400), st.integers(0, 3), st.binary(max_size=3))),
)
def test_the_fast_decoding_path_judges_every_block_as_the_general_path_does(
    typed_body: tuple[str, dict[str, object]],
    field: str,
    value: object,
    remove: bool,
    canonical: bool,
    edit: tuple[int, int, bytes] | None,
) -> None:
    """The usual entry takes a shortcut (one plain re-encoding, jsonschema-rs for a yes); the general path
    (canonical re-encoding, fastjsonschema) is the reference: the same blocks accepted, as the same entries."""
    type_, body = typed_body
    entry = sign_entry(SIGNERS[0], seq=3, prev=manifest_cid("p"), ts=T0, type_=type_, body=body)
    value_map = _map(entry)
    target = value_map["body"] if field.startswith("body.") and isinstance(value_map["body"], dict) else value_map
    key = field.removeprefix("body.")
    if remove:
        target.pop(key, None)
    else:
        target[key] = value
    try:
        block = cbor2.dumps(value_map, canonical=canonical)
    except Exception:  # a value cbor2 cannot write (e.g. a tag over bytes it will not encode): nothing to judge
        return
    if edit is not None:  # bytes changed in place: non-minimal heads, cut strings, trailing bytes, ...
        at, cut, inserted = edit
        block = block[:at] + inserted + block[at + cut :]
    judged = _judged(block)
    with patch.object(entry_module, "_plain_payload", return_value=None):
        assert judged == _judged(block)
