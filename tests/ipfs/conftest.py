"""The IPFS node fixtures: one real node per test session, and fresh nodes for tests that kill theirs."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from tests.ipfs.node import JSIPFS, IpfsNode, start_node
from zkreg.registry.ipfs import IpfsStore


def _node_missing() -> None:
    message = f"no IPFS node: {JSIPFS} is not installed (`make test` installs it) and ZKREG_TEST_IPFS_API is unset"
    if os.environ.get("ZKREG_REQUIRE_IPFS") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def ipfs_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IpfsNode]:
    external = os.environ.get("ZKREG_TEST_IPFS_API")
    if external:
        yield IpfsNode(api=external)
        return
    if not JSIPFS.exists():
        _node_missing()
    node = start_node(tmp_path_factory.mktemp("ipfs-node"))
    yield node
    node.stop()


@pytest.fixture
def own_ipfs_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], IpfsNode]]:
    """Start a node of this test's own (for tests that kill it); every node started is stopped at the end."""
    if not JSIPFS.exists():
        _node_missing()
    started: list[IpfsNode] = []

    def start() -> IpfsNode:
        node = start_node(tmp_path_factory.mktemp("own-ipfs-node"))
        started.append(node)
        return node

    yield start
    for node in started:
        node.stop()


@pytest.fixture
def node_store(ipfs_node: IpfsNode) -> Iterator[IpfsStore]:
    with IpfsStore(ipfs_node.api) as store:
        yield store
