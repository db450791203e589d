"""Last.fm hetrec2011-lastfm-2k (GroupLens, HetRec 2011): tab-separated files with a header.

``user_artists.dat`` holds play counts without any time, so a (user, artist) pair is dated
by the first time the user tagged that artist (``user_taggedartists-timestamps.dat``).
"""

from __future__ import annotations

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
    show,
)
from r2rec_bench.sources.types import Catalog, Interactions, RawLog

FETCH_HINT = (
    "run `r2rec-bench data fetch lastfm-2k` or pass --raw-dir to the unzipped "
    "hetrec2011-lastfm-2k folder"
)
TIMESTAMPS_FILE = "user_taggedartists-timestamps.dat"
HEADERS = {
    "user_artists.dat": ["userID", "artistID", "weight"],
    "artists.dat": ["id", "name", "url", "pictureURL"],
    TIMESTAMPS_FILE: ["userID", "artistID", "tagID", "timestamp"],
}


def _read_dat(path: Path, columns: list[str]) -> pd.DataFrame:
    """A hetrec file after checking that its header is the published one."""
    expected = HEADERS[path.name]
    try:
        with open_text(path) as handle:
            header = handle.readline()
    except UnicodeDecodeError:
        header = ""
    if [name.strip() for name in header.lstrip("\ufeff").rstrip("\r\n").split("\t")] != expected:
        raise UserError(
            f"{at(path, 1)}: header is {show(header.rstrip())}, expected the tab-separated "
            f"{' '.join(expected)}; is this the hetrec2011-lastfm-2k file?"
        )
    return read_delimited(path, sep="\t", columns=columns, header_lines=1)


def _catalog(path: Path) -> tuple[Catalog, list[str]]:
    artists = _read_dat(path, ["item_id", "title", "url", "picture_url"])
    named = artists.assign(title=artists["title"].str.strip())
    named = named[named["title"] != ""]
    unique = named.drop_duplicates("item_id")
    notes = []
    if len(named) < len(artists):
        notes.append(f"{len(artists) - len(named)} artists of {path.name} without a name left out")
    if len(unique) < len(named):
        notes.append(f"{len(named) - len(unique)} repeated artist ids of {path.name} ignored")
    catalog = Catalog(item_id=unique["item_id"].tolist(), title=unique["title"].tolist())
    return catalog, notes


def read_lastfm_hetrec(raw_dir: Path) -> RawLog:
    """hetrec2011-lastfm-2k: ``user_artists.dat`` (userID, artistID, weight),
    ``artists.dat`` (id, name, url, pictureURL) and ``user_taggedartists-timestamps.dat``
    (userID, artistID, tagID, timestamp in ms).

    rating = weight (the play count); title = the artist's name. A pair's timestamp is the
    earliest time the user tagged the artist; pairs never tagged have no time and are left
    out, and tags of artists the user never played are ignored; the notes count both.
    """
    plays_path = require_file(raw_dir, "user_artists.dat", hint=FETCH_HINT)
    artists_path = require_file(raw_dir, "artists.dat", hint=FETCH_HINT)
    tags_path = require_file(
        raw_dir,
        TIMESTAMPS_FILE,
        hint=(
            "it is needed because user_artists.dat has no time: the temporal split dates each "
            "(user, artist) pair by the user's first tag of that artist; copy it from "
            f"hetrec2011-lastfm-2k.zip or {FETCH_HINT}"
        ),
    )
    plays = _read_dat(plays_path, ["user_id", "item_id", "weight"])
    weight = parse_numbers(plays, "weight", plays_path, header_lines=1, integer=False)
    tags = _read_dat(tags_path, ["user_id", "item_id", "tag_id", "timestamp"])
    milliseconds = parse_numbers(tags, "timestamp", tags_path, header_lines=1, integer=True)
    tagged = pd.DataFrame(
        {"user_id": tags["user_id"], "item_id": tags["item_id"], "timestamp": milliseconds // 1000}
    )
    first_tag = tagged.groupby(["user_id", "item_id"], sort=False)["timestamp"].min()
    dated = plays[["user_id", "item_id"]].join(first_tag, on=["user_id", "item_id"])
    keep = dated["timestamp"].notna().to_numpy()
    if not keep.any():
        raise UserError(
            f"{plays_path}: no (user, artist) pair was tagged by its user in {tags_path.name}, "
            f"so none has a time; check that both files come from the same hetrec release"
        )
    played = pd.MultiIndex.from_frame(plays[["user_id", "item_id"]])
    unplayed = int((~first_tag.index.isin(played)).sum())
    interactions = Interactions(
        user_id=plays["user_id"].to_numpy(dtype=object)[keep],
        item_id=plays["item_id"].to_numpy(dtype=object)[keep],
        timestamp=dated["timestamp"].to_numpy()[keep].astype(np.int64),
        rating=weight[keep],
    )
    catalog, notes = _catalog(artists_path)
    notes = [
        "timestamp of a (user, artist) pair = the first time the user tagged the artist",
        "rating = the user's play count of the artist (weight)",
        f"{int((~keep).sum())} of {len(keep)} (user, artist) pairs were never tagged by the "
        f"user, have no time and were left out",
        *notes,
    ]
    if unplayed:
        notes.append(f"{unplayed} tagged (user, artist) pairs absent from user_artists.dat ignored")
    return RawLog(
        source="lastfm-hetrec/hetrec2011-2k",
        interactions=interactions,
        catalog=catalog,
        files={p.name: sha256_file(p) for p in (plays_path, artists_path, tags_path)},
        notes=tuple(notes),
    )
