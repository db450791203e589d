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
from r2rec_bench.leaderboard import rows
from r2rec_bench.leaderboard.chart import chart
from r2rec_bench.leaderboard.finder import DatasetFinder, EarlierBuild, Gold
from r2rec_bench.leaderboard.rows import Rank
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
# The tie rule as the page, LEADERBOARD.md and docs/leaderboard.md state it
# (rows.tie_ranks implements it).
RANK_RULE = (
    "Ranks are by HR@1 among the models of a board (LLMs and classical baselines; reference "
    "recommenders are listed apart, unranked). A row at place p is shown as b–p when its "
    "HR@1 95% interval overlaps (or touches) the interval of a row above it, where b is 1 "
    "plus the number of rows above whose interval lies entirely above its own (their lower "
    "end above its upper end): it may be as good as place b. A row whose interval every row "
    "above clears is shown as p."
)
EXAMPLES_PER_ENTRY = 3


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

    @property
    def range(self) -> str:
        """The interval as the index's cells show it: three decimals, so that fourteen
        columns fit a 1400 px wide page (the entry page and LEADERBOARD.md give four)."""
        return "" if self.low is None else f"{self.low:.3f}–{self.high:.3f}"

    @property
    def bounds(self) -> tuple[float, float]:
        """The interval, or the value itself where an entry reports none."""
        return (self.value, self.value) if self.low is None else (self.low, self.high)


@dataclass(frozen=True)
class Entry:
    """One accepted submission as the site shows it."""

    dataset: str
    split: str
    name: str
    results: dict
    examples: list[dict]
    earlier_build: EarlierBuild | None = None  # the build it was evaluated on, if not the pinned
    seeds: dict | None = None  # seeds.json: the model's other seeds, verified (leaderboard.seeds)

    def spread(self, key: str) -> dict | None:
        """``key`` across the model's seeds (mean, sd, min, max, values), or None."""
        return (self.seeds or {}).get("spread", {}).get(key)

    def seed_text(self, key: str) -> str:
        """E.g. "5 seeds: 0.4470 ± 0.0120" (mean ± sample sd); empty without seeds."""
        spread = self.spread(key)
        if spread is None or spread["mean"] is None:
            return ""
        n = len(spread["values"])
        return f"{n} seeds: {spread['mean']:.4f} ± {spread['sd']:.4f}"

    @property
    def model(self) -> str:
        return self.results["backend"]["spec"]

    @property
    def kind(self) -> str:
        return rows.model_kind(self.model)

    @property
    def mode(self) -> str:
        return rows.display_mode(self.kind, self.results["mode"])

    @property
    def label(self) -> str:
        """What the row is, e.g. "classical baseline · scores"."""
        return f"{rows.KIND_LABELS[self.kind]} · {self.mode}"

    @property
    def parameters(self) -> int | None:
        return rows.parameter_count(self.results.get("model") or {})

    @property
    def parameters_text(self) -> str:
        return rows.format_parameters(self.parameters)

    @property
    def size(self) -> str:
        """The LLM size bucket; empty for the other kinds, which the size filter leaves be."""
        return rows.size_bucket(self.parameters) if self.kind == "llm" else ""

    @property
    def hub_url(self) -> str | None:
        return rows.hub_url(self.model, self.results.get("model") or {})

    @property
    def parser_note(self) -> str:
        """How the answers were read, where it departs from the default parser."""
        return "fuzzy title matching" if self.results["parser"].get("fuzzy") else ""

    @property
    def build_note(self) -> str:
        """Where the entry was evaluated on an earlier build that the pin accepts, and why."""
        if self.earlier_build is None:
            return ""
        return (
            f"evaluated on {self.earlier_build.builder}; its eval, items and interactions "
            "files are identical to the pinned build's"
        )

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

    def summary(self, rank: Rank | None) -> dict:
        """The entry in leaderboard.json; ``rank`` is None for a reference recommender."""
        columns = (*ACCURACY, *FAITHFULNESS)
        earlier = None
        if self.earlier_build is not None:
            earlier = {
                "builder": self.earlier_build.builder,
                "fingerprint": self.earlier_build.fingerprint,
                "note": self.build_note,
            }
        return {
            "name": self.name,
            "model": self.model,
            "kind": self.kind,
            "mode": self.results["mode"],
            "parameters": self.parameters,
            "rank": None if rank is None else {"place": rank.place, "best": rank.best},
            "parser": self.results["parser"],
            "n_users": self.results["n_users"],
            "page": self.page,
            "earlier_build": earlier,
            "seeds": None
            if self.seeds is None
            else {"seeds": self.seeds["seeds"], "spread": self.seeds["spread"]},
            "metrics": {
                key: {"value": c.value, "ci_low": c.low, "ci_high": c.high}
                for key, _ in columns
                if (c := self.cell(key)).value is not None
            },
        }


