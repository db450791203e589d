"""MovieLens as GroupLens publishes it, and MovieLens-100K as RecBole's atomic files.

Every MovieLens source produces the same catalog: the display title ``Title (Year)`` as
GroupLens writes it, ``year`` and ``genres`` (the "unknown" genre flag is dropped: it means
no genre).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from r2rec_bench.errors import UserError, at
from r2rec_bench.sources._io import (
    open_text,
    parse_numbers,
    read_delimited,
    require_file,
    sha256_file,
)
from r2rec_bench.sources.types import AttributeSpec, Catalog, Interactions, RawLog

MOVIELENS_ATTRIBUTES = (AttributeSpec("year", "int"), AttributeSpec("genres", "list"))

# u.item's 19 genre flags, in file order (GroupLens README for ml-100k).
ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
_YEAR_IN_TITLE = re.compile(r"\((\d{4})\)\s*$")
FETCH_HINT = "run `r2rec-bench data fetch ml-100k` or pass --raw-dir to a folder holding it"


def year_from_title(title: str) -> int | None:
    match = _YEAR_IN_TITLE.search(title)
    return int(match.group(1)) if match else None


def _movielens_interactions(frame, path: Path, header_lines: int) -> Interactions:
    return Interactions(
        user_id=frame["user_id"].to_numpy(dtype=object),
        item_id=frame["item_id"].to_numpy(dtype=object),
        timestamp=parse_numbers(frame, "timestamp", path, header_lines=header_lines, integer=True),
        rating=parse_numbers(frame, "rating", path, header_lines=header_lines, integer=False),
    )


def read_ml100k_grouplens(raw_dir: Path) -> RawLog:
    """``u.data`` (tab-separated user, item, rating, timestamp) and ``u.item`` (pipe-separated,
    latin-1: id, title, release date, video release date, IMDb URL, 19 genre flags)."""
    data_path = require_file(raw_dir, "u.data", hint=FETCH_HINT)
    item_path = require_file(raw_dir, "u.item", hint=FETCH_HINT)
    ratings = read_delimited(
        data_path, sep="\t", columns=["user_id", "item_id", "rating", "timestamp"]
    )
    items = read_delimited(
        item_path,
        sep="|",
        encoding="latin-1",
        columns=["item_id", "title", "release_date", "video_release_date", "imdb_url",
                 *ML100K_GENRES],
    )  # fmt: skip
    flags = items[list(ML100K_GENRES)].to_numpy()
    bad = np.argwhere((flags != "0") & (flags != "1"))
    if len(bad):
        row, col = bad[0]
        raise UserError(
            f"{at(item_path, int(row) + 1)}: genre flag {ML100K_GENRES[col]!r} is "
            f"{flags[row, col]!r}, expected 0 or 1; is this MovieLens-100K's u.item?"
        )
    titles, years, genres = [], [], []
    for title, release_date, row_flags in zip(
        items["title"], items["release_date"], flags, strict=True
    ):
        title = title.strip()
        year = year_from_title(title)
        if year is None and release_date[-4:].isdigit():
            year = int(release_date[-4:])
        titles.append(title)
        years.append(year)
        genres.append([g for g, flag in zip(ML100K_GENRES, row_flags, strict=True)
                       if flag == "1" and g != "unknown"])  # fmt: skip
    catalog = Catalog(
        item_id=items["item_id"].tolist(),
        title=titles,
        attributes={"year": years, "genres": genres},
        attribute_specs=MOVIELENS_ATTRIBUTES,
    )
    return RawLog(
        source="movielens-100k/grouplens",
        interactions=_movielens_interactions(ratings, data_path, 0),
        catalog=catalog,
        files={p.name: sha256_file(p) for p in (data_path, item_path)},
    )


def _atomic_header(path: Path) -> list[str]:
    """Column names of a RecBole atomic file (``name:type`` tab-separated header)."""

    try:
        with open_text(path) as handle:
            header = handle.readline().rstrip("\r\n").split("\t")
    except UnicodeDecodeError as exc:
        raise UserError(
            f"{at(path, 1)}: byte {exc.start} is not valid UTF-8; is this the right file?"
        ) from None
    return [field.split(":", 1)[0] for field in header]


def _read_atomic(path: Path, needed: list[str]):
    columns = _atomic_header(path)
    missing = [name for name in needed if name not in columns]
    if missing:
        raise UserError(
            f"{at(path, 1)}: header lacks column(s) {', '.join(missing)} (found "
            f"{', '.join(columns) or 'none'}); RecBole atomic files start with a "
            f"tab-separated 'name:type' header"
        )
    frame = read_delimited(path, sep="\t", columns=columns, header_lines=1)
    return frame[needed]


def read_recbole_atomic(raw_dir: Path, dataset: str = "ml-100k") -> RawLog:
    """RecBole's atomic files ``<dataset>.inter`` and ``<dataset>.item`` for MovieLens:
    the title is written without its year, which is kept in ``release_year``."""
    inter_path = require_file(raw_dir, f"{dataset}.inter", hint=FETCH_HINT)
    item_path = require_file(raw_dir, f"{dataset}.item", hint=FETCH_HINT)
    ratings = _read_atomic(inter_path, ["user_id", "item_id", "rating", "timestamp"])
    items = _read_atomic(item_path, ["item_id", "movie_title", "release_year", "class"])
    titles, years = [], []
    for title, year_text in zip(items["movie_title"], items["release_year"], strict=True):
        title = title.strip()
        if year_text.isdigit():
            year = int(year_text)
            titles.append(f"{title} ({year})")
        else:  # a few rows keep the year inside the title, as GroupLens writes it
            year = year_from_title(title)
            titles.append(title)
        years.append(year)
    genres = [[g for g in value.split(" ") if g and g != "unknown"] for value in items["class"]]
    catalog = Catalog(
        item_id=items["item_id"].tolist(),
        title=titles,
        attributes={"year": years, "genres": genres},
        attribute_specs=MOVIELENS_ATTRIBUTES,
    )
    return RawLog(
        source=f"{dataset}/recbole-atomic",
        interactions=_movielens_interactions(ratings, inter_path, 1),
        catalog=catalog,
        files={p.name: sha256_file(p) for p in (inter_path, item_path)},
    )


def read_ml100k(raw_dir: Path) -> RawLog:
    """MovieLens-100K in whichever published form the folder holds (GroupLens first)."""
    if (raw_dir / "u.data").exists():
        return read_ml100k_grouplens(raw_dir)
    if (raw_dir / "ml-100k.inter").exists():
        return read_recbole_atomic(raw_dir, "ml-100k")
    raise UserError(
        f"{raw_dir}: holds neither u.data + u.item (GroupLens) nor ml-100k.inter + "
        f"ml-100k.item (RecBole); {FETCH_HINT}"
    )


ML1M_HINT = "run `r2rec-bench data fetch ml-1m` or pass --raw-dir to the unzipped ml-1m folder"
CSV_HINT = (
    "run `r2rec-bench data fetch ml-25m` (or ml-20m, ml-32m, ml-latest, ml-latest-small) or "
    "pass --raw-dir to the unzipped folder"
)
RATINGS_CSV_COLUMNS = {"userId": "user_id", "movieId": "item_id", "rating": "rating",
                       "timestamp": "timestamp"}  # fmt: skip
MOVIES_CSV_COLUMNS = {"movieId": "item_id", "title": "title", "genres": "genres"}
NO_GENRES = "(no genres listed)"
TEXT_CHUNK_ROWS = 1 << 20  # lines per chunk when ratings.csv is re-read as text


def _movielens_catalog(items) -> Catalog:
    """Catalog from ``item_id``, ``title`` and '|'-separated ``genres`` string columns."""
    titles = [title.strip() for title in items["title"]]
    genres = [
        [genre for genre in value.split("|") if genre and genre != NO_GENRES]
        for value in items["genres"]
    ]
    return Catalog(
        item_id=items["item_id"].tolist(),
        title=titles,
        attributes={"year": [year_from_title(title) for title in titles], "genres": genres},
        attribute_specs=MOVIELENS_ATTRIBUTES,
    )


def read_ml1m(raw_dir: Path) -> RawLog:
    """MovieLens-1M: ``ratings.dat`` (UserID::MovieID::Rating::Timestamp) and ``movies.dat``
    (MovieID::Title::Genres, latin-1, genres '|'-separated; the title ends with "(Year)").

    ``users.dat`` (UserID::Gender::Age::Occupation::Zip-code) is checked and checksummed
    when present; its demographics do not enter the log.
    """
    ratings_path = require_file(raw_dir, "ratings.dat", hint=ML1M_HINT)
    movies_path = require_file(raw_dir, "movies.dat", hint=ML1M_HINT)
    columns = ["user_id", "item_id", "rating", "timestamp"]
    # GroupLens wrote every ml-1m file in latin-1; reading ratings.dat the same way means a
    # stray byte surfaces as a bad field with its line number rather than a decode error.
    ratings = read_delimited(ratings_path, sep="::", columns=columns, encoding="latin-1")
    for column in ("user_id", "item_id"):
        parse_numbers(ratings, column, ratings_path, integer=True)
    movies = read_delimited(
        movies_path, sep="::", columns=["item_id", "title", "genres"], encoding="latin-1"
    )
    parse_numbers(movies, "item_id", movies_path, integer=True)
    paths = [ratings_path, movies_path]
    notes = []
    users_path = raw_dir / "users.dat"
    if users_path.is_file():
        users = read_delimited(
            users_path,
            sep="::",
            encoding="latin-1",
            columns=["user_id", "gender", "age", "occupation", "zip_code"],
        )
        paths.append(users_path)
        notes.append(f"users.dat lists {len(users)} users; their demographics are not used")
    return RawLog(
        source="movielens-1m/grouplens",
        interactions=_movielens_interactions(ratings, ratings_path, 0),
        catalog=_movielens_catalog(movies),
        files={p.name: sha256_file(p) for p in paths},
        notes=tuple(notes),
    )


def _movielens_csv_chunks(
    path: Path, wanted: dict[str, str], dtype, chunksize: int | None = None
) -> Iterator[tuple[int, pd.DataFrame]]:
    """A GroupLens CSV whose header is exactly ``wanted``'s keys, as (number of data lines
    before the chunk, chunk) pairs; a single chunk unless ``chunksize`` is given. Columns are
    renamed to ``wanted``'s values; ``dtype`` is one type or a dict from those names to types.

    The header is checked here and skipped, so that pandas neither takes a surplus field of
    the first line for an index nor drops one: every line must have the header's fields.
    """
    try:
        with open_text(path) as handle:
            header = handle.readline().rstrip("\r\n").split(",")
    except UnicodeDecodeError:
        header = []
    if header != list(wanted):
        raise UserError(
            f"{at(path, 1)}: header is {','.join(header)[:60]!r}, expected the GroupLens "
            f"header {','.join(wanted)!r}; is this the right file?"
        )
    names = list(wanted.values())
    if isinstance(dtype, dict):
        dtype = {position: dtype[name] for position, name in enumerate(names)}
    try:
        reader = pd.read_csv(
            path,
            header=None,
            skiprows=1,
            dtype=dtype,
            engine="c",
            keep_default_na=False,
            chunksize=chunksize,
        )
        offset = 0
        try:
            for frame in [reader] if chunksize is None else reader:
                if frame.shape[1] != len(names):
                    raise UserError(
                        f"{at(path, offset + 2)}: {frame.shape[1]} comma-separated fields, "
                        f"expected {len(names)} ({','.join(wanted)}); is this the right file?"
                    )
                frame.columns = names
                yield offset, frame
                offset += len(frame)
        finally:
            # A caller that stops at a bad line leaves the chunk reader's file open otherwise.
            if chunksize is not None:
                reader.close()
    except pd.errors.EmptyDataError:
        raise UserError(f"{path}: nothing after the header; is the file complete?") from None
    except pd.errors.ParserError as exc:
        raise UserError(
            f"{path}: {str(exc).strip()}; expected comma-separated fields {','.join(wanted)} "
            f"with quoted titles"
        ) from None
    except UnicodeDecodeError as exc:
        raise UserError(
            f"{path}: byte {exc.start} is not valid UTF-8; is this the right file?"
        ) from None


def _ids_as_strings(values: np.ndarray) -> np.ndarray:
    """Integer ids as an object array of str, one str object per distinct id (ml-32m has
    32M rows but only 200k users: this keeps the array at a pointer per row)."""
    codes, uniques = pd.factorize(values)
    return np.array([str(value) for value in uniques], dtype=object)[codes]


def read_movielens_csv(raw_dir: Path) -> RawLog:
    """MovieLens 20M/25M/32M/latest: ``ratings.csv`` (userId,movieId,rating,timestamp) and
    ``movies.csv`` (movieId,title,genres; UTF-8, quoted titles, genres '|'-separated,
    "(no genres listed)" for none). Titles are stripped; some have no year."""
    ratings_path = require_file(raw_dir, "ratings.csv", hint=CSV_HINT)
    movies_path = require_file(raw_dir, "movies.csv", hint=CSV_HINT)
    numeric = {"user_id": np.int64, "item_id": np.int64, "rating": np.float64,
               "timestamp": np.int64}  # fmt: skip
    try:
        _, ratings = next(_movielens_csv_chunks(ratings_path, RATINGS_CSV_COLUMNS, numeric))
        columns = {name: ratings[name].to_numpy() for name in numeric}
    except (ValueError, OverflowError):
        # The typed read only says that some value is bad. Re-read as text in chunks (ml-32m
        # as Python strings would take gigabytes); a chunk that numpy cannot cast goes
        # through parse_numbers, which accepts what GroupLens could mean and names the line.
        parts: dict[str, list[np.ndarray]] = {name: [] for name in numeric}
        chunks = _movielens_csv_chunks(ratings_path, RATINGS_CSV_COLUMNS, object, TEXT_CHUNK_ROWS)
        for offset, chunk in chunks:
            for name, part in parts.items():
                try:
                    part.append(chunk[name].to_numpy().astype(numeric[name]))
                except (ValueError, OverflowError):
                    part.append(
                        parse_numbers(
                            chunk,
                            name,
                            ratings_path,
                            header_lines=1 + offset,
                            integer=name != "rating",
                        )
                    )
        columns = {name: np.concatenate(part) for name, part in parts.items()}
    _, movies = next(_movielens_csv_chunks(movies_path, MOVIES_CSV_COLUMNS, str))
    parse_numbers(movies, "item_id", movies_path, header_lines=1, integer=True)
    interactions = Interactions(
        user_id=_ids_as_strings(columns["user_id"]),
        item_id=_ids_as_strings(columns["item_id"]),
        timestamp=columns["timestamp"].astype(np.int64),
        rating=columns["rating"].astype(np.float64),
    )
    return RawLog(
        source="movielens-csv/grouplens",
        interactions=interactions,
        catalog=_movielens_catalog(movies),
        files={p.name: sha256_file(p) for p in (ratings_path, movies_path)},
    )
