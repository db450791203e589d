"""``r2rec-bench data fetch``: put a source's raw files in the cache and verify checksums.

MovieLens-100K's default comes from the package index: RecBole's wheel ships it as atomic
files, so ``pip download`` (the same index a machine installs from) fetches it, pinned by
version and sha256, and the files are read out of the archive without installing RecBole.
Official sources (GroupLens, UCSD) are downloaded only when asked for; their archives are not
published with checksums, so the first download records a ``SHA256SUMS`` file and every later
fetch verifies against it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from r2rec_bench.atomic import atomic_directory
from r2rec_bench.errors import UserError
from r2rec_bench.hashing import sha256_file

CHECKSUMS = "SHA256SUMS"


@dataclass(frozen=True)
class IndexWheel:
    """Files inside a wheel on the package index."""

    requirement: str
    sha256: str
    members: dict[str, str]  # path in the archive -> file name in the raw folder
    description: str


@dataclass(frozen=True)
class Download:
    """Files from an official site: plain files, or members of a zip archive."""

    urls: tuple[str, ...]
    members: dict[str, str] = field(default_factory=dict)  # zip member -> file name
    description: str = ""


# The categories of Amazon Reviews 2023 as its files name them.
AMAZON_2023_CATEGORIES = (
    "All_Beauty", "Amazon_Fashion", "Appliances", "Arts_Crafts_and_Sewing", "Automotive",
    "Baby_Products", "Beauty_and_Personal_Care", "Books", "CDs_and_Vinyl",
    "Cell_Phones_and_Accessories", "Clothing_Shoes_and_Jewelry", "Digital_Music", "Electronics",
    "Gift_Cards", "Grocery_and_Gourmet_Food", "Handmade_Products", "Health_and_Household",
    "Health_and_Personal_Care", "Home_and_Kitchen", "Industrial_and_Scientific", "Kindle_Store",
    "Magazine_Subscriptions", "Movies_and_TV", "Musical_Instruments", "Office_Products",
    "Patio_Lawn_and_Garden", "Pet_Supplies", "Software", "Sports_and_Outdoors",
    "Subscription_Boxes", "Tools_and_Home_Improvement", "Toys_and_Games", "Video_Games",
    "Unknown",
)  # fmt: skip
_GROUPLENS = "https://files.grouplens.org/datasets"
_UCSD = "https://datarepo.eng.ucsd.edu/mcauley_group/data"


def _movielens_zip(name: str, files: tuple[str, ...]) -> Download:
    return Download(
        urls=(f"{_GROUPLENS}/movielens/{name}.zip",),
        members={f"{name}/{f}": f for f in files},
        description=f"GroupLens {name}.zip",
    )


# name -> {source -> how to get it}; the first source of each name is its default.
FETCHABLE: dict[str, dict[str, IndexWheel | Download]] = {
    "ml-100k": {
        "recbole": IndexWheel(
            requirement="recbole==1.2.1",
            sha256="9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407",
            members={
                f"recbole/dataset_example/ml-100k/ml-100k.{ext}": f"ml-100k.{ext}"
                for ext in ("inter", "item", "user")
            },
            description="RecBole 1.2.1 wheel from the package index (atomic files)",
        ),
        "grouplens": _movielens_zip("ml-100k", ("u.data", "u.item", "u.user")),
    },
    "ml-1m": {"grouplens": _movielens_zip("ml-1m", ("ratings.dat", "movies.dat", "users.dat"))},
    **{
        name: {"grouplens": _movielens_zip(name, ("ratings.csv", "movies.csv"))}
        for name in ("ml-20m", "ml-25m", "ml-32m", "ml-latest", "ml-latest-small")
    },
    "lastfm-2k": {
        "grouplens": Download(
            urls=(f"{_GROUPLENS}/hetrec2011/hetrec2011-lastfm-2k.zip",),
            members={
                f: f
                for f in ("user_artists.dat", "artists.dat", "user_taggedartists-timestamps.dat")
            },
            description="GroupLens HetRec 2011 Last.fm 2K",
        )
    },
    "steam": {
        "ucsd": Download(
            urls=(f"{_UCSD}/steam/steam_reviews.json.gz", f"{_UCSD}/steam/steam_games.json.gz"),
            description="UCSD Steam reviews and game metadata (Kang & McAuley)",
        )
    },
    "amazon-2023": {
        "ucsd": Download(
            urls=(
                f"{_UCSD}/amazon_2023/raw/review_categories/{{category}}.jsonl.gz",
                f"{_UCSD}/amazon_2023/raw/meta_categories/meta_{{category}}.jsonl.gz",
            ),
            description="Amazon Reviews 2023 (McAuley Lab), one category",
        )
    },
}


def cache_root() -> Path:
    """``$R2REC_BENCH_CACHE`` or ``~/.cache/r2rec-bench``."""
    configured = os.environ.get("R2REC_BENCH_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "r2rec-bench"


def default_raw_dir(name: str, category: str | None = None) -> Path:
    return cache_root() / "raw" / (f"{name}-{category}" if category else name)


def _resolve(name: str, source: str | None) -> tuple[str, IndexWheel | Download]:
    if name not in FETCHABLE:
        raise UserError(
            f"unknown dataset {name!r} for `data fetch`; choose one of: {', '.join(FETCHABLE)}"
        )
    sources = FETCHABLE[name]
    source = source or next(iter(sources))
    if source not in sources:
        raise UserError(
            f"{name} has no source {source!r}; use --source {' or --source '.join(sources)}"
        )
    return source, sources[source]


def _read_checksums(raw_dir: Path) -> dict[str, str]:
    path = raw_dir / CHECKSUMS
    if not path.is_file():
        return {}
    pairs = (line.split(maxsplit=1) for line in path.read_text().splitlines() if line.strip())
    return {name.strip(): digest for digest, name in pairs}


def _write_checksums(raw_dir: Path, origin: str) -> None:
    lines = [
        f"{sha256_file(path)}  {path.name}"
        for path in sorted(raw_dir.iterdir())
        if path.is_file() and path.name not in (CHECKSUMS, "SOURCE")
    ]
    (raw_dir / CHECKSUMS).write_text("\n".join(lines) + "\n")
    (raw_dir / "SOURCE").write_text(origin + "\n")


def verify(raw_dir: Path) -> dict[str, str]:
    """Check every file listed in the folder's SHA256SUMS; return the listing."""
    expected = _read_checksums(raw_dir)
    if not expected:
        raise UserError(f"{raw_dir / CHECKSUMS}: missing; fetch the data again with --force")
    for name, digest in expected.items():
        path = raw_dir / name
        if not path.is_file():
            raise UserError(f"{path}: listed in {CHECKSUMS} but missing; fetch again with --force")
        if sha256_file(path) != digest:
            raise UserError(
                f"{path}: sha256 differs from {CHECKSUMS} (file changed or corrupt); "
                f"fetch again with --force"
            )
    return expected


