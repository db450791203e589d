"""How the site labels and ranks a board's rows: the kind of model, the mode as a visitor
reads it, the parameter count and its size bucket, the Hub link, and ranks that show ties.

Everything here is a function of a submission's results.json alone, never of the machine
that renders the site, so a rebuild stays byte-identical.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from r2rec_bench.task.dataset import REPO_ID

# (value, label) of the kind filter, in the order the page lists them.
KINDS = (
    ("llm", "LLM"),
    ("baseline", "classical baseline"),
    ("reference", "reference recommender"),
)
KIND_LABELS = dict(KINDS)
# (value, label) of the mode filter: a classical baseline ranks the candidates by its scores
# whatever mode the harness ran it in, so it is shown as "scores", not "generate".
MODES = (("generate", "generate"), ("rank", "rank"), ("scores", "scores"))
# (value, label, upper bound in parameters) of the LLM size filter; the last has no bound.
SIZES = (
    ("under-1b", "under 1B", 1e9),
    ("1b-4b", "1B to 4B", 4e9),
    ("4b-10b", "4B to 10B", 1e10),
    ("10b-40b", "10B to 40B", 4e10),
    ("40b-up", "40B and over", float("inf")),
)
UNKNOWN_SIZE = ("unknown", "size unknown")
HUB = "https://huggingface.co/"
_COMMIT = re.compile(r"[0-9a-f]{40}")


def model_kind(spec: str) -> str:
    """``baseline`` for ``baseline:*``, ``reference`` for ``ref:*``, else ``llm``."""
    prefix, colon, _ = spec.partition(":")
    if colon and prefix == "baseline":
        return "baseline"
    if colon and prefix == "ref":
        return "reference"
    return "llm"


def display_mode(kind: str, mode: str) -> str:
    return "scores" if kind == "baseline" else mode


def parameter_count(model: dict) -> int | None:
    """The model's parameter count as the backend recorded it; None where it recorded none
    (a served model) or 0 (a reference recommender has no parameters)."""
    count = model.get("parameters")
    return count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else None


def size_bucket(parameters: int | None) -> str:
    if parameters is None:
        return UNKNOWN_SIZE[0]
    return next(value for value, _, bound in SIZES if parameters < bound)


def format_parameters(parameters: int | None) -> str:
    """135M, 1.5B, 146K: three significant figures at most."""
    if parameters is None:
        return "—"
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if parameters >= scale:
            return f"{parameters / scale:.3g}{suffix}"
    return str(parameters)


def _hub_id(name: str, revision: object) -> str | None:
    # A local folder can look like ORG/NAME too; only a model fetched from the Hub records a
    # commit as its revision (a local path records none, a prepared model its file's hash).
    if REPO_ID.fullmatch(name) and isinstance(revision, str) and _COMMIT.fullmatch(revision):
        return name
    return None


def hub_url(spec: str, model: dict) -> str | None:
    """The Hub page of what was evaluated: the adapter's when there is one (the base model's
    page would name a different model), else the model's; None unless it came from the Hub."""
    prefix, colon, rest = spec.partition(":")
    if colon and prefix != "hf":
        return None  # baseline:, ref:, openai: and the like name no Hub model
    adapter = model.get("adapter")
    if isinstance(adapter, dict):
        repo = _hub_id(str(adapter.get("path", "")), adapter.get("revision"))
    else:
        repo = _hub_id(rest if colon else spec, model.get("revision"))
    return HUB + repo if repo else None


@dataclass(frozen=True)
class Rank:
    """A row's place in HR@1 order, and the best place its interval allows."""

    place: int
    best: int

    @property
    def tied(self) -> bool:
        return self.best < self.place

    @property
    def text(self) -> str:
        return f"{self.best}–{self.place}" if self.tied else str(self.place)


def tie_ranks(intervals: Sequence[tuple[float, float]]) -> list[Rank]:
    """Ranks of rows given best first, each by its HR@1 95% interval (low, high).

    The row at place p may be as good as place b, where b is 1 + the number of rows above it
    whose interval lies entirely above its own (their low end above its high end). A row
    whose interval overlaps, or touches, that of any row above it is shown as "b–p"; a row
    that every row above beats clearly is shown as "p". Rows below never move a row up: they
    are at most as good by value.
    """
    ranks = []
    for place, (_, high) in enumerate(intervals, 1):
        clearly_above = sum(1 for low, _ in intervals[: place - 1] if low > high)
        ranks.append(Rank(place, clearly_above + 1))
    return ranks
