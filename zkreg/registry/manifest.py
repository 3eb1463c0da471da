"""Signed manifests: the DAG-CBOR commitment that binds a published artefact's files, history and author.

A manifest is a DAG-CBOR map (schema `zkreg/manifest/1`), its CID links encoded as IPLD links (tag 42), plus
`sig`: the author's Ed25519 signature over the DAG-CBOR encoding of the map without `sig`. Its CID is the
commitment. Decoding is strict: the block must hash to its CID, re-encode to the same bytes (canonical form, no
duplicate keys), match the JSON Schema and carry a valid signature by `author`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from zkreg.codecs import dagcbor
from zkreg.errors import MalformedObject
from zkreg.identity import Identity, verify_signature
from zkreg.registry.cid import DAG_CBOR, check_block, compute
from zkreg.schemas import validate

SCHEMA_ID = "zkreg/manifest/1"
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
ZK_LINKS = ("settings", "vk", "srs")
LEGACY_PROFILE = "kubo-v1-legacy"


@dataclass(frozen=True)
class Manifest:
    """A verified manifest. CIDs are base32 strings."""

    cid: str
    kind: str
    name: str
    version: str
    created: str
    author: str
    files: dict[str, str]
    sizes: dict[str, int]
    tree: str
    parents: list[str]
    weights: str
    dataset: str | None = None
    message: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    zk: dict[str, Any] | None = None
    """Zero-knowledge artefacts (see `zkreg.zk`): settings, vk and SRS CIDs as strings, mode, commitment."""
    price: int | None = None
    """Credits per proof its author's `zkreg serve` asks (None: the server's default, 1)."""
    cid_profile: str = LEGACY_PROFILE
    """The CID profile (IPIP-499) of its files and tree; a manifest from before profiles has none: kubo-v1-legacy."""

    def to_json(self) -> dict[str, Any]:
        return {
            "cid": self.cid,
            "schema": SCHEMA_ID,
            "kind": self.kind,
            "name": self.name,
            "version": self.version,
            "created": self.created,
            "author": self.author,
            "files": {path: {"cid": cid, "size": self.sizes[path]} for path, cid in self.files.items()},
            "tree": self.tree,
            "parents": self.parents,
            "weights": self.weights,
            "dataset": self.dataset,
            "message": self.message,
            "metrics": self.metrics,
            "zk": self.zk,
            "price": self.price,
            "cid_profile": self.cid_profile,
        }


def _unlink(value: Any) -> str:
    if not dagcbor.is_link(value):
        raise MalformedObject("manifest field that should be a CID link is not one")
    return dagcbor.unlink(value)


def build_and_sign(
    identity: Identity,
    *,
    kind: str,
    name: str,
    version: str,
    created: str,
    files: dict[str, tuple[str, int]],
    tree: str,
    parents: list[str],
    weights: str,
    dataset: str | None,
    message: str | None,
    zk: dict[str, Any] | None = None,
    price: int | None = None,
    cid_profile: str | None = None,
) -> tuple[str, bytes]:
    """The manifest block and its CID."""
    body: dict[str, Any] = {
        "schema": SCHEMA_ID,
        "kind": kind,
        "name": name,
        "version": version,
        "created": created,
        "author": identity.did,
        "files": {path: {"cid": dagcbor.link(cid), "size": size} for path, (cid, size) in files.items()},
        "tree": dagcbor.link(tree),
        "parents": [dagcbor.link(parent) for parent in parents],
        "weights": weights,
        "metrics": {},
    }
    if dataset is not None:
        body["dataset"] = dagcbor.link(dataset)
    if message:
        body["message"] = message
    if zk is not None:
        body["zk"] = {key: dagcbor.link(value) if key in ZK_LINKS else value for key, value in zk.items()}
    if price is not None:
        body["price"] = price
    if cid_profile is not None:
        body["cid_profile"] = cid_profile
    signature = identity.sign(dagcbor.encode(body))
    block = dagcbor.encode({**body, "sig": signature})
    return compute(DAG_CBOR, block), block


def decode_and_verify(cid: str, block: bytes) -> Manifest:
    """Check the block against its CID, its canonical form, the schema and the author's signature."""
    if len(block) > MAX_MANIFEST_BYTES:
        raise MalformedObject(f"manifest {cid} is larger than {MAX_MANIFEST_BYTES} bytes")
    check_block(cid, block)
    decoded: Any = dagcbor.decode(block, what=f"manifest {cid}")
    if not isinstance(decoded, dict):
        raise MalformedObject(f"manifest {cid} is not a DAG-CBOR map")
    validate("manifest.v1", _jsonable(decoded), what=f"manifest {cid}")
    signature = decoded.pop("sig")
    verify_signature(decoded["author"], dagcbor.encode(decoded), signature)
    files = decoded["files"]
    dataset = decoded.get("dataset")
    return Manifest(
        cid=cid,
        kind=decoded["kind"],
        name=decoded["name"],
        version=decoded["version"],
        created=decoded["created"],
        author=decoded["author"],
        files={path: _unlink(entry["cid"]) for path, entry in files.items()},
        sizes={path: entry["size"] for path, entry in files.items()},
        tree=_unlink(decoded["tree"]),
        parents=[_unlink(parent) for parent in decoded["parents"]],
        weights=decoded["weights"],
        dataset=None if dataset is None else _unlink(dataset),
        message=decoded.get("message"),
        metrics=_jsonable(decoded["metrics"]),
        zk=_unlink_zk(decoded.get("zk")),
        price=decoded.get("price"),
        cid_profile=decoded.get("cid_profile", LEGACY_PROFILE),
    )


def _unlink_zk(section: dict[str, Any] | None) -> dict[str, Any] | None:
    if section is None:
        return None
    return {key: _unlink(value) if key in ZK_LINKS else value for key, value in section.items()}


def _jsonable(value: Any) -> Any:
    """The JSON data model view of decoded DAG-CBOR, for schema validation (links as {"/": cid})."""
    if dagcbor.is_link(value):
        return {"/": dagcbor.unlink(value)}
    if isinstance(value, bytes):
        return {"/": {"bytes": value.hex()}}
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    return value
