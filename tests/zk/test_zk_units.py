"""Pure parts of the zk area, no proving: the SRS table, input parsing, estimates, cache atomicity."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from zkreg.errors import IntegrityError, InvalidInput
from zkreg.zk.cache import ArtefactCache
from zkreg.zk.cost import CostCache, CostPoint, CostProfile, machine
from zkreg.zk.inputs import check_values
from zkreg.zk.srs import CEREMONY_SRS_SHA256, check_ceremony_srs, sha256_file


def test_ceremony_table_covers_every_size_ezkl_ships() -> None:
    assert sorted(CEREMONY_SRS_SHA256) == list(range(1, 27))
    assert all(len(digest) == 64 and int(digest, 16) >= 0 for digest in CEREMONY_SRS_SHA256.values())


def test_unknown_srs_file_is_refused_with_its_hash(tmp_path: Path) -> None:
    fake = tmp_path / "kzg17.srs"
    fake.write_bytes(b"forged parameters")
    with pytest.raises(IntegrityError, match=hashlib.sha256(b"forged parameters").hexdigest()):
        check_ceremony_srs(fake, 17)
    assert sha256_file(fake) == hashlib.sha256(b"forged parameters").hexdigest()


def test_flat_and_ezkl_inputs_are_checked_against_shapes() -> None:
    assert check_values([[1, 2.5]], [[1, 2]], "x") == [[1.0, 2.5]]
    with pytest.raises(InvalidInput, match="needs 2 values"):
        check_values([[1.0]], [[1, 2]], "x")
    with pytest.raises(InvalidInput, match="non-numeric"):
        check_values([[1.0, float("inf")]], [[1, 2]], "x")


PROBE = (
    CostPoint(logrows=11, srs_s=0.5, setup_s=1.0, prove_s=2.0, peak_bytes=100 << 20),
    CostPoint(logrows=13, srs_s=1.1, setup_s=2.5, prove_s=5.0, peak_bytes=160 << 20),
)


def test_estimate_is_extrapolated_per_row_from_the_recorded_measurement() -> None:
    profile = CostProfile("fixed", PROBE)
    at_19 = profile.estimate(19)
    assert at_19.setup_seconds == pytest.approx(2.5 * 64)  # times: the logrows-13 point, in proportion to rows
    assert at_19.prove_seconds == pytest.approx(5.0 * 64)
    # memory: fixed + per row through both points (per row (160 - 100) MB / 6144; fixed 100 MB - 2048 rows' worth)
    assert at_19.peak_bytes == pytest.approx((80 << 20) + (60 << 20) / 6144 * (1 << 19), rel=1e-6)
    with_srs = profile.estimate(19, dev_srs_needed=True)
    assert with_srs.setup_seconds == pytest.approx(at_19.setup_seconds + 1.1 * 64)
    assert profile.estimate(13).setup_seconds == pytest.approx(2.5)
    assert "logrows 19" in at_19.describe()
    assert "logrows 11/13" in at_19.describe()


def test_a_measurement_that_shrinks_with_size_never_gives_a_negative_per_row_memory() -> None:
    noisy = (PROBE[0], CostPoint(logrows=13, srs_s=0.4, setup_s=0.9, prove_s=1.5, peak_bytes=90 << 20))
    assert CostProfile("fixed", noisy).estimate(20).peak_bytes == 100 << 20


def _write_current(path: Path, modes: object) -> None:
    document = {"format": 1, "backend": "ezkl", "version": "23.0.5", "machine": machine(), "modes": modes}
    path.write_text(json.dumps(document))


@pytest.mark.parametrize(
    "damage",
    [
        "corrupt json",
        "another backend version",
        "another machine",
        "one point",
        "negative figure",
        "mode missing",
    ],
)
def test_a_stale_or_corrupt_cost_record_is_measured_again(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "cost.json"
    good = [{"logrows": 11, "srs_s": 9, "setup_s": 9, "prove_s": 9, "peak_bytes": 9}] * 2
    good[1] = {**good[1], "logrows": 13}
    _write_current(path, {"fixed": good})
    document = json.loads(path.read_text())
    if damage == "corrupt json":
        path.write_text(path.read_text()[:-7])
    elif damage == "another backend version":
        path.write_text(json.dumps({**document, "version": "22.0.0"}))
    elif damage == "another machine":
        path.write_text(json.dumps({**document, "machine": {**machine(), "cpus": machine()["cpus"] + 1}}))
    elif damage == "one point":
        _write_current(path, {"fixed": good[:1]})
    elif damage == "negative figure":
        _write_current(path, {"fixed": [good[0], {**good[1], "prove_s": -1}]})
    else:
        _write_current(path, {"hashed": good})
    measured: list[str] = []

    def measure() -> list[CostPoint]:
        measured.append("fixed")
        return list(PROBE)

    cache = CostCache(path, "ezkl", "23.0.5")
    assert cache.profile("fixed", measure).points == PROBE
    assert measured == ["fixed"]
    assert cache.profile("fixed", measure).points == PROBE, "the new measurement was recorded"
    assert measured == ["fixed"]
    if damage == "mode missing":
        assert cache.load("hashed") is not None, "the other mode's measurement is kept"


def test_a_current_cost_record_is_used_without_measuring(tmp_path: Path) -> None:
    path = tmp_path / "cost.json"
    CostCache(path, "ezkl", "23.0.5").record(CostProfile("hashed", PROBE))

    def measure() -> list[CostPoint]:
        raise AssertionError("a current record must not be measured again")

    assert CostCache(path, "ezkl", "23.0.5").profile("hashed", measure).estimate(15).prove_seconds == pytest.approx(
        5.0 * 4
    )
    assert CostCache(path, "ezkl", "23.0.5").load("fixed") is None


def test_incomplete_cache_entry_is_never_used_and_dead_staging_is_swept(tmp_path: Path) -> None:
    cache = ArtefactCache(tmp_path / "cache")
    half = tmp_path / "cache" / "bafymodel" / "bafysettings"
    half.mkdir(parents=True)
    (half / "pk.key").write_bytes(b"half a key")
    assert cache.get("bafymodel", "bafysettings") is None
    assert cache.find("bafysettings") is None
    dead = tmp_path / "cache" / ".staging" / "999999999-abc"
    dead.mkdir()
    ArtefactCache(tmp_path / "cache")
    assert not dead.exists()


@pytest.mark.parametrize("meta", ["{not json", "[1, 2]"])
def test_damaged_cache_metadata_is_a_clear_error_not_a_traceback(tmp_path: Path, meta: str) -> None:
    from zkreg.errors import ZkregError
    from zkreg.zk.cache import ENTRY_FILES

    cache = ArtefactCache(tmp_path / "cache")
    folder = tmp_path / "cache" / "model-cid" / "settings-cid"
    folder.mkdir(parents=True)
    for name in ENTRY_FILES:
        (folder / name).write_text("x")
    (folder / "meta.json").write_text(meta)
    with pytest.raises(ZkregError) as caught:
        cache.find("settings-cid")
    assert caught.value.code == "zk/cache-damaged"
    assert str(folder) in caught.value.message
