"""`Repo`: the composition root. It owns one data dir's open stores and hands them to the workflows in `zkreg.app`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from zkreg.config import load_config
from zkreg.errors import BadStore, HomeNotFound, ManifestNotFound, NotFound, RefNotFound
from zkreg.home import default_home
from zkreg.identity import Identity, create_identity, load_identity
from zkreg.registry.cid import looks_like_cid
from zkreg.registry.index import Index, open_index
from zkreg.registry.manifest import Manifest, decode_and_verify
from zkreg.registry.store import LocalStore
from zkreg.reputation.ledger import Ledger, open_ledger
from zkreg.zk.workflow import ZkWorkspace

if TYPE_CHECKING:
    from zkreg.registry.ipfs import IpfsStore

STORES = ("local", "ipfs")


@dataclass(frozen=True)
class RefEntry:
    name: str
    version: str
    cid: str
    kind: str
    author: str
    created: str


class Repo:
    """One data dir: an identity, the local blockstore, the index of refs, the ledger and the zk workspace.

    A context manager: `with Repo.open(home) as repo:` closes the index and the ledger once, on the way out."""

    def __init__(self, home: Path, passphrase: str | None = None) -> None:
        self.home = home
        self._passphrase = passphrase
        self._identity: Identity | None = None
        self.index: Index = open_index(home / "index.db")
        self.store = LocalStore(home / "blocks", self.index)
        self.store.remove_stale_temporaries()
        self._ledger: Ledger | None = None
        self.ipfs_api: str | None = None
        """The IPFS node's API address for `store="ipfs"`; default: ZKREG_IPFS_API, then `config.toml`'s
        `ipfs.api`, then 127.0.0.1:5001."""

    @classmethod
    def open(cls, home: Path | None = None, passphrase: str | None = None) -> Repo:
        home = home or default_home()
        if not home.exists():
            raise HomeNotFound(f"no zkreg data dir at {home}", hint="run `zkreg init`")
        return cls(home, passphrase)

    @classmethod
    def init(cls, home: Path | None = None, passphrase: str | None = None) -> Repo:
        home = home or default_home()
        create_identity(home, passphrase)
        return cls(home, passphrase)

    def close(self) -> None:
        self.index.close()
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None

    def __enter__(self) -> Repo:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    @property
    def identity(self) -> Identity:
        if self._identity is None:
            self._identity = load_identity(self.home, self._passphrase)
        return self._identity

    @property
    def ledger(self) -> Ledger:
        """The signed feeds this peer holds (`ledger.db` in the data dir)."""
        if self._ledger is None:
            self._ledger = open_ledger(self.home / "ledger.db")
        return self._ledger

    def zk_workspace(self) -> ZkWorkspace:
        return ZkWorkspace(self.home, self.store)

    def node(self, store: str | None) -> IpfsStore | None:
        """The IPFS node for `store`, caching into our store (the caller closes it). Without `store`: ipfs if
        ZKREG_IPFS_API is set, else what `config.toml` says (`store`, or ipfs if it names a node's `ipfs.api`),
        else local (None)."""
        from zkreg.registry.ipfs import API_ENV, IpfsStore  # local: httpx (~50 ms) only for an IPFS node

        config = load_config(self.home)
        env_api = os.environ.get(API_ENV)
        choice = store or ("ipfs" if env_api else config.store or ("ipfs" if config.ipfs_api else "local"))
        if choice not in STORES:
            raise BadStore(f"--store must be one of {', '.join(STORES)}")
        if choice == "local":
            return None
        return IpfsStore(self.ipfs_api or env_api or config.ipfs_api, cache=self.store)

    # ---- refs ----------------------------------------------------------------------------------------------

    def resolve(self, ref: str) -> str:
        """A manifest CID for `CID`, `name@version` or `name` (its latest version)."""
        if looks_like_cid(ref):
            return ref
        name, _, version = ref.partition("@")
        if version:
            cid = self.index.ref_cid(name, version)
        else:
            latest = self.index.latest_ref(name)
            cid = None if latest is None else latest.cid
        if cid is None:
            raise RefNotFound(f"unknown ref {ref!r}", hint="`zkreg ls` lists known names")
        return cid

    def knows_ref(self, ref: str) -> bool:
        """Whether `ref` resolves here to a held manifest (a CID this store holds, or a recorded name)."""
        try:
            return self.store.has(self.resolve(ref))
        except NotFound:
            return False

    def ls(self) -> list[RefEntry]:
        return [RefEntry(**ref._asdict()) for ref in self.index.refs()]

    # ---- manifests -----------------------------------------------------------------------------------------

    def manifest(self, cid: str) -> Manifest:
        if not self.store.has(cid):
            raise ManifestNotFound(f"manifest {cid} is not in the local store")
        return decode_and_verify(cid, self.store.get_block(cid))

    def show(self, ref: str) -> Manifest:
        return self.manifest(self.resolve(ref))

    def log(self, ref: str) -> list[Manifest]:
        """The history of a name (or of the version a ref names), newest first, following `parents`."""
        history: list[Manifest] = []
        seen: set[str] = set()
        next_cid: str | None = self.resolve(ref)
        while next_cid is not None and next_cid not in seen:
            seen.add(next_cid)
            manifest = self.manifest(next_cid)
            history.append(manifest)
            next_cid = manifest.parents[0] if manifest.parents else None
        return history
