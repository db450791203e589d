"""Each source parses its upstream format exactly, and bad input gives a one-line UserError.

The fixtures under tests/fixtures/ are a handful of lines in each published format; the
expected values below were checked by hand against them (dates with ``date -u``).
"""

from __future__ import annotations

import gzip
import hashlib
import math
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from r2rec_bench.errors import UserError
from r2rec_bench.sources import RawLog, movielens, read_source
from r2rec_bench.sources.amazon import read_amazon_2023
from r2rec_bench.sources.lastfm import read_lastfm_hetrec
from r2rec_bench.sources.movielens import read_ml1m, read_movielens_csv
from r2rec_bench.sources.steam import read_steam
from r2rec_bench.sources.tabular import read_tabular

FIXTURES = Path(__file__).parent / "fixtures"
TABULAR_COLUMNS = {"user": "user_id", "item": "item", "timestamp": "time", "rating": "stars"}
TABULAR_ITEMS = {
    "item": "item_id",
    "title": "name",
    "genre": "genre",
    "year": "year",
    "price": "price",
    "zip": "zip",
}


def copy_fixture(name: str, target: Path, gzip_files: tuple[str, ...] = ()) -> Path:
    """A copy of fixture folder ``name``, with ``gzip_files`` replaced by ``<file>.gz``."""
    folder = target / name
    shutil.copytree(FIXTURES / name, folder)
    for file_name in gzip_files:
        plain = folder / file_name
        with gzip.open(folder / f"{file_name}.gz", "wb") as handle:
            handle.write(plain.read_bytes())
        plain.unlink()
    return folder


def rows(log: RawLog) -> list[tuple]:
    i = log.interactions
    return [
        (u, it, int(t), None if math.isnan(r) else float(r))
        for u, it, t, r in zip(i.user_id, i.item_id, i.timestamp, i.rating, strict=True)
    ]


def catalog_row(log: RawLog, item_id: str) -> dict:
    position = log.catalog.item_id.index(item_id)
    values = {name: values[position] for name, values in log.catalog.attributes.items()}
    return {"title": log.catalog.title[position], **values}


def assert_same_log(left: RawLog, right: RawLog) -> None:
    assert rows(left) == rows(right)
    assert left.catalog == right.catalog
    assert left.source == right.source


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write(path: Path, text: str, encoding: str = "utf-8") -> None:
    path.write_bytes(text.encode(encoding))


def replace_line(path: Path, number: int, text: str, encoding: str = "utf-8") -> None:
    lines = path.read_bytes().decode(encoding).splitlines(keepends=True)
    lines[number - 1] = text + "\n"
    write(path, "".join(lines), encoding)


