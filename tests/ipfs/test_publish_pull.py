"""Publish to a real node and pull from it into another data dir; the node's faults seen through the CLI."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.ipfs.helpers import free_port, random_file
from tests.ipfs.node import IpfsNode
from tests.ipfs.proxy import FaultProxy
from zkreg.api import PublishRequest, PullRequest, Repo, publish, pull
from zkreg.registry.car import read_blocks, read_roots
from zkreg.registry.cid import as_version
from zkreg.registry.dag import walk
from zkreg.registry.ipfs import IpfsStore
from zkreg.registry.unixfs import profile_named


@pytest.fixture
def node_repo(repo: Repo, ipfs_node: IpfsNode) -> Repo:
    repo.ipfs_api = ipfs_node.api
    return repo


@pytest.fixture
def fresh_repo(tmp_path: Path, ipfs_node: IpfsNode) -> Iterator[Repo]:
    other = Repo.init(tmp_path / "fresh-home")
    other.ipfs_api = ipfs_node.api
    yield other
    other.close()


@pytest.fixture
def artefact(tmp_path: Path) -> Path:
    folder = tmp_path / "artefact"
    folder.mkdir()
    random_file(folder / "weights.bin", 1_500_000, seed=10)
    (folder / "sub").mkdir()
    random_file(folder / "sub" / "labels.csv", 1234, seed=11)
    return folder


def node_dag_get(node: IpfsNode, path: str) -> str:
    """`ipfs dag get PATH`. A path into the manifest, not the whole map: js-ipfs 0.66.1 answers 500 when it renders
    a map holding CID links as JSON (Kubo renders them), but resolves paths through DAG-CBOR fine. The value as
    text: js-ipfs sends a string bare, Kubo as JSON."""
    answer = httpx.post(f"{node.url}/api/v0/dag/get", params={"arg": path}, trust_env=False, timeout=30)
    answer.raise_for_status()
    return answer.text.strip().strip('"')


def test_publish_to_node_then_pull_into_fresh_data_dir_through_node(
    node_repo: Repo, fresh_repo: Repo, ipfs_node: IpfsNode, artefact: Path, tmp_path: Path
) -> None:
    published = publish(node_repo, PublishRequest([artefact], name="digits", store="ipfs"))
    with IpfsStore(ipfs_node.api) as node:
        assert node.pinned(published.cid)
    assert node_dag_get(ipfs_node, f"{published.cid}/name") == "digits"
    assert node_dag_get(ipfs_node, f"{published.cid}/version") == "1"

    pulled = pull(fresh_repo, PullRequest(published.cid, tmp_path / "out", store="ipfs"))
    for entry in pulled.files:
        assert (tmp_path / "out" / entry.path).read_bytes() == (artefact.parent / entry.path).read_bytes()
        assert fresh_repo.store.has(entry.cid)  # cached: the next pull needs no node
    assert pull(fresh_repo, PullRequest(published.cid, tmp_path / "again", store="local")).manifest.cid == published.cid


def test_file_gets_the_same_cid_in_the_local_store_and_on_the_node(
    node_repo: Repo, fresh_repo: Repo, artefact: Path
) -> None:
    on_node = node_repo.show(publish(node_repo, PublishRequest([artefact], name="a", store="ipfs")).cid)
    local_only = fresh_repo.show(publish(fresh_repo, PublishRequest([artefact], name="a", store="local")).cid)
    assert on_node.files == local_only.files
    assert on_node.tree == local_only.tree


def test_no_pin_leaves_the_dag_unpinned(node_repo: Repo, ipfs_node: IpfsNode, artefact: Path) -> None:
    published = publish(node_repo, PublishRequest([artefact], name="unpinned", store="ipfs", pin=False))
    with IpfsStore(ipfs_node.api) as node:
        assert node.has(published.cid)
        assert not node.pinned(published.cid)


def test_history_published_locally_reaches_the_node_with_the_next_version(
    node_repo: Repo, fresh_repo: Repo, artefact: Path, tmp_path: Path
) -> None:
    first = publish(node_repo, PublishRequest([artefact], name="hist", store="local"))
    random_file(artefact / "weights.bin", 1_000_000, seed=12)
    second = publish(
        node_repo, PublishRequest([artefact], name="hist", store="ipfs")
    )  # pinning needs v1's whole DAG on the node
    assert pull(fresh_repo, PullRequest(first.cid, tmp_path / "v1", store="ipfs")).manifest.version == "1"
    assert pull(fresh_repo, PullRequest(second.cid, tmp_path / "v2", store="ipfs")).manifest.parents == [first.cid]


def test_republishing_unchanged_content_to_the_node_puts_it_there(
    node_repo: Repo, fresh_repo: Repo, artefact: Path, tmp_path: Path
) -> None:
    local = publish(node_repo, PublishRequest([artefact], name="late", store="local"))
    again = publish(node_repo, PublishRequest([artefact], name="late", store="ipfs"))
    assert (again.cid, again.created) == (local.cid, False)
    assert pull(fresh_repo, PullRequest(local.cid, tmp_path / "out", store="ipfs")).manifest.name == "late"


def test_cli_publish_and_pull_through_the_node(cli: Any, ipfs_node: IpfsNode, artefact: Path, tmp_path: Path) -> None:
    env = {"ZKREG_IPFS_API": ipfs_node.api}
    assert cli("init").code == 0
    published = cli("publish", str(artefact), "--name", "cli-digits", "--json", env=env)
    assert published.code == 0, published.stderr
    cid = published.json()["cid"]

    other = tmp_path / "other-home"
    assert cli("init", home_dir=other).code == 0
    pulled = cli("pull", cid, "-o", str(tmp_path / "got"), "--store", "ipfs", "--json", home_dir=other, env=env)
    assert pulled.code == 0, pulled.stderr
    assert (tmp_path / "got" / "artefact" / "weights.bin").read_bytes() == (artefact / "weights.bin").read_bytes()


def test_cli_pull_from_node_that_flips_a_byte_exits_4_and_caches_nothing(
    cli: Any, node_repo: Repo, ipfs_node: IpfsNode, artefact: Path, tmp_path: Path
) -> None:
    """Pull streams each file's DAG as the node's CAR export; the proxy flips the middle byte of that stream."""
    published = publish(node_repo, PublishRequest([artefact], name="lied-about", store="ipfs"))
    weights = node_repo.show(published.cid).files["artefact/weights.bin"]
    flipped_block = _block_holding_the_middle_byte(ipfs_node, weights)
    proxy = FaultProxy(ipfs_node.url)
    proxy.flip_byte_in = f"dag/export?arg={weights}"
    home = tmp_path / "victim"
    try:
        assert cli("init", home_dir=home).code == 0
        pull = ("pull", published.cid, "-o", str(tmp_path / "out"), "--store", "ipfs")
        result = cli(*pull, home_dir=home, env={"ZKREG_IPFS_API": proxy.api})
    finally:
        proxy.close()
    assert result.code == 4, result.stderr
    assert "integrity/cid-mismatch" in result.stderr
    assert "Traceback" not in result.stderr
    assert proxy.flipped == 1
    assert not (tmp_path / "out" / "artefact").exists()
    victim = Repo.open(home)
    assert not victim.store.has(flipped_block)
    victim.close()
    honest = cli(*pull, home_dir=home, env={"ZKREG_IPFS_API": ipfs_node.api})  # the same pull from the real node
    assert honest.code == 0, honest.stderr
    assert (tmp_path / "out" / "artefact" / "weights.bin").read_bytes() == (artefact / "weights.bin").read_bytes()


def _block_holding_the_middle_byte(node: IpfsNode, root: str) -> str:
    """The CID of the CAR section that holds the middle byte of the node's export of `root`."""
    with IpfsStore(node.api) as store:
        car = io.BytesIO()
        store.export_car(root, car)
    middle = len(car.getvalue()) // 2
    car.seek(0)
    read_roots(car)
    start = car.tell()
    for cid, _ in read_blocks(car):
        if start <= middle < car.tell():
            return cid
        start = car.tell()
    raise AssertionError("the middle byte is in the CAR header")


