"""Private datasets: data files parsed once into a bounded table (each bad file one clear error), and a private
dataset's published form (its CAR export, every block a real `zkreg serve` serves) holding no row's bytes."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.serve.conftest import StartPeer
from zkreg.api import PublishRequest, publish
from zkreg.registry.car import walk_dag
from zkreg.zk.table import load_table

FLOWERS = Path(__file__).parents[2] / "examples" / "data" / "flowers.csv"
ROW_TEXTS = [line for line in FLOWERS.read_text().splitlines()[1:] if line]


@pytest.mark.parametrize(
    ("text", "args", "code"),
    [
        pytest.param("a,b,label\n1,2,x\n3,4\n", [], "input/data-ragged", id="ragged row"),
        pytest.param("a,b,label\n1,two,x\n", [], "input/data-not-numeric", id="non-numeric cell"),
        pytest.param("a,b,label\n1,2,x\n", ["--label", "species"], "input/data-no-label", id="missing label column"),
        pytest.param("a,b,label\n1,nan,x\n", [], "input/data-not-finite", id="NaN"),
        pytest.param("a,b,label\n1,inf,x\n", [], "input/data-not-finite", id="infinity"),
        pytest.param("a,b,label\n", [], "input/data-ragged", id="header only"),
    ],
)
def test_a_bad_data_file_is_one_clear_error_and_publishes_nothing(
    cli: Any, tmp_path: Path, text: str, args: list[str], code: str
) -> None:
    assert cli("init").code == 0
    (tmp_path / "rows.csv").write_text(text)
    result = cli("publish", str(tmp_path / "rows.csv"), "--name", "rows", "--private", *args, "--json")
    assert (result.code, result.json()["error"]["code"]) == (1, code)
    assert len(result.stderr.strip().splitlines()) == 1
    assert cli("ls", "--json").json() == []


def test_npz_tables_read_x_and_y_and_refuse_a_missing_array(tmp_path: Path) -> None:
    good = tmp_path / "good.npz"
    np.savez(good, x=np.array([[1.0, 2.0], [3.0, 4.0]]), y=np.array([1, 0]))
    table = load_table(good)
    assert (table.features, table.labels, table.classes) == (((1.0, 2.0), (3.0, 4.0)), (1, 0), ("0", "1"))
    buffer = io.BytesIO()
    np.savez(buffer, x=np.array([[1.0, np.nan]]), y=np.array([0]))
    (tmp_path / "nan.npz").write_bytes(buffer.getvalue())
    np.savez(tmp_path / "no-y.npz", x=np.array([[1.0]]))
    from zkreg.errors import DataMissingLabel, DataNotFinite

    with pytest.raises(DataNotFinite):
        load_table(tmp_path / "nan.npz")
    with pytest.raises(DataMissingLabel):
        load_table(tmp_path / "no-y.npz")


def test_named_labels_become_sorted_class_indices() -> None:
    table = load_table(FLOWERS)
    assert (table.count, table.columns, table.label) == (150, ("sepal_length", "sepal_width", "petal_length",
                                                             "petal_width"), "species")  # fmt: skip
    assert table.classes == ("setosa", "versicolor", "virginica")
    assert table.labels[0] == 0


def _holds_a_row(data: bytes) -> str | None:
    return next((row for row in ROW_TEXTS if row.encode() in data), None) or (
        "the file" if b"sepal_length" in data and b"5.0,3.8" in data else None
    )


def test_a_private_datasets_export_holds_no_rows_bytes(cli: Any, tmp_path: Path) -> None:
    assert cli("init").code == 0
    published = cli("publish", str(FLOWERS.parent), "--name", "flowers", "--private", "--json")
    assert published.code == 0, published.stderr
    assert cli("export", "flowers", "-o", str(tmp_path / "flowers.car")).code == 0
    car = (tmp_path / "flowers.car").read_bytes()
    assert _holds_a_row(car) is None
    shown = cli("show", "flowers", "--json").json()
    assert (shown["rows"]["count"], shown["rows"]["visibility"]) == (150, "private")
    assert list(shown["files"]) == ["rows/commitment.json"]


def test_a_served_private_dataset_serves_no_block_holding_a_row(start_peer: StartPeer, tmp_path: Path) -> None:
    alice = start_peer("alice")
    repo = alice.repo()
    try:
        cid = publish(repo, PublishRequest([FLOWERS.parent], name="flowers", kind="dataset", private=True)).cid
        reachable = [block_cid for block_cid, _ in walk_dag(repo.store.get_block, [cid])]
    finally:
        repo.close()
    served = [httpx.get(f"{alice.url}/v1/blocks/{block_cid}") for block_cid in reachable]
    assert all(answer.status_code == 200 for answer in served)
    assert [_holds_a_row(answer.content) for answer in served] == [None] * len(served)
    from zkreg.registry.unixfs import file_cid

    refused = httpx.get(f"{alice.url}/v1/blocks/{file_cid(FLOWERS)}")
    assert refused.status_code == 404