def error_of(reader, *args, **kwargs) -> str:
    with pytest.raises(UserError) as info:
        reader(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


# --- MovieLens-1M -----------------------------------------------------------------------


def test_ml1m_fields() -> None:
    log = read_source("movielens-1m", FIXTURES / "ml-1m")
    assert log.source == "movielens-1m/grouplens"
    assert len(log.interactions) == 9
    assert rows(log)[0] == ("1", "1193", 978300760, 5.0)
    assert rows(log)[-1] == ("6040", "1", 956716541, 3.0)
    assert log.interactions.timestamp.dtype == np.int64
    assert catalog_row(log, "73") == {
        "title": "Misérables, Les (1995)",  # latin-1 byte 0xE9 in movies.dat
        "year": 1995,
        "genres": ["Drama", "Musical"],
    }
    assert catalog_row(log, "1")["genres"] == ["Animation", "Children's", "Comedy"]
    assert catalog_row(log, "2355")["title"] == "Bug's Life, A (1998)"
    assert [spec.name for spec in log.catalog.attribute_specs] == ["year", "genres"]
    assert log.files == {
        name: sha256(FIXTURES / "ml-1m" / name)
        for name in ("ratings.dat", "movies.dat", "users.dat")
    }
    assert log.notes == ("users.dat lists 3 users; their demographics are not used",)


def test_ml1m_users_dat_is_optional(tmp_path: Path) -> None:
    folder = copy_fixture("ml-1m", tmp_path)
    (folder / "users.dat").unlink()
    log = read_ml1m(folder)
    assert set(log.files) == {"ratings.dat", "movies.dat"}
    assert log.notes == ()
    assert len(log.interactions) == 9


@pytest.mark.parametrize(
    ("file_name", "line", "text", "expected"),
    [
        ("ratings.dat", 3, "1\t914\t3\t978301968", "ratings.dat:3"),  # wrong separator
        ("ratings.dat", 3, "1::914::3::yesterday", "ratings.dat:3"),
        ("ratings.dat", 4, "1::34x08::4::978300275", "ratings.dat:4"),
        ("ratings.dat", 2, "1::661::3", "ratings.dat:2"),
        ("movies.dat", 2, "73::Misérables, Les (1995)::Drama::Musical", "movies.dat"),
        ("users.dat", 1, "1::F::1", "users.dat"),
    ],
)
def test_ml1m_bad_lines(
    tmp_path: Path, file_name: str, line: int, text: str, expected: str
) -> None:
    folder = copy_fixture("ml-1m", tmp_path)
    replace_line(folder / file_name, line, text, "latin-1")
    assert expected in error_of(read_ml1m, folder)


def test_ml1m_missing_and_empty_files(tmp_path: Path) -> None:
    folder = copy_fixture("ml-1m", tmp_path)
    write(folder / "ratings.dat", "")
    assert "ratings.dat" in error_of(read_ml1m, folder)
    (folder / "movies.dat").unlink()
    message = error_of(read_ml1m, folder)
    assert "movies.dat" in message and "data fetch ml-1m" in message


# --- MovieLens 20M/25M/32M (CSV) --------------------------------------------------------


def test_movielens_csv_fields() -> None:
    log = read_source("movielens-csv", FIXTURES / "ml-25m")
    assert log.source == "movielens-csv/grouplens"
    assert rows(log)[:2] == [("1", "296", 1147880044, 5.0), ("1", "306", 1147868817, 3.5)]
    assert rows(log)[6] == ("3", "73", 1439474476, 0.5)
    assert rows(log)[-1] == ("162541", "6196", 1240951709, 4.5)
    assert all(isinstance(value, str) for value in log.interactions.user_id)
    assert catalog_row(log, "11") == {
        "title": "American President, The (1995)",
        "year": 1995,
        "genres": ["Comedy", "Drama", "Romance"],
    }
    assert catalog_row(log, "73")["title"] == "Misérables, Les (1995)"
    assert catalog_row(log, "3841")["title"] == '"Great Performances" Cats (1998)'
    assert catalog_row(log, "6196")["title"] == "Cradle 2 the Grave (2003)"  # trailing space
    assert catalog_row(log, "171749") == {
        "title": "Death Note: Desu nôto (2006–2007)",
        "year": None,
        "genres": [],  # "(no genres listed)"
    }
    assert set(log.files) == {"ratings.csv", "movies.csv"}


@pytest.mark.parametrize("chunk_rows", [1 << 20, 2])
def test_movielens_csv_text_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk_rows: int
) -> None:
    """A value the typed reader refuses ("1147880044.0") is read by the text path, which
    names bad lines correctly across chunks."""
    monkeypatch.setattr(movielens, "TEXT_CHUNK_ROWS", chunk_rows)
    folder = copy_fixture("ml-25m", tmp_path)
    replace_line(folder / "ratings.csv", 2, "1,296,5.0,1147880044.0")
    assert_same_log(read_movielens_csv(folder), read_movielens_csv(FIXTURES / "ml-25m"))
    replace_line(folder / "ratings.csv", 7, "3,11,4.0,soon")
    assert "ratings.csv:7:" in error_of(read_movielens_csv, folder)


