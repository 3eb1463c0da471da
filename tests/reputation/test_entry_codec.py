"""The entry codec: canonical DAG-CBOR round-trips, and every non-canonical or oversized encoding is refused."""

from __future__ import annotations

import cbor2
import dag_cbor
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkreg.registry.cid import DAG_CBOR, compute
from zkreg.reputation.entry import MAX_ENTRY_BYTES, Entry, MalformedEntry, decode_entry, sign_entry

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
