"""``leaderboard build``: verified submissions rendered into a static, self-contained site.

The site is plain files with no external asset (styles, scripts and the chart are inline),
so it works from a folder, a static host or a Hub repo. Jinja's autoescaping is on: a model
name or a reasoning sample is always shown as text. The output depends only on the
submissions (sorted, no build time), so rebuilding an unchanged leaderboard changes no byte.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from r2rec_bench import __version__
from r2rec_bench.leaderboard.finder import DatasetFinder, Gold
from r2rec_bench.leaderboard.submission import Submission
from r2rec_bench.resources import resource_dir

# (metric key, column title) of the accuracy columns, then of the faithfulness columns
# (DESIGN §9), which show "—" for an entry that reports none.
ACCURACY = (
    ("hr@1", "HR@1"),
    ("hr@5", "HR@5"),
    ("hr@10", "HR@10"),
    ("ndcg@5", "NDCG@5"),
    ("ndcg@10", "NDCG@10"),
    ("mrr", "MRR"),
    ("valid_ratio", "Valid"),
)
FAITHFULNESS = (
    ("grounding", "Grounding"),
    ("edge_validity@1", "Edge validity@1"),
    ("consistency", "Consistency"),
    # Counterfactual: they need the model itself, so verification cannot recompute them.
    ("comprehensiveness_gap", "Compr. gap (reported)"),
    ("sufficiency_gap", "Suff. gap (reported)"),
)
EXAMPLES_PER_ENTRY = 3
CHART = {"width": 640, "height": 400, "left": 64, "right": 24, "top": 20, "bottom": 52}


@dataclass(frozen=True)
class Cell:
    value: float | None
    low: float | None = None
    high: float | None = None

    @property
    def text(self) -> str:
        return "—" if self.value is None else f"{self.value:.4f}"

    @property
    def interval(self) -> str:
        return "" if self.low is None else f"[{self.low:.4f}, {self.high:.4f}]"


@dataclass(frozen=True)
class Entry:
    """One accepted submission as the site shows it."""

    dataset: str
    split: str
    name: str
    results: dict
    examples: list[dict]

    @property
    def model(self) -> str:
        return self.results["backend"]["spec"]

    @property
    def parser_note(self) -> str:
        """How the answers were read, where it departs from the default parser."""
        return "fuzzy title matching" if self.results["parser"].get("fuzzy") else ""

    @property
    def page(self) -> str:
        # A folder per dataset and split: names are safe folder names, so no two entries can
        # share a page (dataset--name joined by "--" could: "a--b"/"c" and "a"/"b--c").
        return f"entries/{self.dataset}/{self.split}/{self.name}.html"

    def cell(self, key: str) -> Cell:
        metrics = dict(self.results["metrics"])
        metrics.update((self.results.get("faithfulness") or {}).get("metrics") or {})
        entry = metrics.get(key)
        if not isinstance(entry, dict) or entry.get("value") is None:
            return Cell(None)
        return Cell(entry["value"], entry.get("ci_low"), entry.get("ci_high"))

    def summary(self) -> dict:
        """The entry in leaderboard.json."""
        columns = (*ACCURACY, *FAITHFULNESS)
        return {
            "name": self.name,
            "model": self.model,
            "mode": self.results["mode"],
            "parser": self.results["parser"],
            "n_users": self.results["n_users"],
            "page": self.page,
            "metrics": {
                key: {"value": c.value, "ci_low": c.low, "ci_high": c.high}
                for key, _ in columns
                if (c := self.cell(key)).value is not None
            },
        }


@dataclass(frozen=True)
class Board:
    """The entries of one dataset split, best HR@1 first."""

    dataset: str
    split: str
    fingerprint: str
    entries: list[Entry]

    @property
    def columns(self) -> list[tuple[str, str]]:
        return [*ACCURACY, *FAITHFULNESS]

    @property
    def anchor(self) -> str:
        return f"{self.dataset}-{self.split}"


def _examples(submission: Submission, gold: Gold) -> list[dict]:
    """The first few users in split order, with what the model answered and why."""
    samples = sorted(submission.samples, key=lambda s: gold.row_of[s["user_id"]])
    examples = []
    for sample in samples[:EXAMPLES_PER_ENTRY]:
        example = gold.examples[gold.row_of[sample["user_id"]]]
        titles = example.request.candidate_titles
        examples.append(
            {
                "user_id": sample["user_id"],
                "target": example.gold.target_title,
                "answer": [titles[j] for j in sample["ranking"][:5]],
                "target_rank": sample["target_rank"],
                "valid": sample["valid"],
                "output": sample.get("output"),
            }
        )
    return examples


def collect(submissions: list[Submission], finder: DatasetFinder) -> list[Board]:
    """Group verified submissions into one board per dataset split, sorted."""
    groups: dict[tuple[str, str], list[Entry]] = {}
    fingerprints = {}
    for submission in submissions:
        results = submission.results
        dataset = finder.dataset(results["dataset"])
        gold = finder.gold(dataset, results["split"])
        key = (submission.dataset_name, results["split"])
        fingerprints[key] = dataset.fingerprint
        groups.setdefault(key, []).append(
            Entry(key[0], key[1], submission.name, results, _examples(submission, gold))
        )
    return [
        Board(
            dataset,
            split,
            fingerprints[(dataset, split)],
            sorted(entries, key=lambda e: (-e.cell("hr@1").value, e.name)),
        )
        for (dataset, split), entries in sorted(groups.items())
    ]


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    return [low + (high - low) * i / count for i in range(count + 1)]


def chart(board: Board, metric: str, title: str) -> dict | None:
    """Points (in SVG pixels) of HR@1 against one faithfulness metric; None when no entry
    reports it."""
    points = [(e, e.cell(metric), e.cell("hr@1")) for e in board.entries]
    points = [(e, x.value, y.value) for e, x, y in points if x.value is not None]
    if not points:
        return None
    geometry = CHART
    x_low = min(0.0, *(x for _, x, _ in points))
    x_high = max(1.0, *(x for _, x, _ in points))
    y_high = max(1.0, *(y for _, _, y in points))
    plot_w = geometry["width"] - geometry["left"] - geometry["right"]
    plot_h = geometry["height"] - geometry["top"] - geometry["bottom"]

    def px(x: float) -> float:
        return round(geometry["left"] + (x - x_low) / (x_high - x_low) * plot_w, 1)

    def py(y: float) -> float:
        return round(geometry["top"] + (1 - y / y_high) * plot_h, 1)

    return {
        "metric": metric,
        "title": title,
        "geometry": geometry,
        "x_axis": {"y": py(0.0), "x0": px(x_low), "x1": px(x_high)},
        "x_ticks": [(px(t), f"{t:.2f}") for t in _ticks(x_low, x_high)],
        "y_ticks": [(py(t), f"{t:.2f}") for t in _ticks(0.0, y_high)],
        "points": [
            {"x": px(x), "y": py(y), "label": e.model, "page": e.page, "hr1": y, "value": x}
            for e, x, y in points
        ],
    }


def _markdown_text(text: str) -> str:
    """Text as literal Markdown table content: no HTML, emphasis, links or cell breaks."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for char in "\\`*_[]|":
        text = text.replace(char, "\\" + char)
    return " ".join(text.split())


def markdown_tables(boards: list[Board]) -> str:
    """One Markdown table per dataset split, value [95% interval] per cell."""
    lines = []
    for board in boards:
        titles = [title for _, title in board.columns]
        lines += [
            "",
            f"## {board.dataset} ({board.split})",
            "",
            f"Dataset fingerprint `{board.fingerprint}`.",
            "",
            "| # | model | mode | " + " | ".join(titles) + " |",
            "|---:|---|---|" + "---:|" * len(titles),
        ]
        for place, entry in enumerate(board.entries, 1):
            cells = [entry.cell(key) for key, _ in board.columns]
            text = [f"{c.text} {c.interval}".strip() for c in cells]
            lines.append(
                f"| {place} | {_markdown_text(entry.model)} | {entry.results['mode']} | "
                + " | ".join(text)
                + " |"
            )
    return "\n".join(lines).lstrip("\n") + "\n"


def markdown(boards: list[Board]) -> str:
    """LEADERBOARD.md."""
    return (
        "# r2rec-bench leaderboard\n\n"
        "Each entry's accuracy and static faithfulness figures were recomputed from its "
        "per-user samples against the gold targets of the dataset this leaderboard pins "
        "(`r2rec-bench leaderboard verify`): proof that the samples are consistent and the "
        "arithmetic right, not that the named model produced the outputs. The counterfactual "
        "columns (Compr. gap, Suff. gap) need the model itself and are checked only for "
        "consistency with the reported per-user values. Cells: value [95% bootstrap "
        "interval]; — where an entry reports no figure.\n\n" + markdown_tables(boards)
    )


def _environment():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    return Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def results_card(boards: list[Board]) -> str:
    """The results dataset repo's card (README.md), from ``hub_cards/results_card.md``."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    # A Markdown card: nothing in it is HTML, and the table was escaped for Markdown.
    environment = Environment(
        loader=FileSystemLoader(resource_dir("hub_cards")),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    return environment.get_template("results_card.md").render(
        boards=boards, tables=markdown_tables(boards), version=__version__
    )


def render_site(boards: list[Board], out: Path) -> None:
    """Write index.html, a page per entry, leaderboard.json, LEADERBOARD.md and the
    results-repo card (README.md) into ``out``, which must exist and be empty."""
    environment = _environment()
    charts = {
        board.anchor: [c for key, title in FAITHFULNESS if (c := chart(board, key, title))]
        for board in boards
    }
    (out / "index.html").write_text(
        environment.get_template("index.html").render(boards=boards, charts=charts),
        encoding="utf-8",
    )
    page = environment.get_template("entry.html")
    for board in boards:
        for entry in board.entries:
            (out / entry.page).parent.mkdir(parents=True, exist_ok=True)
            (out / entry.page).write_text(
                page.render(board=board, entry=entry, columns=board.columns), encoding="utf-8"
            )
    payload = {
        "schema_version": 1,
        "boards": [
            {
                "dataset": board.dataset,
                "split": board.split,
                "fingerprint": board.fingerprint,
                "entries": [entry.summary() for entry in board.entries],
            }
            for board in boards
        ],
    }
    (out / "leaderboard.json").write_text(
        json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (out / "LEADERBOARD.md").write_text(markdown(boards), encoding="utf-8")
    (out / "README.md").write_text(results_card(boards), encoding="utf-8")
