"""Pure parts of the zk area, no proving: the SRS table, input parsing, estimates, cache atomicity."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from zkreg.errors import IntegrityError, InvalidInput
from zkreg.zk.cache import ArtefactCache
from zkreg.zk.inputs import check_values
from zkreg.zk.srs import CEREMONY_SRS_SHA256, check_ceremony_srs, sha256_file
from zkreg.zk.workflow import estimate


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


def test_estimate_doubles_per_logrow_and_hashed_costs_more() -> None:
    small, big = estimate(15, "fixed"), estimate(18, "fixed")
    assert big.peak_bytes == 8 * small.peak_bytes
    assert estimate(15, "hashed").peak_bytes > small.peak_bytes
    assert "logrows 18" in big.describe()


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
