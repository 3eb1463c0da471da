"""Golden vectors: deterministic inputs, and the CIDs recorded for them in tests/vectors/.

`pytest --update-goldens` rewrites the JSON from aleph-cid (an independent implementation that matched a real
Kubo node), never from zkreg's own code, so a bug in our importer cannot bless itself.
"""

from __future__ import annotations

import json
import random
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
