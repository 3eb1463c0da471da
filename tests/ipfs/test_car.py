"""CAR export/import: round trips between data dirs and with the real node, and every CAR fault refused whole."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import dag_cbor
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.ipfs.helpers import random_file
from tests.ipfs.node import IpfsNode
from zkreg.api import (
    ExportCarRequest,
    ImportCarRequest,
    PublishRequest,
    Repo,
    VerifyRequest,
    export_car,
    import_car,
    publish,
    verify,
)
from zkreg.codecs.varint import encode as encode_varint
from zkreg.errors import BadSignature, CidMismatch, IntegrityError, InvalidInput, MalformedObject
from zkreg.registry.car import (
    MAX_SECTION_BYTES,
    read_blocks,
    read_roots,
    walk_dag,
    write_car,
)
from zkreg.registry.cid import DAG_CBOR, RAW, codec_of, compute
from zkreg.registry.ipfs import IpfsStore
from zkreg.registry.unixfs import KUBO_V1_LEGACY


@pytest.fixture
def published(repo: Repo, tmp_path: Path) -> tuple[Repo, str]:
    folder = tmp_path / "model"
    folder.mkdir()
    random_file(folder / "weights.bin", 900_000, seed=20)
    (folder / "card.md").write_text("a model card\n")
    return repo, publish(repo, PublishRequest([folder], name="carmodel")).cid


@pytest.fixture
def other(tmp_path: Path) -> Any:
    repo = Repo.init(tmp_path / "other-home")
    yield repo
    repo.close()


def blocks_of(repo: Repo, cid: str) -> list[tuple[str, bytes]]:
    return list(walk_dag(repo.store.get_block, [cid]))


def car_bytes(roots: list[str], blocks: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    write_car(out, roots, blocks)
    return out.getvalue()


def assert_nothing_imported(repo: Repo, blocks: list[tuple[str, bytes]]) -> None:
    assert not any(repo.store.has(cid) for cid, _ in blocks)
    assert repo.ls() == []


def test_export_then_import_into_another_data_dir_registers_the_ref(
    cli: Any, tmp_path: Path, published: tuple[Repo, str]
) -> None:
    repo, cid = published
    car = tmp_path / "carmodel.car"
    assert export_car(repo, ExportCarRequest(cid, car)) == len(blocks_of(repo, cid))
    other_home = tmp_path / "cli-other"
    assert cli("init", home_dir=other_home).code == 0
    imported = cli("import", str(car), "--json", home_dir=other_home)
    assert imported.code == 0, imported.stderr
    assert imported.json()["roots"] == [cid]
    assert imported.json()["refs"] == ["carmodel@1"]
    assert cli("verify", "carmodel@1", home_dir=other_home).code == 0
    pulled = cli("pull", "carmodel", "-o", str(tmp_path / "out"), home_dir=other_home)
    assert pulled.code == 0, pulled.stderr
    assert (tmp_path / "out" / "model" / "weights.bin").read_bytes() == (
        tmp_path / "model" / "weights.bin"
    ).read_bytes()


def test_cli_export_writes_a_car_of_the_whole_history(
    cli: Any, tmp_path: Path, published: tuple[Repo, str], other: Repo
) -> None:
    repo, first = published
    random_file(tmp_path / "model" / "weights.bin", 800_000, seed=21)
    second = publish(repo, PublishRequest([tmp_path / "model"], name="carmodel")).cid
    car = tmp_path / "history.car"
    exported = cli("export", "carmodel", "-o", str(car), "--json", home_dir=repo.home)
    assert exported.code == 0, exported.stderr
    assert exported.json()["cid"] == second
    import_car(other, ImportCarRequest(car))
    assert [manifest.cid for manifest in other.log(second)] == [second, first]


def test_zkreg_car_imports_into_the_node(published: tuple[Repo, str], ipfs_node: IpfsNode, tmp_path: Path) -> None:
    repo, cid = published
    car = tmp_path / "to-node.car"
    export_car(repo, ExportCarRequest(cid, car))
    with IpfsStore(ipfs_node.api) as node:
        assert node.import_car(car) == [cid]
        assert node.pinned(cid)
        tree = repo.show(cid).tree
        assert node.get_block(tree) == repo.store.get_block(tree)


def test_node_car_imports_into_zkreg(
    published: tuple[Repo, str], ipfs_node: IpfsNode, other: Repo, tmp_path: Path
) -> None:
    repo, cid = published
    repo.ipfs_api = ipfs_node.api
    publish(
        repo, PublishRequest([tmp_path / "model"], name="carmodel", store="ipfs")
    )  # unchanged: puts the DAG on the node
    car = tmp_path / "from-node.car"
    with IpfsStore(ipfs_node.api) as node, car.open("wb") as out:
        node.export_car(cid, out)
    result = import_car(other, ImportCarRequest(car))
    assert (result.roots, result.refs) == ([cid], ["carmodel@1"])
    assert verify(other, VerifyRequest("carmodel@1")).bytes == 900_000 + len("a model card\n")


def test_node_car_of_a_plain_file_imports_without_a_ref(ipfs_node: IpfsNode, other: Repo, tmp_path: Path) -> None:
    with IpfsStore(ipfs_node.api) as node:
        imported = node.put_file(random_file(tmp_path / "plain.bin", 700_000, seed=22), KUBO_V1_LEGACY)
        with (tmp_path / "plain.car").open("wb") as out:
            node.export_car(imported.cid, out)
    result = import_car(other, ImportCarRequest(tmp_path / "plain.car"))
    assert (result.roots, result.refs, result.blocks) == ([imported.cid], [], 4)  # 3 chunks and their parent
    assert other.store.verify_file(imported.cid) == 700_000


def test_car_with_a_block_whose_bytes_do_not_match_its_cid_is_refused_whole(
    cli: Any, published: tuple[Repo, str], other: Repo, tmp_path: Path
) -> None:
    repo, cid = published
    blocks = blocks_of(repo, cid)
    last_cid, last_block = blocks[-1]
    tampered = [*blocks[:-1], (last_cid, last_block[:-1] + bytes([last_block[-1] ^ 0xFF]))]
    car = tmp_path / "tampered.car"
    car.write_bytes(car_bytes([cid], tampered))
    with pytest.raises(CidMismatch, match=last_cid):
        import_car(other, ImportCarRequest(car))
    assert_nothing_imported(other, blocks)
    result = cli("import", str(car), home_dir=other.home)
    assert result.code == 4
    assert "integrity/cid-mismatch" in result.stderr


def test_car_with_a_missing_block_is_refused_naming_it(
    published: tuple[Repo, str], other: Repo, tmp_path: Path
) -> None:
    repo, cid = published
    blocks = blocks_of(repo, cid)
    missing = next(block_cid for block_cid, _ in blocks if codec_of(block_cid) == RAW)
    car = tmp_path / "incomplete.car"
    car.write_bytes(car_bytes([cid], [(c, b) for c, b in blocks if c != missing]))
    with pytest.raises(IntegrityError, match=missing) as raised:
        import_car(other, ImportCarRequest(car))
    assert raised.value.code == "integrity/car-missing-block"
    assert_nothing_imported(other, blocks)


def test_car_header_naming_a_root_not_in_the_file_is_refused(
    published: tuple[Repo, str], other: Repo, tmp_path: Path
) -> None:
    repo, cid = published
    blocks = blocks_of(repo, cid)
    absent_root = compute(RAW, b"not in this file")
    car = tmp_path / "rootless.car"
    car.write_bytes(car_bytes([absent_root], blocks))
    with pytest.raises(IntegrityError, match=absent_root) as raised:
        import_car(other, ImportCarRequest(car))
    assert raised.value.code == "integrity/car-root-missing"
    assert_nothing_imported(other, blocks)


def test_oversized_car_section_is_refused_before_it_is_read(other: Repo, tmp_path: Path) -> None:
    root = compute(RAW, b"x")
    header_and_small_block = car_bytes([root], [(root, b"x")])
    claimed = 1 << 40  # a terabyte: refused from the length prefix alone, the bytes are never read
    car = tmp_path / "oversized.car"
    car.write_bytes(header_and_small_block + encode_varint(claimed) + b"\x00" * 64)
    with pytest.raises(MalformedObject, match=str(MAX_SECTION_BYTES)) as raised:
        import_car(other, ImportCarRequest(car))
    assert raised.value.code == "integrity/car-oversized"
    assert_nothing_imported(other, [(root, b"x")])


def test_truncated_car_is_refused(published: tuple[Repo, str], other: Repo, tmp_path: Path) -> None:
    repo, cid = published
    data = car_bytes([cid], blocks_of(repo, cid))
    car = tmp_path / "truncated.car"
    car.write_bytes(data[: len(data) - 1000])
    with pytest.raises(MalformedObject) as raised:
        import_car(other, ImportCarRequest(car))
    assert raised.value.code == "integrity/car-truncated"


def test_car_whose_manifest_was_altered_and_rehashed_is_refused_by_its_signature(
    published: tuple[Repo, str], other: Repo, tmp_path: Path
) -> None:
    repo, cid = published
    blocks = blocks_of(repo, cid)
    forged_body: Any = dag_cbor.decode(repo.store.get_block(cid))
    forged_body["name"] = "someone-elses-model"
    forged = dag_cbor.encode(forged_body)
    forged_cid = compute(DAG_CBOR, forged)
    car = tmp_path / "forged.car"
    car.write_bytes(car_bytes([forged_cid], [(forged_cid, forged), *blocks[1:]]))
    with pytest.raises(BadSignature):
        import_car(other, ImportCarRequest(car))
    assert_nothing_imported(other, blocks)


def test_car_claiming_a_name_version_held_by_another_manifest_is_refused(
    published: tuple[Repo, str], tmp_path: Path, other: Repo
) -> None:
    repo, cid = published
    car = tmp_path / "clash.car"
    export_car(repo, ExportCarRequest(cid, car))
    (tmp_path / "mine.txt").write_text("mine\n")
    publish(other, PublishRequest([tmp_path / "mine.txt"], name="carmodel"))
    with pytest.raises(InvalidInput, match="carmodel@1"):
        import_car(other, ImportCarRequest(car))
    assert not other.store.has(cid)


def test_importing_a_non_car_file_is_a_clear_error(cli: Any, tmp_path: Path) -> None:
    not_car = tmp_path / "notes.txt"
    not_car.write_text("these are not the blocks you are looking for\n")
    assert cli("init").code == 0
    result = cli("import", str(not_car), "--json")
    assert result.code == 4
    assert result.json()["error"]["code"].startswith("integrity/car-")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.binary(max_size=2048), min_size=1, max_size=12))
def test_car_write_read_round_trip(payloads: list[bytes]) -> None:
    blocks = [(compute(RAW, payload), payload) for payload in payloads]
    stream = io.BytesIO(car_bytes([blocks[0][0]], blocks))
    assert read_roots(stream) == [blocks[0][0]]
    assert list(read_blocks(stream)) == blocks
