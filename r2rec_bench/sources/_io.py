"""Reading raw files with errors that name the file, the line and the fix."""

from __future__ import annotations

import csv
import gzip
import io
import math
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from r2rec_bench.errors import UserError, at
from r2rec_bench.hashing import sha256_file
from r2rec_bench.sources.types import Catalog

__all__ = [
    "CatalogRecords",
    "numbered_lines",
    "open_text",
    "optional_text",
    "parse_numbers",
    "parse_price",
    "read_delimited",
    "require_file",
    "sha256_file",
    "show",
    "split_column",
    "string_list",
    "text_field",
]


def require_file(raw_dir: Path, *names: str, hint: str) -> Path:
    """The first of ``names`` that exists in ``raw_dir``; a UserError naming them if none."""
    for name in names:
        candidate = raw_dir / name
        if candidate.is_file():
            return candidate
    wanted = " or ".join(names)
    raise UserError(f"{raw_dir}: missing file {wanted}; {hint}")


def open_text(path: Path, encoding: str = "utf-8"):
    """Open a plain or gzip-compressed text file."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding=encoding, newline="")
    return open(path, encoding=encoding, newline="")


def read_delimited(
    path: Path,
    *,
    sep: str,
    columns: list[str],
    encoding: str = "utf-8",
    header_lines: int = 0,
    extra_columns_ok: bool = False,
) -> pd.DataFrame:
    """Read a delimited file into string columns, checking that every line has the fields.

    ``sep`` may be several characters (MovieLens-1M's ``::``); it is then rewritten to a
    single control character so that pandas' C parser, not its slow Python one, reads it.
    """
    separator_name = {"\t": "tab", ",": "comma", "|": "pipe", "::": "'::'"}.get(sep, repr(sep))
    expected = len(columns)
    try:
        if len(sep) > 1:
            with open_text(path, encoding) as handle:
                text = handle.read().replace(sep, "\x1f")
            source, c_sep = io.StringIO(text), "\x1f"
        else:
            source, c_sep = path, sep
        frame = pd.read_csv(
            source,
            sep=c_sep,
            header=None,
            skiprows=header_lines,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            quoting=csv.QUOTE_NONE,
            encoding=encoding,
            engine="c",
            skip_blank_lines=True,
            on_bad_lines="error",
        )
    except pd.errors.EmptyDataError:
        raise UserError(f"{path}: the file is empty; check that it is the right file") from None
    except pd.errors.ParserError as exc:
        raise UserError(
            f"{path}: {str(exc).strip()}; expected {expected} {separator_name}-separated fields "
            f"per line "
            f"({', '.join(columns)})"
        ) from None
    except UnicodeDecodeError as exc:
        raise UserError(
            f"{path}: byte {exc.start} is not valid {encoding}; is this the right file?"
        ) from None
    if frame.shape[1] < expected or (frame.shape[1] > expected and not extra_columns_ok):
        raise UserError(
            f"{at(path, header_lines + 1)}: found {frame.shape[1]} {separator_name}-separated "
            f"field(s), expected {expected} ({', '.join(columns)}); check the file and its "
            f"separator"
        )
    frame = frame.iloc[:, :expected]
    frame.columns = columns
    return frame


def parse_numbers(
    frame: pd.DataFrame,
    column: str,
    path: Path,
    *,
    header_lines: int = 0,
    integer: bool,
    field_label: str | None = None,
) -> np.ndarray:
    """Convert a string column to int64 or float64, naming the first bad line if any."""
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if integer and not len(bad):
        # Whole numbers only, and within int64: "978300760e15" parses but is no timestamp.
        bad = np.flatnonzero((values % 1 != 0) | (np.abs(values) >= 2.0**63))
    if len(bad):
        row = int(bad[0])
        label = field_label or column
        kind = "a whole number" if integer else "a number"
        raise UserError(
            f"{at(path, header_lines + row + 1)}: field {label!r} is "
            f"{show(frame[column].iloc[row])}, not {kind}; fix or remove that line"
        )
    return values.astype(np.int64) if integer else values


def split_column(values, separator: str) -> list[list[str]]:
    """Split each string of a column into a list, dropping empty parts."""
    return [[part for part in value.split(separator) if part] for value in values]


def numbered_lines(path: Path, encoding: str = "utf-8") -> Iterator[tuple[int, str]]:
    """The non-blank lines of a plain or gzip-compressed text file, numbered from 1.

    Decoding and decompression errors become a UserError naming the file.
    """
    number = 0
    try:
        with open_text(path, encoding) as handle:
            for number, line in enumerate(handle, 1):
                if not line.isspace():
                    yield number, line
    except UnicodeDecodeError:
        raise UserError(
            f"{path}: invalid {encoding} after line {number}; is this the right file?"
        ) from None
    except (OSError, EOFError, zlib.error) as exc:
        raise UserError(f"{path}: cannot be read ({exc}); download the file again") from None


def show(value: object, limit: int = 40) -> str:
    """A value's repr cut to ``limit`` characters, for one-line error messages (a hostile
    file may hold megabytes in one field: it is cut before it is copied)."""
    if isinstance(value, (str, bytes)) and len(value) > limit:
        value = value[:limit]
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def text_field(record: dict, key: str, where: str) -> str | None:
    """``record[key]`` as a string, None when absent, null or empty."""
    value = record.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise UserError(f"{where}: field {key!r} is {show(value)}, not a string; fix that line")
    return value


def optional_text(value: object) -> str | None:
    """An attribute string, stripped; None for anything else (attributes are best effort)."""
    if isinstance(value, str):
        return value.strip() or None
    return None


def string_list(value: object) -> list[str]:
    """An attribute list of strings, stripped; other elements and other values are dropped."""
    if not isinstance(value, list):
        return []
    return [part.strip() for part in value if isinstance(part, str) and part.strip()]


def parse_price(value: object) -> float | None:
    """A price as a float: a number, or a string such as ``"$12.99"``; None otherwise."""
    if isinstance(value, str):
        try:
            value = float(value.strip().lstrip("$").replace(",", ""))
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


class CatalogRecords:
    """Catalog entries collected line by line: the first titled entry of each id wins, and
    entries without an id or title, or repeating an id, are counted for the card's notes."""

    def __init__(self, specs) -> None:
        self.specs = tuple(specs)
        self.item_ids: list[str] = []
        self.titles: list[str] = []
        self.attributes: dict[str, list] = {spec.name: [] for spec in self.specs}
        self.seen: set[str] = set()
        self.missing = self.repeated = 0

    def add(self, item: str | None, title: str | None, **attributes) -> None:
        if item is None or title is None:
            self.missing += 1
        elif item in self.seen:
            self.repeated += 1
        else:
            self.seen.add(item)
            self.item_ids.append(item)
            self.titles.append(title)
            for name, values in self.attributes.items():
                values.append(attributes[name])

    def catalog(self):

        return Catalog(
            item_id=self.item_ids,
            title=self.titles,
            attributes=self.attributes,
            attribute_specs=self.specs,
        )

    def notes(self, missing: str, repeated: str) -> list[str]:
        """``missing`` and ``repeated`` are sentences with ``{n}`` for the count."""
        return [
            text.format(n=count)
            for text, count in ((missing, self.missing), (repeated, self.repeated))
            if count
        ]
