"""Where the leaderboard's gold comes from: the pinned datasets and their gold targets.

The leaderboard's own list of datasets (``leaderboard/datasets.json``) pins each one's Hub
repo, revision and content fingerprint; :class:`DatasetFinder` locates each pinned dataset
once, checks the fingerprint of the files it actually reads, and reads each split's gold once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from r2rec_bench.errors import UserError
from r2rec_bench.hashing import canonical_json, sha256_text
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


@dataclass(frozen=True)
class Pin:
    """A dataset the leaderboard accepts: its Hub repo, revision and content fingerprint."""

    hub_repo: str | None
    revision: str | None
    fingerprint: str


def load_pins(path: Path) -> dict[str, Pin]:
    """The leaderboard's own list of datasets (``leaderboard/datasets.json``): name ->
    {hub_repo, revision, fingerprint}. The gold always comes from a pinned dataset, never
    from where a submission says its dataset is."""
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
        if not isinstance(fingerprint, str) or len(fingerprint) != 64:
            raise UserError(f"{path}: dataset {name!r} needs a 64-character `fingerprint`")
        pins[name] = Pin(entry.get("hub_repo"), entry.get("revision"), fingerprint)
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
            found = dataset.recomputed_fingerprint()
            if found != pin.fingerprint:
                raise UserError(
                    f"dataset {name} ({where}, {dataset.root}): its files have fingerprint "
                    f"{found[:16]}…, not the pinned {pin.fingerprint[:16]}…; rebuild it with "
                    "`r2rec-bench build` or pass the pinned build with --dataset"
                )
            self._datasets[name] = dataset
        return self._datasets[name]

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
