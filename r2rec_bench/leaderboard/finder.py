"""Where the leaderboard's gold comes from: the pinned datasets and their gold targets.

The leaderboard's own list of datasets (``leaderboard/datasets.json``) pins each one's Hub
repo, revision and content fingerprint, and may list earlier builds whose scoring files the
pinned build kept byte-identical; :class:`DatasetFinder` locates each pinned dataset once,
checks the fingerprint of the files it actually reads, and reads each split's gold once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from r2rec_bench.errors import UserError
from r2rec_bench.hashing import canonical_json, dataset_fingerprint, sha256_text
from r2rec_bench.leaderboard.submission import Rejected, read_results
from r2rec_bench.task.dataset import ALL_CONFIGS, Dataset, open_dataset
from r2rec_bench.task.records import EvalExample

DEFAULT_PINS = Path("leaderboard/datasets.json")


@dataclass(frozen=True)
class Gold:
    """A split's examples (requests with their fixed candidates, and the gold), by user."""

    row_of: dict[str, int]
    examples: list[EvalExample]
    prompt_sha256: list[str]  # per row: hashed once, checked against every submission


# The folders of a build whose files a verified figure is computed from: the gold,
# candidates and prompts (eval), the catalog titles (items) and the training graph that static
# faithfulness reads (interactions). The reasoning corpora (sft, rl) are not among them.
SCORING_FOLDERS = ("eval/", "items/", "interactions/")


def scoring_files(file_hashes: dict[str, str]) -> dict[str, str]:
    """The data files of ``file_hashes`` (path -> sha256) that a score depends on."""
    return {
        path: digest
        for path, digest in file_hashes.items()
        if path.startswith(SCORING_FOLDERS) and path.endswith(".parquet")
    }


@dataclass(frozen=True)
class EarlierBuild:
    """An earlier build of a pinned dataset, listed so that a submission evaluated on it can
    be accepted when the pinned build kept every file its score depends on."""

    builder: str
    fingerprint: str
    files: dict[str, str]  # path -> sha256, as that build's MANIFEST.json lists them

    def scoring_difference(self, read: dict[str, str]) -> str | None:
        """The first scoring file in which this build and the files ``read`` (path -> sha256)
        differ, as a phrase; None when every one is byte-identical."""
        mine, theirs = scoring_files(self.files), scoring_files(read)
        for path in sorted(mine.keys() | theirs.keys()):
            if path not in theirs:
                return f"{path} is not in the pinned build"
            if path not in mine:
                return f"{path} is not in {self.builder}"
            if mine[path] != theirs[path]:
                return f"{path} differs (sha256 {mine[path][:16]}…, pinned {theirs[path][:16]}…)"
        return None


@dataclass(frozen=True)
class Pin:
    """A dataset the leaderboard accepts: its Hub repo, revision and content fingerprint, and
    the earlier builds whose scoring files it keeps."""

    hub_repo: str | None
    revision: str | None
    fingerprint: str
    earlier_builds: tuple[EarlierBuild, ...] = ()

    def earlier_build(self, fingerprint: str) -> EarlierBuild | None:
        return next((b for b in self.earlier_builds if b.fingerprint == fingerprint), None)


