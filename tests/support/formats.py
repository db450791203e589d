"""The real MovieLens-100K ratings written out in other sources' exact upstream formats.

Each writer keeps every rating and title, so a builder for that source runs on real data of
realistic size. Fields a format has but MovieLens lacks get plain, deterministic values.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
from pathlib import Path

from r2rec_bench.sources import read_source


def _ml100k(raw: Path):
    log = read_source("movielens-100k", raw)
    catalog = log.catalog
    rows = zip(
        log.interactions.user_id,
        log.interactions.item_id,
        log.interactions.rating,
        log.interactions.timestamp,
        strict=True,
    )
    titles = dict(zip(catalog.item_id, catalog.title, strict=True))
    genres = dict(zip(catalog.item_id, catalog.attributes["genres"], strict=True))
    return list(rows), titles, genres


def write_ml1m(raw: Path, target: Path) -> None:
    """``ratings.dat`` and ``movies.dat``: '::'-separated, latin-1."""
    rows, titles, genres = _ml100k(raw)
    target.mkdir()
    with open(target / "ratings.dat", "w", encoding="latin-1", newline="") as handle:
        handle.writelines(f"{u}::{i}::{int(r)}::{t}\n" for u, i, r, t in rows)
    with open(target / "movies.dat", "w", encoding="latin-1", newline="") as handle:
        handle.writelines(f"{i}::{titles[i]}::{'|'.join(genres[i])}\n" for i in titles)


def write_amazon(raw: Path, target: Path, category: str) -> None:
    """``<Category>.jsonl.gz`` reviews (time in ms) and ``meta_<Category>.jsonl.gz``."""
    rows, titles, genres = _ml100k(raw)
    target.mkdir()
    with gzip.open(target / f"{category}.jsonl.gz", "wt", encoding="utf-8") as handle:
        for user, item, rating, timestamp in rows:
            review = {"rating": rating, "title": "", "text": "", "images": [],
                      "asin": f"B{int(item):09d}", "parent_asin": f"B{int(item):09d}",
                      "user_id": f"AU{int(user):06d}", "timestamp": int(timestamp) * 1000,
                      "helpful_vote": 0, "verified_purchase": True}  # fmt: skip
            handle.write(json.dumps(review) + "\n")
    with gzip.open(target / f"meta_{category}.jsonl.gz", "wt", encoding="utf-8") as handle:
        for item, title in titles.items():
            meta = {"main_category": "Movies & TV", "title": title, "average_rating": 4.0,
                    "rating_number": 1, "features": [], "description": [], "price": 9.99,
                    "images": [], "videos": [], "store": "Studio", "categories": genres[item],
                    "details": {}, "parent_asin": f"B{int(item):09d}",
                    "bought_together": None}  # fmt: skip
            handle.write(json.dumps(meta) + "\n")


def write_steam(raw: Path, target: Path) -> None:
    """``steam_reviews.json.gz`` and ``steam_games.json.gz``: a Python-literal dict a line."""
    rows, titles, genres = _ml100k(raw)
    target.mkdir()
    with gzip.open(target / "steam_reviews.json.gz", "wt", encoding="utf-8") as handle:
        for user, item, _rating, timestamp in rows:
            day = dt.datetime.fromtimestamp(int(timestamp), dt.UTC).date().isoformat()
            review = {"username": f"player{user}", "hours": 1.5, "products": 10,
                      "product_id": str(item), "page_order": 0, "date": day, "text": "fun",
                      "early_access": False, "page": 1,
                      "user_id": f"7656{int(user):013d}"}  # fmt: skip
            handle.write(repr(review) + "\n")
    with gzip.open(target / "steam_games.json.gz", "wt", encoding="utf-8") as handle:
        for item, title in titles.items():
            game = {"publisher": "Studio", "genres": genres[item], "app_name": title,
                    "title": title, "release_date": "1997-01-01", "tags": genres[item],
                    "price": 4.99, "early_access": False, "id": str(item),
                    "developer": "Studio"}  # fmt: skip
            handle.write(repr(game) + "\n")


def write_lastfm(raw: Path, target: Path) -> None:
    """HetRec 2011 Last.fm: user_artists.dat, artists.dat and the tag timestamps (ms)."""
    rows, titles, _genres = _ml100k(raw)
    target.mkdir()
    with open(target / "user_artists.dat", "w", encoding="utf-8", newline="") as handle:
        handle.write("userID\tartistID\tweight\n")
        handle.writelines(f"{u}\t{i}\t{int(r) * 100}\n" for u, i, r, _t in rows)
    with open(target / "artists.dat", "w", encoding="utf-8", newline="") as handle:
        handle.write("id\tname\turl\tpictureURL\n")
        handle.writelines(f"{i}\t{title}\t\t\n" for i, title in titles.items())
    with open(
        target / "user_taggedartists-timestamps.dat", "w", encoding="utf-8", newline=""
    ) as handle:
        handle.write("userID\tartistID\ttagID\ttimestamp\n")
        handle.writelines(f"{u}\t{i}\t1\t{int(t) * 1000}\n" for u, i, _r, t in rows)


def write_tabular(raw: Path, target: Path) -> None:
    """A plain CSV log and an item CSV, as any team might export them."""
    rows, titles, _genres = _ml100k(raw)
    target.mkdir()
    with open(target / "events.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["customer", "product", "stars", "when"])
        writer.writerows(rows)
    with open(target / "products.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["product", "name"])
        writer.writerows(titles.items())