@pytest.mark.parametrize(
    ("file_name", "line", "text", "expected"),
    [
        ("ratings.csv", 1, "userId::movieId::rating::timestamp", "ratings.csv:1"),
        ("ratings.csv", 4, "1,307,five,1147868828", "ratings.csv:4"),
        ("ratings.csv", 5, "1,665,5.0,", "ratings.csv:5"),
        ("ratings.csv", 3, "1,306,3.5,1147868817,extra", "ratings.csv"),
        ("ratings.csv", 2, "1,29x6,5.0,1147880044", "ratings.csv:2"),
        ("movies.csv", 1, "movieId|title|genres", "movies.csv:1"),
        ("movies.csv", 3, '11,"American President, The (1995),Comedy', "movies.csv"),
        ("movies.csv", 5, "two hundred,Pulp Fiction (1994),Drama", "movies.csv:5"),
    ],
)
def test_movielens_csv_bad_lines(
    tmp_path: Path, file_name: str, line: int, text: str, expected: str
) -> None:
    folder = copy_fixture("ml-25m", tmp_path)
    replace_line(folder / file_name, line, text)
    assert expected in error_of(read_movielens_csv, folder)


def test_movielens_csv_missing_and_header_only(tmp_path: Path) -> None:
    folder = copy_fixture("ml-25m", tmp_path)
    write(folder / "ratings.csv", "userId,movieId,rating,timestamp\n")
    assert "ratings.csv" in error_of(read_movielens_csv, folder)
    (folder / "ratings.csv").unlink()
    assert "ratings.csv" in error_of(read_movielens_csv, folder)


# --- Amazon Reviews 2023 ----------------------------------------------------------------


def test_amazon_fields() -> None:
    log = read_source("amazon-2023", FIXTURES / "amazon-2023")
    assert log.source == "amazon-2023/All_Beauty"
    assert rows(log) == [
        ("AGKHLEW2SOWHNMFQIJGBECAF7INQ", "B00YQ6X8EO", 1588687728, 5.0),
        ("AGKHLEW2SOWHNMFQIJGBECAF7INQ", "B081TJ8YS3", 1588615855, 4.0),
        ("AE74DYR3QUGVPZJ3P7RFWBGIX7XQ", "B097R46CSY", 1589665266, 5.0),  # parent, not asin
        ("AFQLNQNQYFWQZPJQZS6V3NZU4QBQ", "B09JS339BZ", 1643393630, 1.0),
        ("AFQLNQNQYFWQZPJQZS6V3NZU4QBQ", "B01CUPMQZE", 0, 3.0),  # 999 ms floors to 0 s
    ]
    # B09JS339BZ has an empty title: reviewed, but not in the catalog.
    assert log.catalog.item_id == ["B01CUPMQZE", "B00YQ6X8EO", "B081TJ8YS3", "B097R46CSY"]
    assert catalog_row(log, "B01CUPMQZE") == {
        "title": "Howard LC0008 Leather Conditioner, 8-Ounce (4-Pack)",
        "main_category": "All Beauty",
        "categories": [],
        "store": "Howard Products",
        "price": None,
    }
    assert catalog_row(log, "B00YQ6X8EO") == {
        "title": "Yes to Tomatoes Detoxifying Charcoal Cleanser (Pack of 2)",
        "main_category": "All Beauty",
        "categories": ["Beauty & Personal Care", "Skin Care", "Face"],
        "store": "Yes To",
        "price": 12.99,
    }
    assert catalog_row(log, "B081TJ8YS3")["price"] == 7.49  # "$7.49"
    assert catalog_row(log, "B081TJ8YS3")["store"] is None  # null
    assert catalog_row(log, "B097R46CSY") == {
        "title": "Crème Hair Mask – Argan",
        "main_category": None,
        "categories": ["Hair Care"],
        "store": None,  # ""
        "price": 24.0,
    }
    assert any("1 items of meta_All_Beauty.jsonl have no title" in note for note in log.notes)


def test_amazon_gzip_equals_plain(tmp_path: Path) -> None:
    both = copy_fixture(
        "amazon-2023", tmp_path, gzip_files=("All_Beauty.jsonl", "meta_All_Beauty.jsonl")
    )
    gz_log = read_amazon_2023(both)
    assert set(gz_log.files) == {"All_Beauty.jsonl.gz", "meta_All_Beauty.jsonl.gz"}
    assert_same_log(gz_log, read_amazon_2023(FIXTURES / "amazon-2023"))


