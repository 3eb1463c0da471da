"""Golden vectors: deterministic inputs, and the CIDs recorded for them in tests/vectors/.

`pytest --update-goldens` rewrites the JSON from aleph-cid (an independent implementation that matched a real
Kubo node) and the DAG-CBOR encodings from `dag_cbor` (an independent pure Python codec), never from zkreg's own
code, so a bug in our importer or encoder cannot bless itself.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).parent / "vectors"
KIB = 1024

FILE_SIZES = {
    "empty": 0,
    "one-byte": 1,
    "one-chunk": 256 * KIB,
    "one-chunk-plus-one": 256 * KIB + 1,
    "two-level-tree": 174 * 256 * KIB + 1,
}

DIRECTORY = {
    "a.csv": b"x,y\n1,2\n",
    "b/model.onnx": b"\x08\x07",
    "b/c/deep.txt": b"deep\n",
    "empty.txt": b"",
    "z-large.bin": random.Random(5).randbytes(300 * KIB),
}


def content(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def write_directory(root: Path) -> Path:
    for rel, data in DIRECTORY.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


LINKED = "bafyreifb7tsdmocu76eiz72lrz4hlvqayjuchecbfkgppgzx2cyrcsfq7i"
LINKED_RAW = "bafkreibnoelefnzgwbcacyt4vh52ymxvzbjq7mmqhtcnwarfq4lzegsiqe"


def dag_cbor_documents(link: Callable[[str], Any]) -> dict[str, Any]:
    """Documents of the shapes zkreg signs, and the edges of canonical form; `link` makes a codec's CID link."""
    manifest_body = {
        "schema": "zkreg/manifest/1",
        "kind": "model",
        "name": "mnist",
        "version": "1.0.0",
        "created": "2026-01-01T00:00:00Z",
        "author": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        "files": {"model.onnx": {"cid": link(LINKED_RAW), "size": 12345}, "a": {"cid": link(LINKED), "size": 0}},
        "tree": link(LINKED),
        "parents": [link(LINKED)],
        "weights": "public",
        "metrics": {},
        "zk": {"settings": link(LINKED_RAW), "mode": "public", "logrows": 17},
        "price": 3,
    }
    entry_body = {
        "author": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        "seq": 1 << 40,
        "prev": None,
        "ts": 1_767_225_600_000,
        "type": "receipt",
        "body": {"request": "r-1", "proof": link(LINKED), "output_hash": "ab" * 32},
    }
    return {
        "manifest-body": manifest_body,
        "manifest-signed": {**manifest_body, "sig": bytes(range(64))},
        "entry-signed": {**entry_body, "sig": bytes(range(64, 128))},
        "car-header": {"roots": [link(LINKED), link(LINKED_RAW)], "version": 1},
        "key-order": {"bb": 1, "a": 2, "ab": 3, "b": 4, "aaa": 5, "é": 6, "": 7},
        "integers": [0, 23, 24, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**64 - 1, -1, -24, -25, -256, -(2**64)],
        "strings": ["", "a" * 23, "a" * 24, "a" * 256, "zkreg ✓ 𝔷"],
        "bytes": [b"", b"\x00" * 24, b"\xff" * 256],
        "simple": [True, False, None, [], {}, [[[]]]],
    }


def load(name: str) -> Any:
    return json.loads((VECTORS / f"{name}.json").read_text())


def regenerate(tmp: Path) -> None:
    import aleph_cid

    files = {}
    for name, size in FILE_SIZES.items():
        hasher = aleph_cid.CidHasher.for_ipfs_v1_raw_leaves()
        hasher.update(content(size))
        files[name] = {"size": size, "seed": 0, "cid": hasher.finalize()}
    directory = aleph_cid.hash_folder(str(write_directory(tmp / "dir")), cid_version=1, follow_symlinks=False)
    VECTORS.mkdir(exist_ok=True)
    (VECTORS / "unixfs-files.json").write_text(json.dumps(files, indent=2) + "\n")
    (VECTORS / "unixfs-directory.json").write_text(json.dumps({"cid": directory}, indent=2) + "\n")
    regenerate_dag_cbor()


def regenerate_dag_cbor() -> None:
    import dag_cbor
    from multiformats import CID

    documents = dag_cbor_documents(CID.decode)
    encodings = {name: dag_cbor.encode(document).hex() for name, document in documents.items()}
    (VECTORS / "dag-cbor.json").write_text(json.dumps(encodings, indent=2) + "\n")
