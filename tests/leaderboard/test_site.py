"""`r2rec-bench leaderboard build`: what the static site holds (a tab per dataset split,
ranks with ties, labelled rows, the how-to-submit page), that it has no external asset, that
markup from a submission stays text, and that a rebuild changes no byte."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from r2rec_bench.leaderboard.site import FAITHFULNESS
from tests.conftest import run_cli
from tests.leaderboard.conftest import (
    DATASET,
    EVIL,
    SYNTHETIC_ENTRIES,
    file_submission,
    make_evil,
)

FAITHFULNESS_KEYS = [key for key, _ in FAITHFULNESS]


def build(submissions: Path, dataset: Path, out: Path):
    return run_cli(
        "leaderboard", "build", "--submissions", str(submissions), "--out", str(out),
        "--dataset", str(dataset),
    )  # fmt: skip


@pytest.fixture
def site(submissions, evaluated, ml100k_build, tmp_path) -> Path:
    make_evil(file_submission(evaluated["hallucinator"], submissions, "evil"), ml100k_build)
    out = tmp_path / "site"
    result = build(submissions, ml100k_build, out)
    assert result.returncode == 0, result.stderr
    assert f"3 entries on 1 dataset split(s) in {out}; open file://" in result.stdout
    return out


def test_site_files_and_tables(site, evaluated):
    assert sorted(str(p.relative_to(site)) for p in site.rglob("*")) == [
        "LEADERBOARD.md",
        "README.md",
        "entries",
        f"entries/{DATASET}",
        f"entries/{DATASET}/test",
        f"entries/{DATASET}/test/baseline--pop.html",
        f"entries/{DATASET}/test/baseline--random.html",
        f"entries/{DATASET}/test/evil.html",
        "index.html",
        "leaderboard.json",
        "submit.html",
    ]
    pop = json.loads((evaluated["pop"] / "results.json").read_text())
    board = json.loads((site / "leaderboard.json").read_text())["boards"][0]
    assert (board["dataset"], board["split"]) == (DATASET, "test")
    assert board["fingerprint"] == pop["dataset"]["fingerprint"]
    assert board["entries"][0]["model"] == "baseline:pop"  # best HR@1 first
    assert board["entries"][0]["metrics"]["hr@1"] == {
        "value": pop["metrics"]["hr@1"]["value"],
        "ci_low": pop["metrics"]["hr@1"]["ci_low"],
        "ci_high": pop["metrics"]["hr@1"]["ci_high"],
    }
    index = (site / "index.html").read_text()
    hr1 = pop["metrics"]["hr@1"]
    assert f"{hr1['value']:.4f}" in index and f"{hr1['ci_low']:.3f}–{hr1['ci_high']:.3f}" in index
    for title in ("HR@1", "HR@5", "HR@10", "NDCG@5", "NDCG@10", "MRR", "Valid", "Grounding"):
        assert f">{title}</button>" in index
    # A chart for each faithfulness metric some entry reports, with its points; else a note.
    reported = sorted({k for e in board["entries"] for k in e["metrics"]} & set(FAITHFULNESS_KEYS))
    charts = sorted(re.findall(r'<figure class="chart" data-metric="([^"]+)"', index))
    assert charts == reported
    if not reported:
        assert "No entry on this dataset reports faithfulness yet" in index
    markdown = (site / "LEADERBOARD.md").read_text()
    assert f"## {DATASET} (test)" in markdown
    row = next(line for line in markdown.splitlines() if line.startswith("| 1 |"))
    assert row.startswith(
        f"| 1 | baseline:pop | classical baseline · scores | {hr1['value']:.4f} "
        f"[{hr1['ci_low']:.4f}, "
    )
    assert "| — |" in row or row.endswith("— |")
    card = (site / "README.md").read_text()
    assert card.startswith("---\npretty_name: r2rec-bench leaderboard results\n")
    assert f"## {DATASET} (test)" in card


def test_entry_page_shows_configuration_and_reasoning(site, evaluated):
    page = (site / f"entries/{DATASET}/test/baseline--pop.html").read_text()
    pop = json.loads((evaluated["pop"] / "results.json").read_text())
    assert "<h1>baseline:pop</h1>" in page
    assert pop["dataset"]["fingerprint"] in page
    for field in (
        "backend options",
        "model details",
        "split",
        "seed",
        "parser",
        "cost",
        "environment",
    ):
        assert f"<dt>{field}</dt>" in page
    assert page.count('<article class="sample">') == 3
    assert page.count("<pre>") == 3 and "&lt;answer&gt;" in page


class Fetches(HTMLParser):
    """What a page would load: src attributes, link tags, url() and @import in styles; and
    every href, which must stay inside the site."""

    def __init__(self) -> None:
        super().__init__()
        self.fetches: list[str] = []
        self.hrefs: list[str] = []
        self.in_style = False

    def handle_starttag(self, tag, attrs):
        self.in_style = tag == "style"
        if tag in ("link", "img", "iframe", "object", "embed"):
            self.fetches.append(tag)
        for name, value in attrs:
            if name == "src":
                self.fetches.append(f"src={value}")
            elif name == "href":
                self.hrefs.append(value)

    def handle_data(self, data):
        if self.in_style and re.search(r"url\(|@import", data):
            self.fetches.append("style")


def test_no_external_assets(two_board_site):
    """Nothing is fetched from elsewhere; the only links out are to models' Hub pages."""
    hub_links = []
    for page in sorted(two_board_site.rglob("*.html")):
        parser = Fetches()
        parser.feed(page.read_text())
        assert parser.fetches == [], page
        outside = [h for h in parser.hrefs if re.match(r"[a-z]+:|//", h)]
        assert parser.hrefs and all(h.startswith("https://huggingface.co/") for h in outside)
        hub_links += outside
    assert set(hub_links) == {"https://huggingface.co/org-a/chat-7b"}