def _extract(archive: Path, members: dict[str, str], into: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as bundle:
            names = set(bundle.namelist())
            for member, local in members.items():
                # Some archives nest the files one folder deeper than others; match the tail.
                found = (
                    member
                    if member in names
                    else next(
                        (n for n in sorted(names) if n.endswith("/" + member.rsplit("/", 1)[-1])),
                        None,
                    )
                )
                if found is None:
                    raise UserError(f"{archive}: has no member {member}; is it the right archive?")
                (into / local).write_bytes(bundle.read(found))
    except zipfile.BadZipFile:
        raise UserError(f"{archive}: not a zip archive; check the URL or the download") from None


def _pip_download(requirement: str, dest: Path, quiet: bool) -> Path:
    """``pip download`` one pinned wheel (no dependencies) from pip's configured index into
    ``dest``; returns the wheel. pip's own progress goes to stderr, never to stdout."""
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--dest", str(dest), requirement,
    ]  # fmt: skip
    if quiet:
        command.insert(4, "--quiet")
    if quiet:
        completed = subprocess.run(command, capture_output=True, text=True)
    else:  # pip's progress on stderr (fd 2), so that stdout stays machine-readable (--json)
        completed = subprocess.run(command, stdout=2, text=True)
    if completed.returncode != 0:
        detail = (completed.stderr or "").strip().splitlines()[-1:] if quiet else []
        raise UserError(
            f"pip could not download {requirement} from the package index"
            f"{': ' + detail[0] if detail else ''}; check that pip can reach the index"
        )
    wheels = list(Path(dest).glob("*.whl"))
    if len(wheels) != 1:
        raise UserError(f"pip download of {requirement} gave no single wheel")
    return wheels[0]


