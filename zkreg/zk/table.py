"""Labelled tables: the data files a dataset can be evaluated on, parsed once into a frozen, bounded `Table`.

Two formats: CSV with a header row (numeric feature columns and one label column, `label` or the last), and
`.npz` with a 2-D float array `x` and a 1-D array `y`. A label column of non-negative integers names class
indices directly; any other label column names classes, numbered in sorted order (`classes`). Every failure is
one `InvalidInput` subclass naming the row and column: a ragged row, a non-numeric or non-finite cell, a missing
label column, a file past the bounds.
"""

from __future__ import annotations

import csv
import io
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

from zkreg.errors import (
    DataFormatUnknown,
    DataMissingLabel,
    DataNotFinite,
    DataNotNumeric,
    DataRagged,
    DataTooLarge,
    InputTooLarge,
)
from zkreg.zk.documents import read_bounded

MAX_DATA_BYTES = 64 << 20
MAX_ROWS = 1_000_000
MAX_COLUMNS = 4096
MAX_CLASSES = 1024
FORMATS = (".csv", ".npz")


@dataclass(frozen=True)
class Table:
    """Rows of numeric features with a class label each."""

    columns: tuple[str, ...]
    """The feature columns' names, in order."""
    label: str
    classes: tuple[str, ...]
    """Class names by index: a label is an index into this."""
    features: tuple[tuple[float, ...], ...]
    labels: tuple[int, ...]

    @property
    def count(self) -> int:
        return len(self.labels)


def is_table(path: Path) -> bool:
    return path.suffix.lower() in FORMATS


def load_table(path: Path, label: str | None = None) -> Table:
    """The table in `path` (by its suffix), with `label` (default: the last column) as the class label."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise DataFormatUnknown(f"{path.name}: a data file must be .csv (header row) or .npz (arrays x, y)")
    try:
        data = read_bounded(path, what=f"data file {path.name}", max_bytes=MAX_DATA_BYTES, error=InputTooLarge)
    except InputTooLarge as exc:
        raise DataTooLarge(exc.message) from None
    if suffix == ".csv":
        return _parse_csv(data, path.name, label)
    if label is not None:
        raise DataMissingLabel(f"{path.name}: an .npz file's labels are its array y; --label applies to CSV")
    return _parse_npz(data, path.name)


def _parse_csv(data: bytes, name: str, label: str | None) -> Table:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataNotNumeric(f"{name}: not UTF-8 text") from None
    rows = list(csv.reader(io.StringIO(text)))
    rows = [row for row in rows if row]  # a trailing newline or blank line is no row
    if len(rows) < 2:
        raise DataRagged(f"{name}: a CSV data file needs a header row and at least one row")
    header = [cell.strip() for cell in rows[0]]
    if len(header) < 2 or len(header) > MAX_COLUMNS:
        raise DataRagged(f"{name}: needs 2 to {MAX_COLUMNS} columns (features and a label), found {len(header)}")
    if len(set(header)) != len(header):
        raise DataRagged(f"{name}: the header names a column twice")
    if len(rows) - 1 > MAX_ROWS:
        raise DataTooLarge(f"{name}: more than {MAX_ROWS} rows")
    label_name = label if label is not None else header[-1]
    if label_name not in header:
        raise DataMissingLabel(f"{name}: no label column {label_name!r} in the header ({', '.join(header)})")
    label_at = header.index(label_name)
    features: list[tuple[float, ...]] = []
    raw_labels: list[str] = []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise DataRagged(f"{name}: row {line} has {len(row)} cells, the header {len(header)}")
        values = []
        for column, cell in zip(header, row, strict=True):
            if column == label_name:
                continue
            values.append(_number(cell, f"{name}: row {line}, column {column!r}"))
        features.append(tuple(values))
        raw_labels.append(row[label_at].strip())
    classes, labels = _classes(raw_labels, name)
    return Table(
        columns=tuple(column for column in header if column != label_name),
        label=label_name,
        classes=classes,
        features=tuple(features),
        labels=labels,
    )


def _number(cell: str, where: str) -> float:
    try:
        value = float(cell.strip())
    except ValueError:
        raise DataNotNumeric(f"{where}: {cell.strip()[:40]!r} is not a number") from None
    if not math.isfinite(value):
        raise DataNotFinite(f"{where}: {cell.strip()!r} is not a finite number")
    return value


def _classes(raw: list[str], name: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Non-negative integer labels are class indices; other labels are names, numbered in sorted order."""
    if all(item.isdigit() for item in raw):
        indices = tuple(int(item) for item in raw)
        if max(indices) >= MAX_CLASSES:
            raise DataTooLarge(f"{name}: a class index of {max(indices)} (at most {MAX_CLASSES - 1})")
        return tuple(str(index) for index in range(max(indices) + 1)), indices
    names = sorted(set(raw))
    if len(names) > MAX_CLASSES:
        raise DataTooLarge(f"{name}: {len(names)} classes (at most {MAX_CLASSES})")
    if "" in names:
        raise DataMissingLabel(f"{name}: row {raw.index('') + 2} has an empty label")
    position = {item: index for index, item in enumerate(names)}
    return tuple(names), tuple(position[item] for item in raw)


def _parse_npz(data: bytes, name: str) -> Table:
    import numpy as np  # local: numpy is heavy and only data files and zk need it

    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            if "x" not in arrays.files or "y" not in arrays.files:
                raise DataMissingLabel(f"{name}: an .npz data file needs arrays x and y, found {arrays.files}")
            x, y = arrays["x"], arrays["y"]
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise DataNotNumeric(f"{name}: not a readable .npz file of numeric arrays: {exc}") from None
    if x.ndim != 2 or y.ndim != 1 or x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise DataRagged(f"{name}: x must be rows x features and y one label per row; got {x.shape} and {y.shape}")
    if x.shape[1] > MAX_COLUMNS or x.shape[0] > MAX_ROWS:
        raise DataTooLarge(f"{name}: at most {MAX_ROWS} rows of {MAX_COLUMNS} features")
    if x.dtype.kind not in "fiu" or y.dtype.kind not in "iu":
        raise DataNotNumeric(f"{name}: x must be numeric and y integer class indices (x {x.dtype}, y {y.dtype})")
    if not np.isfinite(x).all():
        row = int(np.argwhere(~np.isfinite(x))[0][0])
        raise DataNotFinite(f"{name}: x row {row} holds a value that is not a finite number")
    if (y < 0).any() or int(y.max()) >= MAX_CLASSES:
        raise DataTooLarge(f"{name}: class indices in y must be 0..{MAX_CLASSES - 1}")
    width = x.shape[1]
    labels = tuple(int(item) for item in y)
    return Table(
        columns=tuple(f"x{index}" for index in range(width)),
        label="y",
        classes=tuple(str(index) for index in range(max(labels) + 1)),
        features=tuple(tuple(float(value) for value in row) for row in x),
        labels=labels,
    )