@dataclass(frozen=True)
class Board:
    """The entries of one dataset split, best HR@1 first. Reference recommenders are listed
    apart and not ranked: they calibrate the faithfulness metrics, they do not compete."""

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

    @property
    def ranked(self) -> list[tuple[Rank, Entry]]:
        """The models (LLMs and classical baselines) with their ranks."""
        models = [e for e in self.entries if e.kind != "reference"]
        ranks = rows.tie_ranks([e.cell("hr@1").bounds for e in models])
        return list(zip(ranks, models, strict=True))

    @property
    def references(self) -> list[Entry]:
        return [e for e in self.entries if e.kind == "reference"]

    @property
    def reference_rows(self) -> list[tuple[None, Entry]]:
        """The reference recommenders as the index's table takes rows: with no rank."""
        return [(None, e) for e in self.references]


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
        pin = finder.pin(results["dataset"]["name"])
        earlier = pin.earlier_build(results["dataset"]["fingerprint"])
        examples = _examples(submission, gold)
        entry = Entry(*key, submission.name, results, examples, earlier, submission.seeds)
        groups.setdefault(key, []).append(entry)
    return [
        Board(
            dataset,
            split,
            fingerprints[(dataset, split)],
            sorted(entries, key=lambda e: (-e.cell("hr@1").value, e.name)),
        )
        for (dataset, split), entries in sorted(groups.items())
    ]


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
            "| # | model | type | " + " | ".join(titles) + " |",
            "|---:|---|---|" + "---:|" * len(titles),
        ]
        listed = [(rank.text, e) for rank, e in board.ranked]
        for place, entry in listed + [("—", e) for e in board.references]:
            text = [_markdown_cell(entry, key) for key, _ in board.columns]
            kind = " · ".join(filter(None, (entry.label, _markdown_text(entry.build_note))))
            lines.append(
                f"| {place} | {_markdown_text(entry.model)} | {kind} | " + " | ".join(text) + " |"
            )
    return "\n".join(lines).lstrip("\n") + "\n"


def _markdown_cell(entry: Entry, key: str) -> str:
    """Value [interval]; HR@1 also gives the spread over the seeds when there are several."""
    cell = entry.cell(key)
    seeds = entry.seed_text(key) if key == "hr@1" else ""
    return " ".join(filter(None, (cell.text, cell.interval, seeds and f"({seeds})")))


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
        "interval]; — where an entry reports no figure. An entry run under several seeds "
        "shows the first seed's run, verified like any other, and after its HR@1 the mean ± "
        "sample standard deviation over all its seeds, each seed's rankings verified too. "
        + RANK_RULE
        + "\n\n"
        + markdown_tables(boards)
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
        boards=boards, tables=markdown_tables(boards), rank_rule=RANK_RULE, version=__version__
    )


def leaderboard_json(boards: list[Board]) -> str:
    """leaderboard.json: every board's entries, best HR@1 first, with their ranks."""
    payload = {"schema_version": 1, "boards": []}
    for board in boards:
        ranks = {entry.name: rank for rank, entry in board.ranked}
        payload["boards"].append(
            {
                "dataset": board.dataset,
                "split": board.split,
                "fingerprint": board.fingerprint,
                "entries": [entry.summary(ranks.get(entry.name)) for entry in board.entries],
            }
        )
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"


def render_site(boards: list[Board], out: Path) -> None:
    """Write index.html, submit.html, a page per entry, leaderboard.json, LEADERBOARD.md and
    the results-repo card (README.md) into ``out``, which must exist and be empty."""
    environment = _environment()
    charts = {
        board.anchor: [c for key, title in FAITHFULNESS if (c := chart(board, key, title))]
        for board in boards
    }
    filters = {"kinds": rows.KINDS, "modes": rows.MODES, "sizes": rows.SIZES}
    pages = {
        "index.html": {"charts": charts, "filters": filters, "unknown_size": rows.UNKNOWN_SIZE},
        "submit.html": {},
    }
    for name, context in pages.items():
        (out / name).write_text(
            environment.get_template(name).render(boards=boards, rank_rule=RANK_RULE, **context),
            encoding="utf-8",
        )
    page = environment.get_template("entry.html")
    for board in boards:
        for entry in board.entries:
            (out / entry.page).parent.mkdir(parents=True, exist_ok=True)
            (out / entry.page).write_text(
                page.render(board=board, entry=entry, columns=board.columns), encoding="utf-8"
            )
    (out / "leaderboard.json").write_text(leaderboard_json(boards), encoding="utf-8")
    (out / "LEADERBOARD.md").write_text(markdown(boards), encoding="utf-8")
    (out / "README.md").write_text(results_card(boards), encoding="utf-8")