def check_sha256(path: Path, expected: str, fix: str) -> None:
    """``UserError`` (one line: the file, both digests and ``fix``) unless ``path`` hashes to
    ``expected``."""
    digest = sha256_file(path)
    if digest != expected:
        raise UserError(
            f"{path.name}: checksum mismatch, sha256 {digest} differs from the pinned "
            f"{expected} (truncated or altered file); refusing to use it; {fix}"
        )


def download_wheel(requirement: str, sha256: str, dest: Path, *, quiet: bool = False) -> Path:
    """Download the wheel pinned by ``requirement`` (``name==version``) into the folder
    ``dest`` with pip and verify it against ``sha256``; returns its path. Shared by every
    fetch from the package index (datasets here, models in :mod:`r2rec_bench.models`)."""
    wheel = _pip_download(requirement, Path(dest), quiet)
    check_sha256(
        wheel, sha256, "the package index served another file: retry, and check pip's index"
    )
    return wheel


def _fetch_wheel(spec: IndexWheel, into: Path, quiet: bool) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        wheel = download_wheel(spec.requirement, spec.sha256, Path(scratch), quiet=quiet)
        _extract(wheel, spec.members, into)


def _download(url: str, destination: Path, quiet: bool) -> None:
    from tqdm.auto import tqdm

    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with (
                open(destination, "wb") as handle,
                tqdm(
                    total=total, unit="B", unit_scale=True, desc=destination.name, disable=quiet
                ) as bar,
            ):
                for block in iter(lambda: response.read(1 << 20), b""):
                    handle.write(block)
                    bar.update(len(block))
    except OSError as exc:
        raise UserError(f"{url}: download failed ({exc}); check the URL and your network") from None


def _fetch_download(spec: Download, into: Path, urls: tuple[str, ...], quiet: bool) -> None:
    for url in urls:
        file_name = url.rstrip("/").rsplit("/", 1)[-1]
        if spec.members:
            with tempfile.TemporaryDirectory() as scratch:
                archive = Path(scratch) / file_name
                _download(url, archive, quiet)
                _extract(archive, spec.members, into)
        else:
            _download(url, into / file_name, quiet)


def fetch(
    name: str,
    *,
    source: str | None = None,
    raw_dir: Path | None = None,
    category: str | None = None,
    urls: tuple[str, ...] = (),
    force: bool = False,
    quiet: bool = False,
) -> Path:
    """Fetch ``name`` into ``raw_dir`` (default: the cache) unless it is already there and
    verifies; returns the folder. ``urls`` replaces the official addresses (a mirror)."""
    source, spec = _resolve(name, source)
    if name == "amazon-2023" and category not in AMAZON_2023_CATEGORIES:
        raise UserError(
            f"amazon-2023 needs --category, one of: {', '.join(AMAZON_2023_CATEGORIES)}"
        )
    raw_dir = Path(raw_dir) if raw_dir else default_raw_dir(name, category)
    origin = f"{name} {source}"
    if raw_dir.is_dir() and not force:
        recorded = (raw_dir / "SOURCE").read_text().strip() if (raw_dir / "SOURCE").exists() else ""
        if recorded == origin:
            verify(raw_dir)
            return raw_dir
    with atomic_directory(raw_dir) as staging:
        if isinstance(spec, IndexWheel):
            _fetch_wheel(spec, staging, quiet)
        else:
            chosen = urls or tuple(u.format(category=category) for u in spec.urls)
            if len(chosen) != len(spec.urls):
                raise UserError(f"{name} needs {len(spec.urls)} --url value(s), one per file")
            _fetch_download(spec, staging, chosen, quiet)
        _write_checksums(staging, origin)
    return raw_dir
