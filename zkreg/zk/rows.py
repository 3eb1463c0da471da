"""Row commitments: how a dataset commits to each of its rows so that an evaluation circuit can prove a row is one
of them, without the commitment letting anyone confirm a guessed row.

A row is encoded as one vector of `width` numbers: its features, its label one-hot (one column per class), then
`SALT_COLUMNS` salt values. Each number is quantised at `DATA_SCALE` (round(v * 2^7), through ezkl's own
`float_to_felt`, F32) and the row's commitment is the Poseidon hash ezkl computes for a `hashed` circuit input
over those field elements (`ezkl.poseidon_hash`; the evaluation circuit recomputes it in-circuit, and a test
pins that the two agree). A dataset's commitment is the list of its rows' hashes, published as a JSON file.

Private datasets draw each salt uniformly below 2^24 (the largest integer a float32 holds exactly at scale 0,
so the value survives ezkl's F32 input path): 6 salts give 144 secret bits per row, so hashing a guessed row
without the salt confirms nothing. The salts never leave the owner's data dir. Public datasets use zero salts:
their rows are public, and anyone can recompute their commitment from the published file.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from zkreg.errors import MalformedObject, PrivateRowsMissing
from zkreg.fsutil import atomic_write
from zkreg.zk.documents import parse_json, read_bounded
from zkreg.zk.table import Table

SCHEME = "zkreg/rows/1"
DATA_SCALE = 7
SALT_COLUMNS = 6
SALT_BOUND = 1 << 24
MAX_COMMITMENT_BYTES = 80 << 20
"""A commitment lists one 66-character hash (quoted, with a comma) per row, for at most a million rows."""


@dataclass(frozen=True)
class CommittedRows:
    """A table with the salts that blind its rows and the row hashes they give."""

    table: Table
    salts: tuple[tuple[int, ...], ...]
    hashes: tuple[str, ...]

    def vector(self, index: int) -> list[float]:
        return encode_row(self.table, index, self.salts[index])


def width(features: int, classes: int) -> int:
    return features + classes + SALT_COLUMNS


def encode_row(table: Table, index: int, salt: tuple[int, ...]) -> list[float]:
    one_hot = [0.0] * len(table.classes)
    one_hot[table.labels[index]] = 1.0
    return [*table.features[index], *one_hot, *(value / (1 << DATA_SCALE) for value in salt)]


def row_hash(vector: list[float]) -> str:
    from zkreg.zk.ezkl_backend import untyped_ezkl  # local: the proof system loads only where a hash is needed

    ezkl = untyped_ezkl()
    felts = [ezkl.float_to_felt(value, DATA_SCALE, ezkl.PyInputType.F32) for value in vector]
    hashes: list[str] = ezkl.poseidon_hash(felts)
    return hashes[0]


def commit(table: Table, *, private: bool) -> CommittedRows:
    """Salt (private: at random; public: zeros) and hash every row of `table`."""
    salts = tuple(
        tuple(secrets.randbelow(SALT_BOUND) if private else 0 for _ in range(SALT_COLUMNS)) for _ in table.labels
    )
    hashes = tuple(row_hash(encode_row(table, index, salt)) for index, salt in enumerate(salts))
    return CommittedRows(table, salts, hashes)


def commitment_bytes(rows: CommittedRows) -> bytes:
    return (json.dumps(list(rows.hashes), separators=(",", ":")) + "\n").encode()


def parse_commitment(data: bytes, *, what: str) -> tuple[str, ...]:
    """A published row commitment: a JSON list of distinct 64-hex-digit hashes."""
    document = parse_json(data, what=what, max_bytes=MAX_COMMITMENT_BYTES, error=MalformedObject)
    if not isinstance(document, list) or not all(
        isinstance(item, str) and len(item) == 64 and all(c in "0123456789abcdef" for c in item) for item in document
    ):
        raise MalformedObject(f"{what} is not a list of row hashes (64 hex digits each)")
    if len(set(document)) != len(document):
        raise MalformedObject(f"{what} lists a row hash twice")
    return tuple(document)


# ---- the owner's private copy ----------------------------------------------------------------------------------


def save_private(folder: Path, commitment_cid: str, rows: CommittedRows) -> Path:
    """Keep the rows and salts in the owner's data dir (mode 0600), found again by the commitment's CID."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    table = rows.table
    document = {
        "scheme": SCHEME,
        "columns": list(table.columns),
        "label": table.label,
        "classes": list(table.classes),
        "features": [list(row) for row in table.features],
        "labels": list(table.labels),
        "salts": [list(salt) for salt in rows.salts],
    }
    path = folder / f"{commitment_cid}.json"
    atomic_write(path, json.dumps(document).encode())
    os.chmod(path, 0o600)
    return path


def load_private(folder: Path, commitment_cid: str, hashes: tuple[str, ...]) -> CommittedRows:
    """The rows behind a commitment this data dir made, re-hashed against the published commitment."""
    path = folder / f"{commitment_cid}.json"
    if not path.is_file():
        raise PrivateRowsMissing(
            f"this data dir holds no rows for the dataset commitment {commitment_cid}",
            hint="only the data owner (the data dir that published it) can evaluate on a private dataset",
        )
    document = parse_json(
        read_bounded(path, what="private rows", max_bytes=1 << 30, error=MalformedObject),
        what=f"private rows {path}",
        max_bytes=1 << 30,
        error=MalformedObject,
    )
    table = Table(
        columns=tuple(document["columns"]),
        label=document["label"],
        classes=tuple(document["classes"]),
        features=tuple(tuple(float(value) for value in row) for row in document["features"]),
        labels=tuple(int(label) for label in document["labels"]),
    )
    salts = tuple(tuple(int(value) for value in salt) for salt in document["salts"])
    rows = CommittedRows(table, salts, hashes)
    return rows
