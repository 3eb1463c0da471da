"""IpfsStore against the real node: blocks per codec, files through /add, pins, and the node's faults."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dag_cbor
import httpx
import pytest

from tests.ipfs.helpers import free_port, random_file
from tests.ipfs.node import IpfsNode
from tests.ipfs.proxy import FaultProxy
from zkreg.errors import BackendUnavailable, CidMismatch, InvalidInput, NotFound
from zkreg.registry.cid import DAG_CBOR, DAG_PB, RAW, compute
from zkreg.registry.index import open_index
from zkreg.registry.ipfs import IpfsStore, api_url
from zkreg.registry.store import LocalStore
from zkreg.registry.unixfs import DIRECTORY_DATA, KUBO_V1_LEGACY, encode_node, import_stream


@pytest.fixture
def proxy(ipfs_node: IpfsNode) -> Iterator[FaultProxy]:
    fault_proxy = FaultProxy(ipfs_node.url)
    yield fault_proxy
    fault_proxy.close()


@pytest.fixture
def local(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "blocks", open_index(tmp_path / "index.db"))


@pytest.mark.parametrize(
    ("address", "url"),
    [
        ("/ip4/127.0.0.1/tcp/5001", "http://127.0.0.1:5001"),
        ("/ip4/10.0.0.2/tcp/5001/http", "http://10.0.0.2:5001"),
        ("/ip6/::1/tcp/5001", "http://[::1]:5001"),
        ("/dns4/ipfs.example/tcp/443/https", "https://ipfs.example:443"),
        ("http://127.0.0.1:5001/", "http://127.0.0.1:5001"),
    ],
)
def test_api_address_as_multiaddr_or_url(address: str, url: str) -> None:
    assert api_url(address) == url


@pytest.mark.parametrize("address", ["127.0.0.1:5001", "/ip4/127.0.0.1/udp/5001", "/ip4/127.0.0.1/tcp/x", "/unix/sock"])
def test_bad_api_address_is_an_input_error(address: str) -> None:
    with pytest.raises(InvalidInput):
        api_url(address)


def test_blocks_of_every_codec_round_trip_and_dag_get_shows_cbor(ipfs_node: IpfsNode, node_store: IpfsStore) -> None:
    manifest_like = dag_cbor.encode({"name": "mnist", "size": 3})
    blocks = {
        compute(RAW, b"raw bytes"): b"raw bytes",
        compute(DAG_PB, encode_node([], DIRECTORY_DATA)): encode_node([], DIRECTORY_DATA),
        compute(DAG_CBOR, manifest_like): manifest_like,
    }
    for cid, block in blocks.items():
        node_store.put_block(cid, block)
        assert node_store.get_block(cid) == block
        assert node_store.has(cid)
    cbor_cid = compute(DAG_CBOR, manifest_like)
    shown = httpx.post(f"{ipfs_node.url}/api/v0/dag/get", params={"arg": cbor_cid}, trust_env=False).json()
    assert shown == {"name": "mnist", "size": 3}


def test_put_file_streams_through_add_and_caches_the_same_blocks(
    node_store: IpfsStore, local: LocalStore, tmp_path: Path
) -> None:
    path = random_file(tmp_path / "weights.bin", 3 * 1024 * 1024 + 17, seed=1)
    node_store.cache = local
    imported = node_store.put_file(path, KUBO_V1_LEGACY)
    with path.open("rb") as stream:
        assert imported.cid == import_stream(stream, lambda cid, block: None).cid
    assert local.has(imported.cid)
    assert local.index.block_count() == 14  # 13 chunks + the root node
    assert b"".join(IpfsStore(node_store.address).iter_file(imported.cid, imported.size)) == path.read_bytes()


def test_pin_is_recursive_and_visible(node_store: IpfsStore, tmp_path: Path) -> None:
    imported = node_store.put_file(random_file(tmp_path / "a.bin", 600_000, seed=2), KUBO_V1_LEGACY)
    assert not node_store.pinned(imported.cid)
    node_store.pin(imported.cid)
    assert node_store.pinned(imported.cid)


def test_node_that_flips_a_byte_of_a_block_is_caught_and_nothing_cached(
    node_store: IpfsStore, proxy: FaultProxy, local: LocalStore
) -> None:
    cid = compute(RAW, b"the true bytes")
    node_store.put_block(cid, b"the true bytes")
    proxy.flip_byte_in = "block/get"
    with IpfsStore(proxy.api, cache=local) as lying, pytest.raises(CidMismatch):
        lying.get_block(cid)
    assert proxy.flipped == 1
    assert not local.has(cid)


def test_node_that_reports_another_cid_for_an_upload_is_refused(
    node_store: IpfsStore, proxy: FaultProxy, tmp_path: Path
) -> None:
    proxy.flip_byte_in = "/add"
    with IpfsStore(proxy.api) as lying, pytest.raises(CidMismatch, match="zkreg computed"):
        lying.put_file(random_file(tmp_path / "f.bin", 1000, seed=3), KUBO_V1_LEGACY)


def test_node_down_is_backend_unavailable_naming_the_address() -> None:
    address = f"/ip4/127.0.0.1/tcp/{free_port()}"
    with IpfsStore(address) as store, pytest.raises(BackendUnavailable, match=address) as raised:
        store.version()
    assert raised.value.exit_code == 6


def test_node_too_slow_is_backend_unavailable(proxy: FaultProxy) -> None:
    proxy.delay_s = 3.0
    with IpfsStore(proxy.api, timeout=0.5) as store, pytest.raises(BackendUnavailable, match="in time"):
        store.version()


def test_block_the_node_does_not_hold_is_not_found(ipfs_node: IpfsNode) -> None:
    with IpfsStore(ipfs_node.api, block_wait=0.5) as store:
        missing = compute(RAW, b"never stored anywhere")
        with pytest.raises(NotFound):
            store.get_block(missing)
        assert not store.has(missing)


def test_file_the_node_does_not_hold_is_not_found_without_waiting_on_an_export(
    ipfs_node: IpfsNode, local: LocalStore
) -> None:
    with IpfsStore(ipfs_node.api, cache=local, block_wait=0.5) as store:
        missing = compute(RAW, b"a file never added")
        with pytest.raises(NotFound, match="neither local nor on the IPFS node"):
            list(store.iter_file(missing))


def test_node_sending_more_than_any_block_can_hold_is_cut_off(
    node_store: IpfsStore, proxy: FaultProxy, local: LocalStore
) -> None:
    cid = compute(RAW, b"small block")
    node_store.put_block(cid, b"small block")
    proxy.pad_response_in = "block/get"
    with IpfsStore(proxy.api, cache=local) as flooding, pytest.raises(CidMismatch, match="sent more than"):
        flooding.get_block(cid)
    assert not local.has(cid)
