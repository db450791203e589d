"""Any interaction table (CSV, TSV or Parquet) whose columns the user maps to ours."""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from r2rec_bench.errors import UserError, at
from r2rec_bench.sources._io import require_file, sha256_file, show
from r2rec_bench.sources.types import AttributeSpec, Catalog, Interactions, RawLog

INTERACTION_KEYS = ("user", "item", "timestamp", "rating")
REQUIRED_KEYS = ("user", "item", "timestamp")
ITEM_KEYS = ("item", "title")
SEPARATORS = {".csv": ",", ".csv.gz": ",", ".tsv": "\t", ".tsv.gz": "\t"}
SEPARATOR_NAMES = {",": "comma", "\t": "tab"}
# Divisors from a datetime64 unit to seconds.
UNIT_PER_SECOND = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}
INT64_LIMIT = 2**63
# Numbers as a program writes them: a delimited column of these becomes an int or float
# attribute, while codes such as zip codes ("01234") stay strings.
_INTEGER = re.compile(r"-?(0|[1-9][0-9]*)")
_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")


def _table_kind(path: Path) -> str:
    """``parquet`` or the field separator of a delimited file, from the file name."""
    name = path.name.lower()
    if name.endswith(".parquet"):
        return "parquet"
    for suffix, separator in SEPARATORS.items():
        if name.endswith(suffix):
            return separator
    raise UserError(
        f"{path}: unknown table type; name the file .csv, .tsv (optionally .gz) or .parquet"
    )


def _format_name(path: Path) -> str:
    kind = _table_kind(path)
    return {"parquet": "parquet", ",": "csv", "\t": "tsv"}[kind]


def _row(path: Path, row: int) -> str:
    """Where row ``row`` (0-based, after the header) of a table is, for messages."""
    if _table_kind(path) == "parquet":
        return f"{path} row {row + 1}"
    return at(path, row + 2)


def _read_table(path: Path, wanted: dict[str, str], option: str) -> pd.DataFrame:
    """The columns ``wanted`` (our name -> file column) of a table, renamed to our names."""
    kind = _table_kind(path)
    try:
        if kind == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            try:
                found = pq.read_schema(path).names
                _check_columns(path, wanted, found, option, kind)
                frame = pq.read_table(
                    path, columns=list(dict.fromkeys(wanted.values()))
                ).to_pandas()
            except (pa.ArrowException, ValueError, TypeError) as exc:
                raise UserError(f"{path}: cannot be read as Parquet ({exc})") from None
        else:
            found = pd.read_csv(path, sep=kind, nrows=0, engine="c").columns.tolist()
            _check_columns(path, wanted, found, option, kind)
            frame = pd.read_csv(
                path,
                sep=kind,
                usecols=list(dict.fromkeys(wanted.values())),
                dtype=str,
                keep_default_na=False,
                engine="c",
            )
    except pd.errors.EmptyDataError:
        raise UserError(f"{path}: the file is empty; it needs a header row") from None
    except pd.errors.ParserError as exc:
        raise UserError(
            f"{path}: {str(exc).splitlines()[0]}; expected {SEPARATOR_NAMES[kind]}-separated "
            f"fields with a header row"
        ) from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: byte {exc.start} is not valid UTF-8; save it as UTF-8") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise UserError(f"{path}: cannot be read ({exc})") from None
    return pd.DataFrame({ours: frame[theirs] for ours, theirs in wanted.items()})


def _check_columns(path: Path, wanted: dict[str, str], found: list, option: str, kind: str) -> None:
    for ours, theirs in wanted.items():
        if theirs not in found:
            names = ", ".join(map(repr, found)) or "none"
            hint = ""
            if kind != "parquet" and len(found) == 1:
                hint = f" (is the file really {SEPARATOR_NAMES[kind]}-separated?)"
            raise UserError(
                f"{path}: no column {theirs!r} (option {option}[{ours!r}]); the file has "
                f"columns {names}{hint}; fix the {option} option"
            )


def _mapping(value: object, option: str, keys: tuple[str, ...], required: tuple[str, ...]) -> dict:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise UserError(
            f"option {option} must map names to column names, e.g. "
            f"{{'user': 'user_id', 'item': 'movie_id', 'timestamp': 'time'}}; got {show(value)}"
        )
    missing = [key for key in required if key not in value]
    unknown = [key for key in value if key not in keys] if option == "columns" else []
    if missing or unknown:
        problem = (
            f"lacks {', '.join(map(repr, missing))}"
            if missing
            else f"has unknown key(s) {', '.join(map(repr, unknown))}"
        )
        raise UserError(f"option {option} {problem}; its keys are {', '.join(keys)}")
    return dict(value)