def test_markup_in_names_and_reasoning_is_text(site):
    for path in [site / "index.html", site / f"entries/{DATASET}/test/evil.html"]:
        text = path.read_text()
        assert EVIL not in text and "<img" not in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" in text
    assert text.count("&lt;script&gt;alert(1)") >= 2  # the page title, heading and reasoning
    for path in [site / "LEADERBOARD.md", site / "README.md"]:
        text = path.read_text()
        assert EVIL not in text and "&lt;script&gt;" in text


def test_rebuild_is_byte_identical(site, submissions, ml100k_build, tmp_path):
    again = tmp_path / "again"
    assert build(submissions, ml100k_build, again).returncode == 0
    for path in site.rglob("*"):
        if path.is_file():
            assert path.read_bytes() == (again / path.relative_to(site)).read_bytes(), path


def test_rejected_submission_stops_the_build_and_writes_nothing(
    submissions, ml100k_build, tmp_path
):
    (submissions / DATASET / "baseline--pop" / "samples.jsonl").write_text("{}\n")
    out = tmp_path / "site"
    result = build(submissions, ml100k_build, out)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "1 of 2 submissions rejected, first ml-100k-iot/baseline--pop" in line
    assert not out.exists()


def test_empty_leaderboard_builds(tmp_path, ml100k_build):
    (tmp_path / "submissions").mkdir()
    assert build(tmp_path / "submissions", ml100k_build, tmp_path / "site").returncode == 0
    assert "No verified submissions yet." in (tmp_path / "site" / "index.html").read_text()


def test_entries_whose_joined_names_would_collide_get_their_own_pages():
    """ "a--b" on dataset "c" and "a" on "b--c" were one page when pages were named
    dataset--name; two splits of one model were one page too."""
    from r2rec_bench.leaderboard.site import Entry

    pages = {
        Entry("a--b", "test", "c", {}, []).page,
        Entry("a", "test", "b--c", {}, []).page,
        Entry("a", "validation", "b--c", {}, []).page,
    }
    assert len(pages) == 3