def test_cli_publish_with_node_down_exits_6_names_the_address_and_records_nothing(cli: Any, artefact: Path) -> None:
    address = f"/ip4/127.0.0.1/tcp/{free_port()}"
    assert cli("init").code == 0
    result = cli("publish", str(artefact), "--name", "nowhere", "--json", env={"ZKREG_IPFS_API": address})
    assert result.code == 6
    assert result.json()["error"]["code"] == "backend/unavailable"
    assert address in result.json()["error"]["message"]
    assert "Traceback" not in result.stderr
    assert cli("ls", "--json").json() == []


@pytest.mark.slow
def test_node_killed_mid_upload_exits_6_and_rerunning_publish_completes(
    cli: Any, own_ipfs_node: Callable[[], IpfsNode], tmp_path: Path
) -> None:
    node = own_ipfs_node()
    big = tmp_path / "big"
    big.mkdir()
    random_file(big / "model.bin", 24 * 1024 * 1024, seed=13)
    proxy = FaultProxy(node.url)
    proxy.after_upload_bytes = (6 * 1024 * 1024, node.kill)
    assert cli("init").code == 0
    try:
        killed = cli("publish", str(big), "--name", "big", "--store", "ipfs", env={"ZKREG_IPFS_API": proxy.api})
    finally:
        proxy.close()
    assert killed.code == 6, killed.stderr
    assert "backend/unavailable" in killed.stderr
    assert "Traceback" not in killed.stderr
    assert cli("ls", "--json").json() == []

    node.restart_after_crash()
    rerun = cli("publish", str(big), "--name", "big", "--store", "ipfs", "--json", env={"ZKREG_IPFS_API": node.api})
    assert rerun.code == 0, rerun.stderr
    cid = rerun.json()["cid"]
    assert [entry["cid"] for entry in cli("ls", "--json").json()] == [cid]
    with IpfsStore(node.api) as store:
        assert store.pinned(cid)