def test_amazon_category_choice(tmp_path: Path) -> None:
    folder = copy_fixture("amazon-2023", tmp_path)
    for name in ("Magazine_Subscriptions.jsonl", "meta_Magazine_Subscriptions.jsonl"):
        shutil.copy(folder / name.replace("Magazine_Subscriptions", "All_Beauty"), folder / name)
    message = error_of(read_source, "amazon-2023", folder)
    assert "All_Beauty, Magazine_Subscriptions" in message and "category=" in message
    log = read_source("amazon-2023", folder, category="Magazine_Subscriptions")
    assert log.source == "amazon-2023/Magazine_Subscriptions"
    assert "Toys_and_Games.jsonl" in error_of(read_amazon_2023, folder, "Toys_and_Games")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "meta_<Category>.jsonl" in error_of(read_amazon_2023, empty)


def test_amazon_review_without_timestamp_is_counted(tmp_path: Path) -> None:
    folder = copy_fixture("amazon-2023", tmp_path)
    replace_line(
        folder / "All_Beauty.jsonl",
        2,
        '{"rating": 4.0, "asin": "B081TJ8YS3", "parent_asin": "B081TJ8YS3", '
        '"user_id": "AGKHLEW2SOWHNMFQIJGBECAF7INQ", "timestamp": null}',
    )
    log = read_amazon_2023(folder)
    assert len(log.interactions) == 4
    assert "1 reviews of All_Beauty.jsonl without user_id, parent_asin or timestamp" in (
        " ".join(log.notes)
    )


@pytest.mark.parametrize(
    ("file_name", "line", "text", "expected"),
    [
        ("All_Beauty.jsonl", 2, '{"rating": 4.0, "user_id": "A", ', "All_Beauty.jsonl:2"),
        ("All_Beauty.jsonl", 3, '["not", "an", "object"]', "All_Beauty.jsonl:3"),
        ("All_Beauty.jsonl", 1, '{"user_id": "A", "parent_asin": "B", "timestamp": "May"}', ":1"),
        ("All_Beauty.jsonl", 4, '{"user_id": "A", "parent_asin": 7, "timestamp": 1}', ":4"),
        ("All_Beauty.jsonl", 5, '{"user_id": "A", "parent_asin": "B", "rating": "5"}', ":5"),
        ("meta_All_Beauty.jsonl", 2, '{"title": "No id"}', "meta_All_Beauty.jsonl:2"),
        ("meta_All_Beauty.jsonl", 1, "{'title': 'python'}", "meta_All_Beauty.jsonl:1"),
    ],
)
def test_amazon_bad_lines(
    tmp_path: Path, file_name: str, line: int, text: str, expected: str
) -> None:
    folder = copy_fixture("amazon-2023", tmp_path)
    replace_line(folder / file_name, line, text)
    assert expected in error_of(read_amazon_2023, folder)