def test_parser_options_and_reported_figures_are_shown(
    submissions, evaluated, ml100k_build, tmp_path
):
    from tests.leaderboard.conftest import edit_results

    folder = file_submission(evaluated["hallucinator"], submissions, "fuzzy-reader")
    # Read with fuzzy title matching: its exact titles parse the same, so it verifies, but a
    # visitor must see that its answers were read leniently.
    edit_results(folder, lambda r: r["parser"].update(fuzzy=True))
    out = tmp_path / "site"
    result = build(submissions, ml100k_build, out)
    assert result.returncode == 0, result.stderr
    index = (out / "index.html").read_text()
    assert (
        'fuzzy-reader.html">ref:hallucinator</a>\n<span class="tag">reference recommender · '
        "generate · fuzzy title matching</span>"
    ) in index
    assert "Compr. gap (reported)</button>" in index and "Suff. gap (reported)</button>" in index
    board = json.loads((out / "leaderboard.json").read_text())["boards"][0]
    (entry,) = [e for e in board["entries"] if e["name"] == "fuzzy-reader"]
    assert entry["parser"]["fuzzy"] is True


def test_ranks_show_ties_of_overlapping_intervals(site):
    board = json.loads((site / "leaderboard.json").read_text())["boards"][0]
    ranked = [(e["name"], e["rank"]) for e in board["entries"]]
    intervals = [e["metrics"]["hr@1"] for e in board["entries"]]
    # pop clears both others; the random baseline's interval overlaps the LLM's above it.
    assert [name for name, _ in ranked] == ["baseline--pop", "evil", "baseline--random"]
    assert intervals[0]["ci_low"] > intervals[1]["ci_high"]
    assert intervals[1]["ci_low"] <= intervals[2]["ci_high"]
    assert [rank for _, rank in ranked] == [
        {"place": 1, "best": 1},
        {"place": 2, "best": 2},
        {"place": 3, "best": 2},
    ]
    index = (site / "index.html").read_text()
    assert '<td class="rank" data-sort="3">2–3</td>' in index
    assert "overlaps (or touches) the interval of a row above it" in index
    assert "| 2–3 | baseline:random |" in (site / "LEADERBOARD.md").read_text()


def test_a_tab_per_dataset_split_and_labelled_rows(two_board_site):
    index = (two_board_site / "index.html").read_text()
    tabs = re.findall(r'<button type="button" role="tab" id="tab-([^"]+)"', index)
    panels = re.findall(r'<section id="([^"]+)" role="tabpanel"', index)
    assert tabs == panels == [f"{DATASET}-test", "synthetic-iot-test"]
    rows = re.findall(r'<tr data-kind="(\w+)" data-mode="(\w+)" data-size="([\w-]*)"', index)
    assert sorted(rows) == sorted(
        [
            ("baseline", "scores", ""),  # baseline:pop and :random on ml-100k-iot
            ("baseline", "scores", ""),
            ("reference", "generate", ""),
            ("llm", "generate", "4b-10b"),  # the synthetic board
            ("llm", "generate", "unknown"),
            ("baseline", "scores", ""),
        ]
    )
    for label in ("classical baseline · scores", "reference recommender · generate", "LLM"):
        assert f'<span class="tag">{label}' in index
    # The reference recommender sits in its own table, unranked.
    references = index.split('class="board references"')[1].split("</table>")[0]
    assert "ref:hallucinator" in references and 'class="rank absent"' in references
    for label in ("Search models", "Kind", "Mode", "LLM parameters"):
        assert f">{label}\n<" in index
    for name, spec, _, _ in SYNTHETIC_ENTRIES:
        assert f'synthetic-iot/test/{name}.html">{spec}</a>' in index
    assert '<a href="https://huggingface.co/org-a/chat-7b" rel="noopener">Hub page</a>' in index
    page = (two_board_site / "entries/synthetic-iot/test/chat-7b.html").read_text()
    assert "LLM · generate;" in page and "https://huggingface.co/org-a/chat-7b" in page


def test_submit_page_gives_the_steps(two_board_site):
    index = (two_board_site / "index.html").read_text()
    assert '<a href="submit.html">How to submit</a>' in index
    page = (two_board_site / "submit.html").read_text()
    for step in (
        f"r2rec-bench evaluate --model YOUR_MODEL --dataset out/{DATASET}",
        f"r2rec-bench submit results/{DATASET}/YOUR_MODEL_SLUG/test-generate",
        "--hub ORG/RESULTS_REPO",
        "<code>r2rec-bench leaderboard verify</code>",
        "<code>r2rec-bench leaderboard build</code>",
    ):
        assert step in page
    assert f"{DATASET} (test), synthetic-iot (test)." in page