def _texts(series: pd.Series) -> np.ndarray:
    """Values as an object array of str, '' where null; whole floats lose their '.0'."""
    if pd.api.types.is_string_dtype(series.dtype) and not series.isna().any():
        return series.to_numpy(dtype=object)
    whole = series.dropna()
    if (
        pd.api.types.is_float_dtype(series.dtype)
        and ((whole % 1 == 0) & (whole.abs() < 2**53)).all()
    ):
        series = series.astype("Int64")
    return np.array(["" if pd.isna(v) else str(v) for v in series.to_list()], dtype=object)


def _first_bad(path: Path, rows: np.ndarray, label: str, values, what: str) -> UserError:
    row = int(rows[0])
    return UserError(
        f"{_row(path, row)}: {label} is {show(values[row])}, not {what}; fix or remove that line"
    )


def _datetime_seconds(series: pd.Series) -> np.ndarray:
    """Floored seconds of a datetime column; zone-less times are taken as UTC."""
    if getattr(series.dtype, "tz", None) is not None:
        series = series.dt.tz_convert(None)
    ticks = series.to_numpy().view(np.int64)
    return ticks // UNIT_PER_SECOND[series.dt.unit]


def _seconds(
    series: pd.Series, path: Path, label: str, timestamp_format: str | None
) -> tuple[np.ndarray, np.ndarray]:
    """Whole seconds since the epoch (floored) and a mask of rows that have a timestamp."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        present = series.notna().to_numpy()
        return np.where(present, _datetime_seconds(series), 0), present
    numeric_units = timestamp_format in (None, "s", "ms")
    divisor = 1000 if timestamp_format == "ms" else 1
    if numeric_units and pd.api.types.is_integer_dtype(series.dtype):
        present = series.notna().to_numpy()
        return series.to_numpy(dtype=np.int64, na_value=0) // divisor, present
    text = _texts(series)
    present = text != ""
    seconds = np.zeros(len(text), dtype=np.int64)
    if numeric_units:
        numbers = pd.to_numeric(pd.Series(text[present], dtype=object), errors="coerce")
        # Integer columns stay integers: milliseconds beyond 2**53 would lose precision as floats.
        floored = (
            numbers.to_numpy() // divisor
            if pd.api.types.is_integer_dtype(numbers.dtype)
            else np.floor(numbers.to_numpy(dtype=np.float64) / divisor)
        )
        magnitude = np.abs(floored.astype(np.float64))
        bad = np.flatnonzero(~(magnitude < INT64_LIMIT))
        if len(bad):
            rows = np.flatnonzero(present)[bad]
            unit = "milliseconds" if divisor == 1000 else "seconds"
            raise _first_bad(path, rows, label, text, f"a number of {unit}")
        seconds[present] = floored.astype(np.int64)
        return seconds, present
    try:
        parsed = pd.to_datetime(
            pd.Series(text[present], dtype=object),
            format=timestamp_format,
            utc=True,
            errors="coerce",
        )
    except ValueError as exc:
        raise UserError(
            f"option timestamp_format {timestamp_format!r} is not usable ({exc}); give a "
            f"strftime format such as '%Y-%m-%d %H:%M:%S', 'ISO8601', 'ms' or leave it out"
        ) from None
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if len(bad):
        rows = np.flatnonzero(present)[bad]
        raise _first_bad(path, rows, label, text, f"a time in format {timestamp_format!r}")
    seconds[present] = _datetime_seconds(parsed)
    return seconds, present


def _ratings(series: pd.Series, path: Path, label: str) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    text = _texts(series)
    numbers = np.full(len(text), np.nan)
    present = np.flatnonzero(text != "")
    numbers[present] = pd.to_numeric(
        pd.Series(text[present], dtype=object), errors="coerce"
    ).to_numpy(dtype=np.float64)
    bad = present[np.isnan(numbers[present])]
    if len(bad):
        raise _first_bad(path, bad, label, text, "a number")
    return numbers


def _attribute(series: pd.Series) -> tuple[list, str]:
    """An item attribute column as Python values (None where missing) and its kind."""
    values = series.to_list()
    if any(isinstance(value, list | np.ndarray) for value in values):
        listed = [[str(p) for p in v] if isinstance(v, list | np.ndarray) else [] for v in values]
        return listed, "list"
    missing = series.isna().to_numpy()
    if pd.api.types.is_integer_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        return [None if m else int(v) for v, m in zip(values, missing, strict=True)], "int"
    if pd.api.types.is_float_dtype(series.dtype):
        return [None if m else float(v) for v, m in zip(values, missing, strict=True)], "float"
    text = [t or None for t in _texts(series)]
    present = [t for t in text if t is not None]
    if present and all(_INTEGER.fullmatch(t) for t in present):
        return [None if t is None else int(t) for t in text], "int"
    if present and all(_NUMBER.fullmatch(t) for t in present):
        return [None if t is None else float(t) for t in text], "float"
    return text, "str"


def _catalog(path: Path, item_columns: dict[str, str]) -> tuple[Catalog, list[str]]:
    items = _read_table(path, item_columns, "item_columns")
    ids = _texts(items["item"])
    titles = np.array([t.strip() for t in _texts(items["title"])], dtype=object)
    keep = (ids != "") & (titles != "")
    notes = []
    if (~keep).any():
        notes.append(
            f"{int((~keep).sum())} rows of {path.name} without an item id or title left out"
        )
    repeated = keep & pd.Series(ids).where(keep).duplicated().to_numpy()
    if repeated.any():
        notes.append(f"{int(repeated.sum())} repeated item ids of {path.name} ignored (first kept)")
    keep &= ~repeated
    attributes, specs = {}, []
    for name in item_columns:
        if name in ITEM_KEYS:
            continue
        values, kind = _attribute(items[name][keep].reset_index(drop=True))
        attributes[name] = values
        specs.append(AttributeSpec(name, kind))
    catalog = Catalog(
        item_id=ids[keep].tolist(),
        title=titles[keep].tolist(),
        attributes=attributes,
        attribute_specs=tuple(specs),
    )
    return catalog, notes


def read_tabular(
    raw_dir: Path,
    interactions: str,
    columns: Mapping[str, str],
    items: str | None = None,
    item_columns: Mapping[str, str] | None = None,
    timestamp_format: str | None = None,
) -> RawLog:
    """An interaction table and, optionally, an item table, in ``raw_dir``.

    - ``interactions``: file name (``.csv``, ``.tsv``, optionally ``.gz``, or ``.parquet``);
      delimited files need a header row and are read as UTF-8 with standard CSV quoting.
    - ``columns``: our name -> the file's column for ``user``, ``item`` and ``timestamp``,
      and optionally ``rating`` (NaN where absent).
    - ``timestamp_format``: None or ``"s"`` for numbers of seconds since the epoch,
      ``"ms"`` for milliseconds, otherwise a format for ``pandas.to_datetime`` (a strftime
      pattern such as ``"%Y-%m-%d %H:%M:%S"``, or ``"ISO8601"``); times without a zone
      are UTC; fractions of a second are floored. Parquet datetime columns need none.
    - ``items`` and ``item_columns``: the item table and our name -> its column for
      ``item`` and ``title``; every other key is an attribute named after the key, whose
      kind (int, float, str, or list for Parquet lists) is inferred from its values.
      Without an item table, each item's title is its id.

    Rows without a user, item or timestamp are left out, and so are item rows without an id
    or title; the notes count them.
    """
    mapping = _mapping(columns, "columns", INTERACTION_KEYS, REQUIRED_KEYS)
    if timestamp_format is not None and not isinstance(timestamp_format, str):
        raise UserError(f"option timestamp_format must be a string, not {show(timestamp_format)}")
    if items is None and item_columns is not None:
        raise UserError("option item_columns needs the option items (the item table's file)")
    hint = "check the file name (it is relative to --raw-dir)"
    inter_path = require_file(raw_dir, interactions, hint=hint)
    table = _read_table(inter_path, mapping, "columns")
    labels = {key: f"column {mapping[key]!r}" for key in mapping}
    users, item_ids = _texts(table["user"]), _texts(table["item"])
    seconds, dated = _seconds(table["timestamp"], inter_path, labels["timestamp"], timestamp_format)
    ratings = (
        _ratings(table["rating"], inter_path, labels["rating"])
        if "rating" in table
        else np.full(len(table), np.nan)
    )
    keep = (users != "") & (item_ids != "") & dated
    if not keep.any():
        raise UserError(f"{inter_path}: no row with a user, item and timestamp; check the file")
    notes = []
    if not keep.all():
        notes.append(
            f"{int((~keep).sum())} rows of {inter_path.name} without a user, item or timestamp "
            f"left out"
        )
    paths = [inter_path]
    if items is not None:
        if item_columns is None:
            raise UserError(
                "option items needs item_columns, e.g. {'item': 'movie_id', 'title': 'name'}"
            )
        item_mapping = _mapping(item_columns, "item_columns", ITEM_KEYS, ITEM_KEYS)
        item_path = require_file(raw_dir, items, hint=hint)
        catalog, item_notes = _catalog(item_path, item_mapping)
        notes.extend(item_notes)
        paths.append(item_path)
    else:
        unique = pd.unique(item_ids[keep]).tolist()
        catalog = Catalog(item_id=unique, title=list(unique))
        notes.append("no item table: each item's title is its id")
    return RawLog(
        source=f"tabular/{_format_name(inter_path)}",
        interactions=Interactions(
            user_id=users[keep],
            item_id=item_ids[keep],
            timestamp=seconds[keep],
            rating=ratings[keep],
        ),
        catalog=catalog,
        files={p.name: sha256_file(p) for p in paths},
        notes=tuple(notes),
    )