def test_amazon_meta_file_as_reviews_and_broken_gzip(tmp_path: Path) -> None:
    folder = copy_fixture("amazon-2023", tmp_path)
    shutil.copy(folder / "meta_All_Beauty.jsonl", folder / "All_Beauty.jsonl")
    assert "meta_" in error_of(read_amazon_2023, folder)
    folder = copy_fixture("amazon-2023", tmp_path / "gz", gzip_files=("All_Beauty.jsonl",))
    data = (folder / "All_Beauty.jsonl.gz").read_bytes()
    (folder / "All_Beauty.jsonl.gz").write_bytes(data[: len(data) // 2])
    assert "All_Beauty.jsonl.gz" in error_of(read_amazon_2023, folder)


# --- Steam ------------------------------------------------------------------------------


def test_steam_fields() -> None:
    log = read_source("steam", FIXTURES / "steam")
    assert log.source == "steam/ucsd"
    assert rows(log) == [
        ("Chaos Syren", "725280", 1513468800, None),  # 2017-12-17 00:00 UTC
        ("76561198007483075", "328100", 1501632000, None),  # user_id beats username
        ("freakfantom", "725280", 1510444800, None),
        ("Chaos Syren", "328100", 1515024000, None),
        ("76561198007483075", "643980", 1501718400, None),
    ]
    assert log.catalog.item_id == ["761140", "643980", "725280", "328100"]
    assert catalog_row(log, "761140") == {
        "title": "Lost Summoner Kitty",
        "genres": ["Action", "Casual", "Indie", "Simulation", "Strategy"],
        "tags": ["Strategy", "Action", "Indie", "Casual", "Simulation"],
        "publisher": "Kotoshiro",
        "developer": "Kotoshiro",
        "price": 4.99,
        "year": 2018,
    }
    assert catalog_row(log, "643980")["price"] == 0.0  # "Free To Play"
    tentacles = catalog_row(log, "725280")  # no 'title': its app_name
    assert tentacles["title"] == "Army of Tentacles"
    assert tentacles["publisher"] is None and tentacles["price"] is None  # "Install Now"
    assert tentacles["developer"] == "Tentacle's Studio" and tentacles["year"] == 2018
    assert any("1 games of steam_games.json without an id or title" in n for n in log.notes)


def test_steam_gzip_equals_plain(tmp_path: Path) -> None:
    folder = copy_fixture("steam", tmp_path, gzip_files=("steam_reviews.json", "steam_games.json"))
    gz_log = read_steam(folder)
    assert set(gz_log.files) == {"steam_reviews.json.gz", "steam_games.json.gz"}
    assert_same_log(gz_log, read_steam(FIXTURES / "steam"))


@pytest.mark.parametrize(
    ("file_name", "line", "text", "expected"),
    [
        # JSON is not a Python literal: true is not True.
        ("steam_reviews.json", 2, '{"username": "a", "product_id": "1", "x": true}', ":2"),
        (
            "steam_reviews.json",
            3,
            "{'username': 'a', 'product_id': '1', 'date': '2017-13-01'}",
            ":3",
        ),
        (
            "steam_reviews.json",
            1,
            "{'username': 'a', 'product_id': 1.5, 'date': '2017-12-01'}",
            ":1",
        ),
        ("steam_reviews.json", 4, "__import__('os').system('exit 3')", "steam_reviews.json:4"),
        ("steam_reviews.json", 5, "['a list']", "steam_reviews.json:5"),
        ("steam_games.json", 2, "{'id': '643980', 'title': 'Ironbound'", "steam_games.json:2"),
    ],
)
def test_steam_bad_lines(
    tmp_path: Path, file_name: str, line: int, text: str, expected: str
) -> None:
    folder = copy_fixture("steam", tmp_path)
    replace_line(folder / file_name, line, text)
    assert expected in error_of(read_steam, folder)


def test_steam_review_without_date_is_counted(tmp_path: Path) -> None:
    folder = copy_fixture("steam", tmp_path)
    replace_line(folder / "steam_reviews.json", 1, "{'username': 'x', 'product_id': '725280'}")
    log = read_steam(folder)
    assert len(log.interactions) == 4
    assert any(note.startswith("1 reviews of steam_reviews.json without") for note in log.notes)


# --- Last.fm hetrec2011 -----------------------------------------------------------------


def test_lastfm_fields() -> None:
    log = read_source("lastfm-hetrec", FIXTURES / "lastfm")
    # (2, 51) was first tagged 2009-03-31 22:00 UTC, (2, 52) too; (2, 53) and (3, 52) never.
    assert rows(log) == [
        ("2", "51", 1238536800, 13883.0),
        ("2", "52", 1238536800, 11690.0),
        ("3", "101", 1262300400, 179.0),
    ]
    assert log.catalog.item_id == ["51", "52", "53", "101"]
    assert log.catalog.title[-1] == "Mumiy Troll Мумий Тролл"
    assert log.catalog.attributes == {}
    notes = " ".join(log.notes)
    assert "2 of 5 (user, artist) pairs were never tagged" in notes
    assert "1 tagged (user, artist) pairs absent from user_artists.dat" in notes


def test_lastfm_crlf_equals_lf(tmp_path: Path) -> None:
    folder = copy_fixture("lastfm", tmp_path)
    for path in folder.iterdir():
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert_same_log(read_lastfm_hetrec(folder), read_lastfm_hetrec(FIXTURES / "lastfm"))


def test_lastfm_needs_the_timestamps(tmp_path: Path) -> None:
    folder = copy_fixture("lastfm", tmp_path)
    (folder / "user_taggedartists-timestamps.dat").unlink()
    message = error_of(read_lastfm_hetrec, folder)
    assert "user_taggedartists-timestamps.dat" in message and "has no time" in message


@pytest.mark.parametrize(
    ("file_name", "line", "text", "expected"),
    [
        # user_taggedartists.dat (day, month, year) in place of the timestamps file
        (
            "user_taggedartists-timestamps.dat",
            1,
            "userID\tartistID\ttagID\tday\tmonth\tyear",
            "user_taggedartists-timestamps.dat:1",
        ),
        ("user_taggedartists-timestamps.dat", 3, "2\t52\t15\tsoon", "timestamps.dat:3"),
        ("user_artists.dat", 4, "2\t53\tmany", "user_artists.dat:4"),
        ("user_artists.dat", 1, "userID,artistID,weight", "user_artists.dat:1"),
        ("artists.dat", 2, "51\tDuran Duran\thttp://a\thttp://b\textra", "artists.dat"),
    ],
)
def test_lastfm_bad_lines(
    tmp_path: Path, file_name: str, line: int, text: str, expected: str
) -> None:
    folder = copy_fixture("lastfm", tmp_path)
    replace_line(folder / file_name, line, text)
    assert expected in error_of(read_lastfm_hetrec, folder)


# --- Tabular ----------------------------------------------------------------------------


def test_tabular_csv_with_items() -> None:
    log = read_source(
        "tabular",
        FIXTURES / "tabular",
        interactions="interactions.csv",
        columns=TABULAR_COLUMNS,
        items="items.csv",
        item_columns=TABULAR_ITEMS,
    )
    assert log.source == "tabular/csv"
    assert rows(log) == [
        ("u1", "i1", 1600000000, 4.5),
        ("u1", "i2,b", 1600000100, 3.0),  # quoted comma
        ("u2", "i1", 1600000200, None),  # empty rating
        ("u3", "i9", -1, 1.0),  # (u2, i3) has no timestamp
    ]
    assert log.catalog.item_id == ["i1", "i2,b"]  # i3 has no title; i1 repeats
    assert catalog_row(log, "i1") == {
        "title": "Widget, Deluxe",
        "genre": "tools",
        "year": 1999,
        "price": 12.5,
        "zip": "01234",  # a code, not a number
    }
    assert catalog_row(log, "i2,b") == {
        "title": "Gadget",
        "genre": None,
        "year": 2001,
        "price": 3.0,
        "zip": None,
    }
    kinds = {spec.name: spec.kind for spec in log.catalog.attribute_specs}
    assert kinds == {"genre": "str", "year": "int", "price": "float", "zip": "str"}
    assert log.notes == (
        "1 rows of interactions.csv without a user, item or timestamp left out",
        "1 rows of items.csv without an item id or title left out",
        "1 repeated item ids of items.csv ignored (first kept)",
    )
    assert set(log.files) == {"interactions.csv", "items.csv"}


def test_tabular_tsv_iso_times_without_items() -> None:
    log = read_tabular(
        FIXTURES / "tabular",
        "events.tsv",
        {"user": "user", "item": "item", "timestamp": "when"},
        timestamp_format="ISO8601",
    )
    assert rows(log) == [
        ("u1", "i1", 1577934245, None),  # 2020-01-02T03:04:05Z
        ("u1", "i2", 1577934246, None),  # .900 s is floored
        ("u2", "i1", -1, None),  # half a second before the epoch floors to -1
    ]
    assert log.catalog.item_id == ["i1", "i2"] and log.catalog.title == ["i1", "i2"]
    assert log.notes == ("no item table: each item's title is its id",)


@pytest.mark.parametrize(
    ("text", "timestamp_format", "expected"),
    [
        ("1600000000123", "ms", 1600000000),
        ("-1", "ms", -1),
        ("1600000000", "s", 1600000000),
        ("1600000000.7", None, 1600000000),
        ("02/01/2020 03:04", "%d/%m/%Y %H:%M", 1577934240),
    ],
)
def test_tabular_timestamp_formats(
    tmp_path: Path, text: str, timestamp_format: str | None, expected: int
) -> None:
    write(tmp_path / "log.csv", f"u,i,t\nu1,i1,{text}\n")
    columns = {"user": "u", "item": "i", "timestamp": "t"}
    log = read_tabular(tmp_path, "log.csv", columns, timestamp_format=timestamp_format)
    assert rows(log) == [("u1", "i1", expected, None)]


def test_tabular_parquet_equals_csv(tmp_path: Path) -> None:
    frame = pd.read_csv(FIXTURES / "tabular" / "interactions.csv", dtype=str, keep_default_na=False)
    frame = frame[frame["time"] != ""].assign(
        time=lambda f: f["time"].astype("int64"),
        stars=lambda f: pd.to_numeric(f["stars"]),
    )
    frame.to_parquet(tmp_path / "log.parquet")
    parquet_log = read_tabular(tmp_path, "log.parquet", TABULAR_COLUMNS)
    csv_log = read_tabular(FIXTURES / "tabular", "interactions.csv", TABULAR_COLUMNS)
    assert rows(parquet_log) == rows(csv_log)
    assert parquet_log.source == "tabular/parquet"
    dated = frame.assign(time=pd.to_datetime(frame["time"], unit="s", utc=True))
    dated.to_parquet(tmp_path / "dated.parquet")
    assert rows(read_tabular(tmp_path, "dated.parquet", TABULAR_COLUMNS)) == rows(csv_log)


def test_tabular_parquet_item_attributes(tmp_path: Path) -> None:
    items = pd.DataFrame(
        {
            "id": [10, 20],
            "name": ["Ten", "Twenty"],
            "tags": [["a", "b"], []],
            "score": [1.5, None],
            "n": [3, 4],
        }
    )
    items.to_parquet(tmp_path / "items.parquet")
    write(tmp_path / "log.csv", "u,i,t\nu1,10,5\nu1,20,6\n")
    log = read_tabular(
        tmp_path,
        "log.csv",
        {"user": "u", "item": "i", "timestamp": "t"},
        items="items.parquet",
        item_columns={"item": "id", "title": "name", "tags": "tags", "score": "score", "n": "n"},
    )
    assert log.catalog.item_id == ["10", "20"]
    assert log.catalog.attributes == {"tags": [["a", "b"], []], "score": [1.5, None], "n": [3, 4]}
    kinds = [spec.kind for spec in log.catalog.attribute_specs]
    assert kinds == ["list", "float", "int"]


@pytest.mark.parametrize(
    ("content", "options", "expected"),
    [
        ("user_id,item,time\nu,i,1\n", {}, "'stars'"),  # mapped column not in the file
        ("user_id;item;stars;time\nu;i;1;1\n", {}, "comma-separated"),
        ("user_id,item,stars,time\nu,i,1,noon\n", {}, "log.csv:2"),
        ("user_id,item,stars,time\nu,i,1,1\nv,j,x,2\n", {}, "log.csv:3"),
        ("user_id,item,stars,time\nu,i,1,99999999999999999999999\n", {}, "log.csv:2"),
        ("user_id,item,stars,time\nu,i,1,1\n", {"timestamp_format": "%Q"}, "timestamp_format"),
        ("user_id,item,stars,time\nu,i,1,1\n", {"timestamp_format": "%Y"}, "log.csv:2"),
        ("user_id,item,stars,time\nu,i,1,\n", {}, "no row with a user, item and timestamp"),
        ('user_id,item,stars,time\nu,"i,1,1\n', {}, "log.csv"),  # unclosed quote
        ("", {}, "log.csv"),
    ],
)
def test_tabular_bad_input(tmp_path: Path, content: str, options: dict, expected: str) -> None:
    write(tmp_path / "log.csv", content)
    message = error_of(read_tabular, tmp_path, "log.csv", TABULAR_COLUMNS, **options)
    assert expected in message


def test_tabular_bad_options(tmp_path: Path) -> None:
    folder = FIXTURES / "tabular"
    missing = error_of(
        read_tabular, folder, "interactions.csv", {"user": "user_id", "item": "item"}
    )
    assert "'timestamp'" in missing
    unknown = error_of(read_tabular, folder, "interactions.csv", {**TABULAR_COLUMNS, "when": "x"})
    assert "'when'" in unknown
    assert "columns" in error_of(read_tabular, folder, "interactions.csv", ["user", "item"])
    assert "nope.csv" in error_of(read_tabular, folder, "nope.csv", TABULAR_COLUMNS)
    no_title = {"item": "item_id"}
    message = error_of(
        read_tabular, folder, "interactions.csv", TABULAR_COLUMNS, "items.csv", no_title
    )
    assert "'title'" in message
    wrong = {"item": "item_id", "title": "label"}
    message = error_of(
        read_tabular, folder, "interactions.csv", TABULAR_COLUMNS, "items.csv", wrong
    )
    assert "items.csv" in message and "'label'" in message and "'name'" in message
    write(tmp_path / "log.json", "{}")
    assert "log.json" in error_of(read_tabular, tmp_path, "log.json", TABULAR_COLUMNS)
    write(tmp_path / "log.parquet", "PAR1 not really")
    assert "log.parquet" in error_of(read_tabular, tmp_path, "log.parquet", TABULAR_COLUMNS)
    options = {"interactions": "interactions.csv", "columns": TABULAR_COLUMNS, "category": "x"}
    assert "no option 'category'" in error_of(read_source, "tabular", folder, **options)


# --- Corrupted input never escapes as anything but a UserError --------------------------

TABULAR_OPTIONS = {
    "interactions": "interactions.csv",
    "columns": TABULAR_COLUMNS,
    "items": "items.csv",
    "item_columns": TABULAR_ITEMS,
}
# (source, fixture folder, options, file to corrupt, files to gzip first)
CORRUPTIBLE = [
    ("movielens-1m", "ml-1m", {}, "ratings.dat", ()),
    ("movielens-1m", "ml-1m", {}, "movies.dat", ()),
    ("movielens-csv", "ml-25m", {}, "ratings.csv", ()),
    ("movielens-csv", "ml-25m", {}, "movies.csv", ()),
    ("amazon-2023", "amazon-2023", {}, "All_Beauty.jsonl", ()),
    ("amazon-2023", "amazon-2023", {}, "meta_All_Beauty.jsonl", ()),
    ("amazon-2023", "amazon-2023", {}, "All_Beauty.jsonl.gz", ("All_Beauty.jsonl",)),
    ("steam", "steam", {}, "steam_reviews.json", ()),
    ("steam", "steam", {}, "steam_games.json", ()),
    ("steam", "steam", {}, "steam_games.json.gz", ("steam_games.json",)),
    ("lastfm-hetrec", "lastfm", {}, "user_artists.dat", ()),
    ("lastfm-hetrec", "lastfm", {}, "artists.dat", ()),
    ("lastfm-hetrec", "lastfm", {}, "user_taggedartists-timestamps.dat", ()),
    ("tabular", "tabular", TABULAR_OPTIONS, "interactions.csv", ()),
    ("tabular", "tabular", TABULAR_OPTIONS, "items.csv", ()),
]
# Bytes that mean something to one of the formats, plus anything at all.
SIGNIFICANT = st.sampled_from(
    [b":", b"::", b"|", b",", b"\t", b"\n", b"\r", b'"', b"'", b"{", b"}", b"[", b"]", b"-",
     b"0", b"9", b".", b"e", b"x", b"\x00", b"\xe9", b"\xff", b"True", b"null", b"\\"]
)  # fmt: skip
JUNK = st.one_of(
    st.binary(min_size=1, max_size=12), st.lists(SIGNIFICANT, min_size=1).map(b"".join)
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    case=st.sampled_from(CORRUPTIBLE),
    where=st.floats(min_value=0, max_value=1),
    junk=JUNK,
    cut=st.integers(min_value=0, max_value=8),
)
def test_corrupted_files_raise_only_user_errors(
    case: tuple, where: float, junk: bytes, cut: int
) -> None:
    source, fixture, options, target, gzip_files = case
    with tempfile.TemporaryDirectory() as tmp:
        folder = copy_fixture(fixture, Path(tmp), gzip_files)
        path = folder / target
        data = path.read_bytes()
        start = int(where * len(data))
        path.write_bytes(data[:start] + junk + data[start + cut :])
        try:
            log = read_source(source, folder, **options)
        except UserError as exc:
            assert "\n" not in str(exc)
        else:
            assert isinstance(log, RawLog)
            assert log.interactions.timestamp.dtype == np.int64
