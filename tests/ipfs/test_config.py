"""`config.toml` in the data dir chooses the IPFS node and the default store; env and flags override it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ipfs.helpers import free_port, random_file
from tests.ipfs.node import IpfsNode
from zkreg.api import PublishRequest, Repo, VerifyRequest, publish, verify
from zkreg.errors import BackendUnavailable, InvalidInput
from zkreg.registry.ipfs import API_ENV, IpfsStore


def write_config(repo: Repo, text: str) -> None:
    (repo.home / "config.toml").write_text(text)


@pytest.fixture(autouse=True)
def no_env_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(API_ENV, raising=False)


def test_config_naming_a_node_publishes_to_it(repo: Repo, ipfs_node: IpfsNode, tmp_path: Path) -> None:
    write_config(repo, f'[ipfs]\napi = "{ipfs_node.api}"\n')
    published = publish(repo, PublishRequest([random_file(tmp_path / "w.bin", 300_000, seed=41)], name="configured"))
    with IpfsStore(ipfs_node.api) as node:
        assert node.pinned(published.cid)


def test_config_store_local_keeps_publishes_off_the_node(repo: Repo, tmp_path: Path) -> None:
    dead = f"/ip4/127.0.0.1/tcp/{free_port()}"
    write_config(repo, f'store = "local"\n[ipfs]\napi = "{dead}"\n')
    published = publish(repo, PublishRequest([random_file(tmp_path / "w.bin", 1000, seed=42)], name="local-only"))
    assert verify(repo, VerifyRequest(published.cid)).bytes == 1000


def test_config_node_down_is_exit_6_naming_the_address_and_records_nothing(repo: Repo, tmp_path: Path) -> None:
    dead = f"/ip4/127.0.0.1/tcp/{free_port()}"
    write_config(repo, f'[ipfs]\napi = "{dead}"\n')
    with pytest.raises(BackendUnavailable) as caught:
        publish(repo, PublishRequest([random_file(tmp_path / "w.bin", 1000, seed=43)], name="nowhere"))
    assert caught.value.exit_code == 6
    assert "127.0.0.1" in caught.value.message
    assert repo.ls() == []


def test_environment_overrides_the_config(
    repo: Repo, ipfs_node: IpfsNode, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(repo, f'[ipfs]\napi = "/ip4/127.0.0.1/tcp/{free_port()}"\n')
    monkeypatch.setenv(API_ENV, ipfs_node.api)
    published = publish(repo, PublishRequest([random_file(tmp_path / "w.bin", 2000, seed=44)], name="from-env"))
    with IpfsStore(ipfs_node.api) as node:
        assert node.pinned(published.cid)


@pytest.mark.parametrize(
    "text", ["store = 'ipfs'\n[ipfs]\napy = 'typo'\n", "colour = 'blue'\n", "store = 3\n", "[ipfs\n", "ipfs = 1\n"]
)
def test_malformed_or_unknown_config_is_a_clear_error(repo: Repo, tmp_path: Path, text: str) -> None:
    write_config(repo, text)
    with pytest.raises(InvalidInput) as caught:
        publish(repo, PublishRequest([random_file(tmp_path / "w.bin", 10, seed=45)], name="x"))
    assert caught.value.code == "config/invalid"
    assert repo.ls() == []