def test_cli_pull_from_a_node_too_slow_to_answer_exits_6(
    cli: Any, node_repo: Repo, ipfs_node: IpfsNode, artefact: Path, tmp_path: Path
) -> None:
    published = publish(node_repo, PublishRequest([artefact], name="slow", store="ipfs"))
    proxy = FaultProxy(ipfs_node.url)
    proxy.delay_s = 5.0
    try:
        assert cli("init").code == 0
        result = cli(
            "pull",
            published.cid,
            "-o",
            str(tmp_path / "out"),
            "--json",
            env={"ZKREG_IPFS_API": proxy.api, "ZKREG_IPFS_TIMEOUT": "0.5"},
        )
    finally:
        proxy.close()
    assert result.code == 6, result.stderr
    assert "did not answer in time" in result.json()["error"]["message"]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.bin"))


def test_unknown_store_is_a_clear_error(cli: Any, artefact: Path) -> None:
    assert cli("init").code == 0
    result = cli("publish", str(artefact), "--name", "x", "--store", "s3", "--json")
    assert result.code == 1
    assert result.json()["error"]["code"] == "input/bad-store"


@pytest.mark.parametrize("profile", ["unixfs-v1-2025", "unixfs-v0-2015", "kubo-v1-legacy"])
def test_each_cid_profile_through_the_node_stores_the_blocks_zkreg_computed(
    node_repo: Repo, ipfs_node: IpfsNode, tmp_path: Path, profile: str
) -> None:
    """unixfs-v1-2025 goes up block by block (`/add` cannot set 1024 links per node), the others through `/add`;
    either way the node then holds our DAG and reads the file back from it."""
    data = random_file(tmp_path / "w.bin", 2_600_000, seed=40)
    published = publish(node_repo, PublishRequest([data], name=f"w-{profile}", store="ipfs", cid_profile=profile))
    manifest = node_repo.show(published.cid)
    file_cid = manifest.files["w.bin"]
    shown = as_version(file_cid, profile_named(profile).cid_version)
    with IpfsStore(ipfs_node.api) as node:
        assert node.pinned(published.cid)
        for cid in walk(node_repo.store.get_block, [manifest.tree]):
            assert node.get_block(cid) == node_repo.store.get_block(cid)
    cat = httpx.post(f"{ipfs_node.url}/api/v0/cat", params={"arg": shown}, trust_env=False, timeout=60)
    assert cat.content == data.read_bytes()
