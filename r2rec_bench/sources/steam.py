"""Steam (UCSD, Kang & McAuley 2018): ``steam_reviews.json[.gz]`` and ``steam_games.json[.gz]``.

Despite the extension, each line is a Python dict literal (single quotes, True/False), as
``str(dict)`` wrote it, so lines are read with ``ast.literal_eval`` and never with eval.
"""

from __future__ import annotations

import ast
import datetime
import math
import re
import warnings
from pathlib import Path

import numpy as np

from r2rec_bench.errors import UserError, at
from r2rec_bench.sources._io import (
    CatalogRecords,
    numbered_lines,
    optional_text,
    parse_price,
    require_file,
    sha256_file,
    show,
    string_list,
)
from r2rec_bench.sources.types import AttributeSpec, Catalog, Interactions, RawLog

STEAM_ATTRIBUTES = (
    AttributeSpec("genres", "list"),
    AttributeSpec("tags", "list"),
    AttributeSpec("publisher", "str"),
    AttributeSpec("developer", "str"),
    AttributeSpec("price", "float"),
    AttributeSpec("year", "int"),
)
FETCH_HINT = (
    "run `r2rec-bench data fetch steam` or pass --raw-dir to a folder holding "
    "steam_reviews.json.gz and steam_games.json.gz"
)
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)")
_EPOCH = datetime.date(1970, 1, 1)


def _literal_dict(line: str, where: str) -> dict:
    try:
        record = ast.literal_eval(line)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        raise UserError(
            f"{where}: not a Python dict literal ({type(exc).__name__}); Steam files hold one "
            f"dict per line as Python prints it; fix or remove that line"
        ) from None
    if not isinstance(record, dict):
        raise UserError(f"{where}: a {type(record).__name__}, not a dict; fix that line")
    return record


def _identifier(record: dict, key: str, where: str) -> str | None:
    """An id written as a string (or, leniently, an integer); None when absent or empty."""
    value = record.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise UserError(f"{where}: field {key!r} is {show(value)}, not an id; fix that line")


def _day_start(value: object, where: str, cache: dict[str, int]) -> int | None:
    """Seconds at 00:00 UTC of a 'YYYY-MM-DD' date; None when the review has no date."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value in cache:
        return cache[value]
    match = _DATE.fullmatch(value) if isinstance(value, str) else None
    try:
        day = datetime.date(*map(int, match.groups())) if match else None
    except ValueError:
        day = None
    if day is None:
        raise UserError(f"{where}: field 'date' is {show(value)}, not YYYY-MM-DD; fix that line")
    cache[value] = seconds = (day - _EPOCH).days * 86400
    return seconds


def _game_price(value: object) -> float | None:
    """Steam prices are numbers or labels; the "Free to Play"-like labels mean 0."""
    if isinstance(value, str) and "free" in value.lower():
        return 0.0
    return parse_price(value)


def _release_year(value: object) -> int | None:
    match = _YEAR.search(value) if isinstance(value, str) else None
    return int(match.group(1)) if match else None


def _read_reviews(path: Path) -> tuple[Interactions, int]:
    users: list[str] = []
    items: list[str] = []
    times: list[int] = []
    incomplete = 0
    day_cache: dict[str, int] = {}
    for number, line in numbered_lines(path):
        where = at(path, number)
        record = _literal_dict(line, where)
        # Only some reviews carry the numeric steam id; the others are known by username.
        user = _identifier(record, "user_id", where) or _identifier(record, "username", where)
        item = _identifier(record, "product_id", where)
        seconds = _day_start(record.get("date"), where, day_cache)
        if user is None or item is None or seconds is None:
            incomplete += 1
            continue
        users.append(user)
        items.append(item)
        times.append(seconds)
    if not users:
        raise UserError(
            f"{path}: no review with a user, product_id and date; is this steam_reviews.json?"
        )
    interactions = Interactions(
        user_id=np.array(users, dtype=object),
        item_id=np.array(items, dtype=object),
        timestamp=np.array(times, dtype=np.int64),
        rating=np.full(len(users), math.nan),
    )
    return interactions, incomplete


def _read_games(path: Path) -> tuple[Catalog, list[str]]:
    records = CatalogRecords(STEAM_ATTRIBUTES)
    for number, line in numbered_lines(path):
        where = at(path, number)
        record = _literal_dict(line, where)
        records.add(
            _identifier(record, "id", where),
            optional_text(record.get("title")) or optional_text(record.get("app_name")),
            genres=string_list(record.get("genres")),
            tags=string_list(record.get("tags")),
            publisher=optional_text(record.get("publisher")),
            developer=optional_text(record.get("developer")),
            price=_game_price(record.get("price")),
            year=_release_year(record.get("release_date")),
        )
    notes = records.notes(
        f"{{n}} games of {path.name} without an id or title are not in the catalog",
        f"{{n}} repeated game ids of {path.name} ignored (first kept)",
    )
    return records.catalog(), notes


def read_steam(raw_dir: Path) -> RawLog:
    """Steam reviews and games, one Python dict literal per line, plain or gzip-compressed.

    A review's user is its ``user_id`` when it has one, else its ``username``; its item is
    ``product_id``; its time is its ``date`` (YYYY-MM-DD) at 00:00 UTC; Steam has no rating
    (NaN). Reviews without a user, item or date are left out and counted in the notes.
    A game's title is ``title``, else ``app_name``; games without an id or title are left
    out of the catalog. Prices such as "Free To Play" are 0; other labels are missing.
    """
    reviews_path = require_file(
        raw_dir, "steam_reviews.json.gz", "steam_reviews.json", hint=FETCH_HINT
    )
    games_path = require_file(raw_dir, "steam_games.json.gz", "steam_games.json", hint=FETCH_HINT)
    # Python warns about invalid escapes in a literal; a bad line fails or parses regardless.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        interactions, incomplete = _read_reviews(reviews_path)
        catalog, notes = _read_games(games_path)
    if incomplete:
        notes.insert(
            0,
            f"{incomplete} reviews of {reviews_path.name} without a user, product or date left out",
        )
    return RawLog(
        source="steam/ucsd",
        interactions=interactions,
        catalog=catalog,
        files={p.name: sha256_file(p) for p in (reviews_path, games_path)},
        notes=(
            "timestamps are review dates at 00:00 UTC (the source has days only)",
            "users are the review's user_id where present, else its username",
            *notes,
        ),
    )
