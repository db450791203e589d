"""Amazon Reviews 2023 (McAuley Lab): ``<Category>.jsonl`` and ``meta_<Category>.jsonl``.

Both files are JSON lines, plain or gzip-compressed. A review names its item by
``parent_asin`` (the product, not the variant) and its time in milliseconds.
"""

from __future__ import annotations

import json
import math
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
    text_field,
)
from r2rec_bench.sources.types import AttributeSpec, Catalog, Interactions, RawLog

AMAZON_ATTRIBUTES = (
    AttributeSpec("main_category", "str"),
    AttributeSpec("categories", "list"),
    AttributeSpec("store", "str"),
    AttributeSpec("price", "float"),
)
FETCH_HINT = (
    "run `r2rec-bench data fetch amazon-2023 --category <Category>` or pass --raw-dir to a "
    "folder holding <Category>.jsonl[.gz] and meta_<Category>.jsonl[.gz]"
)
SUFFIXES = (".jsonl", ".jsonl.gz")
INT64_LIMIT = 2**63


_decode_json = json.JSONDecoder().decode


def _json_object(line: str, path: Path, number: int) -> dict:
    try:
        record = _decode_json(line)
    except (ValueError, RecursionError) as exc:
        raise UserError(
            f"{at(path, number)}: not valid JSON ({str(exc).splitlines()[0]}); fix or remove "
            f"that line"
        ) from None
    if not isinstance(record, dict):
        raise UserError(
            f"{at(path, number)}: a JSON {type(record).__name__}, not an object; fix that line"
        )
    return record


def _seconds_from_milliseconds(value: object, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise UserError(
            f"{where}: field 'timestamp' is {show(value)}, not a number of milliseconds; "
            f"fix that line"
        )
    seconds = int(value // 1000)
    if not -INT64_LIMIT <= seconds < INT64_LIMIT:
        raise UserError(f"{where}: field 'timestamp' {show(value)} is out of range; fix that line")
    return seconds


def _rating(value: object, where: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UserError(f"{where}: field 'rating' is {show(value)}, not a number; fix that line")
    return float(value)


def _categories_present(raw_dir: Path) -> list[str]:
    """Categories with both a review file and a meta file in ``raw_dir``."""
    found = set()
    for path in raw_dir.iterdir():
        for suffix in SUFFIXES:
            if path.name.startswith("meta_") and path.name.endswith(suffix):
                category = path.name[len("meta_") : -len(suffix)]
                if any((raw_dir / f"{category}{s}").is_file() for s in SUFFIXES):
                    found.add(category)
    return sorted(found)


def _choose_category(raw_dir: Path, category: str | None) -> str:
    if category is not None:
        return category
    found = _categories_present(raw_dir)
    if len(found) == 1:
        return found[0]
    if not found:
        raise UserError(
            f"{raw_dir}: no <Category>.jsonl with its meta_<Category>.jsonl; {FETCH_HINT}"
        )
    raise UserError(
        f"{raw_dir}: holds several categories ({', '.join(found)}); pass category= one of them"
    )


def _read_reviews(path: Path) -> tuple[Interactions, int]:
    """The review log and the number of reviews left out for lack of a user, item or time."""
    users: list[str] = []
    items: list[str] = []
    times: list[int] = []
    ratings: list[float] = []
    incomplete = 0
    for number, line in numbered_lines(path):
        record = _json_object(line, path, number)
        # Fast path for the well-formed review (a category holds up to tens of millions):
        # exact type tests here, full checks and messages below for everything else.
        user = record.get("user_id")
        item = record.get("parent_asin")
        milliseconds = record.get("timestamp")
        rating = record.get("rating")
        if (
            type(user) is str
            and user
            and type(item) is str
            and item
            and type(milliseconds) is int
            and -INT64_LIMIT <= milliseconds < INT64_LIMIT
            and type(rating) is float
        ):
            users.append(user)
            items.append(item)
            times.append(milliseconds // 1000)
            ratings.append(rating)
            continue
        where = at(path, number)
        user = text_field(record, "user_id", where)
        item = text_field(record, "parent_asin", where)
        seconds = _seconds_from_milliseconds(record.get("timestamp"), where)
        rating = _rating(record.get("rating"), where)
        if user is None or item is None or seconds is None:
            incomplete += 1
            continue
        users.append(user)
        items.append(item)
        times.append(seconds)
        ratings.append(rating)
    if not users:
        raise UserError(
            f"{path}: no review with user_id, parent_asin and timestamp; is this an Amazon "
            f"Reviews 2023 review file (not a meta_ file)?"
        )
    interactions = Interactions(
        user_id=np.array(users, dtype=object),
        item_id=np.array(items, dtype=object),
        timestamp=np.array(times, dtype=np.int64),
        rating=np.array(ratings, dtype=np.float64),
    )
    return interactions, incomplete


def _read_meta(path: Path) -> tuple[Catalog, list[str]]:
    """The catalog of titled items (first titled entry of each parent_asin) and notes."""
    records = CatalogRecords(AMAZON_ATTRIBUTES)
    for number, line in numbered_lines(path):
        record = _json_object(line, path, number)
        where = at(path, number)
        item = text_field(record, "parent_asin", where)
        if item is None:
            raise UserError(f"{where}: no 'parent_asin'; is this a meta_<Category>.jsonl file?")
        records.add(
            item,
            optional_text(record.get("title")),
            main_category=optional_text(record.get("main_category")),
            categories=string_list(record.get("categories")),
            store=optional_text(record.get("store")),
            price=parse_price(record.get("price")),
        )
    notes = records.notes(
        f"{{n}} items of {path.name} have no title and are not in the catalog",
        f"{{n}} repeated parent_asin entries of {path.name} ignored (first kept)",
    )
    return records.catalog(), notes


def read_amazon_2023(raw_dir: Path, category: str | None = None) -> RawLog:
    """One category of Amazon Reviews 2023: ``<category>.jsonl[.gz]`` reviews (``user_id``,
    ``parent_asin``, ``rating``, ``timestamp`` in ms) and ``meta_<category>.jsonl[.gz]``
    (``parent_asin``, ``title``, ``main_category``, ``categories``, ``store``, ``price``).

    ``category`` may be left out when the folder holds a single category. Items are
    ``parent_asin``; timestamps are floored to seconds. Reviews without a user, item or
    timestamp are left out, and so are items without a title; the notes count both.
    Attribute values of an unexpected type count as missing.
    """
    category = _choose_category(raw_dir, category)
    review_path = require_file(raw_dir, *(f"{category}{s}" for s in SUFFIXES), hint=FETCH_HINT)
    meta_path = require_file(raw_dir, *(f"meta_{category}{s}" for s in SUFFIXES), hint=FETCH_HINT)
    interactions, incomplete = _read_reviews(review_path)
    catalog, notes = _read_meta(meta_path)
    if incomplete:
        notes.insert(
            0,
            f"{incomplete} reviews of {review_path.name} without user_id, parent_asin or "
            f"timestamp left out",
        )
    return RawLog(
        source=f"amazon-2023/{category}",
        interactions=interactions,
        catalog=catalog,
        files={p.name: sha256_file(p) for p in (review_path, meta_path)},
        notes=("timestamps are the review times in milliseconds, floored to seconds", *notes),
    )
