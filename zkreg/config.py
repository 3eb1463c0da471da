"""The data dir's optional settings file, `config.toml`. Environment variables override it; flags override both.

    store = "ipfs"                      # default store for publish and pull: "local" | "ipfs"
    cid_profile = "unixfs-v1-2025"      # default CID profile of new names: "unixfs-v1-2025" | "unixfs-v0-2015" |
                                        # "kubo-v1-legacy" (a name already published keeps its manifest's)
    [ipfs]
    api = "/ip4/127.0.0.1/tcp/5001"     # the node's RPC API; setting it makes "ipfs" the default store

Unknown keys are refused, so a typo is an error rather than a silently ignored setting.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from zkreg.errors import ConfigInvalid

CONFIG_FILE = "config.toml"


@dataclass(frozen=True)
class Config:
    store: str | None = None
    ipfs_api: str | None = None
    cid_profile: str | None = None


def load_config(home: Path) -> Config:
    path = home / CONFIG_FILE
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        return Config()
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as exc:
        raise ConfigInvalid(f"cannot read {path}: {exc}") from exc
    ipfs = data.pop("ipfs", {})
    store = data.pop("store", None)
    cid_profile = data.pop("cid_profile", None)
    api = ipfs.pop("api", None) if isinstance(ipfs, dict) else None
    unknown = [*data, *(f"ipfs.{key}" for key in ipfs)] if isinstance(ipfs, dict) else ["ipfs"]
    if unknown:
        raise ConfigInvalid(f"{path}: unknown setting(s) {', '.join(unknown)}")
    if not all(isinstance(value, str | None) for value in (store, api, cid_profile)):
        raise ConfigInvalid(f"{path}: `store`, `cid_profile` and `ipfs.api` must be strings")
    return Config(store=store, ipfs_api=api, cid_profile=cid_profile)