def _is_sha256(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64


def _earlier_builds(entry: dict, where: str) -> tuple[EarlierBuild, ...]:
    """A pin's ``earlier_builds``, each checked to hash to its own fingerprint."""
    listed = entry.get("earlier_builds", [])
    if not isinstance(listed, list):
        raise UserError(f"{where}: `earlier_builds` must be a list of builds")
    fix = "copy it from that build's MANIFEST.json"
    builds = []
    for k, item in enumerate(listed):
        field = f"{where}: `earlier_builds[{k}]"
        item = item if isinstance(item, dict) else {}
        builder, fingerprint, files = (
            item.get("builder"),
            item.get("fingerprint"),
            item.get("files"),
        )
        if not isinstance(builder, str) or not builder:
            raise UserError(f"{field}.builder` must name the build, e.g. its builder version")
        if not _is_sha256(fingerprint):
            raise UserError(f"{field}.fingerprint` must be 64 characters; {fix}")
        if not isinstance(files, dict) or not all(_is_sha256(d) for d in files.values()):
            raise UserError(f"{field}.files` must map each data file's path to its sha256; {fix}")
        found = dataset_fingerprint(files)
        if found != fingerprint:
            raise UserError(
                f"{field}.files` hash to fingerprint {found[:16]}…, not its `fingerprint` "
                f"{fingerprint[:16]}…; {fix}"
            )
        builds.append(EarlierBuild(builder, fingerprint, dict(files)))
    return tuple(builds)


def load_pins(path: Path) -> dict[str, Pin]:
    """The leaderboard's own list of datasets (``leaderboard/datasets.json``): name ->
    {hub_repo, revision, fingerprint, earlier_builds}. The gold always comes from a pinned
    dataset, never from where a submission says its dataset is."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(
            f"{path}: no such file; the leaderboard's pinned datasets are needed (pass --pins)"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not valid JSON ({exc})") from None
    pins = {}
    for name, entry in raw.items() if isinstance(raw, dict) else []:
        fingerprint = entry.get("fingerprint") if isinstance(entry, dict) else None
        if not _is_sha256(fingerprint):
            raise UserError(f"{path}: dataset {name!r} needs a 64-character `fingerprint`")
        earlier = _earlier_builds(entry, f"{path}: dataset {name!r}")
        pins[name] = Pin(entry.get("hub_repo"), entry.get("revision"), fingerprint, earlier)
    if not pins:
        raise UserError(f"{path}: pins no dataset; map each name to its hub_repo and fingerprint")
    return pins


class DatasetFinder:
    """Locates each pinned dataset once and reads its gold targets once per split.

    Only datasets in the leaderboard's pins are verified against. Where a pinned dataset is
    read from, first match wins: the ``--dataset`` targets given (by their manifest's name),
    ``out/<name>`` (where ``r2rec-bench build`` writes), then the pin's Hub repo at the pinned
    revision. Whatever the source, the fingerprint of the files actually read must be the
    pinned one; what a submission says about its dataset's location is never used.
    """

    def __init__(self, targets: list[str] | None = None, pins: Path = DEFAULT_PINS) -> None:
        self.pins = load_pins(pins)
        self._pins_path = Path(pins)
        self._given = {}
        for target in targets or []:
            dataset = open_dataset(target, configs=ALL_CONFIGS)
            self._given[dataset.name] = dataset
        self._datasets: dict[str, Dataset] = {}
        self._file_hashes: dict[str, dict[str, str]] = {}
        self._gold: dict[tuple[str, str], Gold] = {}

    def pin(self, name: str) -> Pin:
        """The pin of dataset ``name``; :class:`Rejected` when the leaderboard has none."""
        if name not in self.pins:
            raise Rejected(
                f"dataset {name!r} is not on this leaderboard (not in {self._pins_path}); "
                "evaluate on one of: " + ", ".join(sorted(self.pins))
            )
        return self.pins[name]

    def dataset(self, block: dict) -> Dataset:
        name = block["name"]
        pin = self.pin(name)
        if name not in self._datasets:
            local = Path("out") / name
            if name in self._given:
                dataset, where = self._given[name], "--dataset"
            elif (local / "MANIFEST.json").is_file():
                dataset, where = open_dataset(local), str(local)
            elif pin.hub_repo:
                dataset = open_dataset(pin.hub_repo, configs=ALL_CONFIGS, revision=pin.revision)
                where = f"{pin.hub_repo}@{pin.revision or 'latest'}"
            else:
                raise UserError(
                    f"dataset {name}: not at {local} and its pin names no Hub repo; pass "
                    "--dataset DIR_OR_HUB_ID"
                )
            hashes = dataset.recomputed_file_hashes()
            found = dataset_fingerprint(hashes)
            if found != pin.fingerprint:
                raise UserError(
                    f"dataset {name} ({where}, {dataset.root}): its files have fingerprint "
                    f"{found[:16]}…, not the pinned {pin.fingerprint[:16]}…; rebuild it with "
                    "`r2rec-bench build` or pass the pinned build with --dataset"
                )
            self._datasets[name] = dataset
            self._file_hashes[name] = hashes
        return self._datasets[name]

    def file_hashes(self, block: dict) -> dict[str, str]:
        """Path -> sha256 of the data files of the pinned dataset ``block`` names, hashed
        when :meth:`dataset` read them."""
        self.dataset(block)
        return self._file_hashes[block["name"]]

    def prime(self, folders: list[Path]) -> None:
        """Read the gold of each pinned dataset and split that the folders' results.json
        name, once, before verification is spread over forked processes: they inherit it
        instead of each reading it again. A folder that cannot be read is left to its own
        verification to reject."""
        for folder in folders:
            try:
                results = read_results(folder)
                self.gold(self.dataset(results["dataset"]), results["split"])
            except Rejected:
                continue

    def gold(self, dataset: Dataset, split: str) -> Gold:
        key = (dataset.fingerprint, split)
        if key not in self._gold:
            eval_split = dataset.split(split)
            examples = eval_split.examples(range(len(eval_split)))
            self._gold[key] = Gold(
                {e.request.user_id: e.index for e in examples},
                examples,
                [sha256_text(canonical_json(e.request.prompt)) for e in examples],
            )
        return self._gold[key]
