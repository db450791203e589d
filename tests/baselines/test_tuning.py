"""``baselines tune``: the same budget for every model, the defaults inside each grid, the
choice made on validation HR@1 alone and the test split read once, for the choice."""

from __future__ import annotations

import json

import pytest

from r2rec_bench.baselines.registry import baseline_class
from r2rec_bench.baselines.tuning import BUDGET, GRIDS, configurations
from tests.baselines.cli import run_baselines_cli
from tests.conftest import run_cli


@pytest.mark.parametrize("name", sorted(GRIDS))
def test_every_grid_has_the_budget_and_holds_the_defaults(name):
    configs = configurations(name)
    assert len(configs) == BUDGET
    assert len({json.dumps(c, sort_keys=True) for c in configs}) == BUDGET
    defaults = baseline_class(name).DEFAULTS
    assert {key: defaults[key] for key in GRIDS[name]} in configs


def test_the_choice_is_the_best_validation_trial_and_only_it_sees_test(
    ml100k_build, cache, tmp_path, capsys
):
    out = tmp_path / "tuned.json"
    argv = [
        "baselines", "tune", "--dataset", str(ml100k_build), "--only", "bpr", "--set",
        "dim=16,max_epochs=2,patience=2", "--json", "--out", str(out),
    ]  # fmt: skip
    assert run_baselines_cli(argv) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload == json.loads(out.read_text())
    (search,) = payload["searches"]
    trials = search["trials"]
    assert [t["hyperparameters"] for t in trials] == configurations("bpr")
    scores = [t["validation_hr1"] for t in trials]
    assert search["chosen_trial"] == scores.index(max(scores))  # the first of any tie
    chosen = trials[search["chosen_trial"]]["hyperparameters"]
    assert search["chosen"] == {**chosen, "dim": 16, "max_epochs": 2, "patience": 2}
    assert search["test"]["metrics"]["hr@1"]["value"] > 0.1  # trained, far above chance
    assert all("test" not in trial for trial in trials)
    assert not any(t["from_cache"] for t in trials)
    # Every trial is an ordinary cached fit: a second search fits nothing and chooses alike.
    assert run_baselines_cli(argv) == 0
    again = json.loads(capsys.readouterr().out)["searches"][0]
    assert all(t["from_cache"] for t in again["trials"])
    assert again["chosen"] == search["chosen"] and again["test"] == search["test"]


def test_the_table_marks_the_choice(ml100k_build, cache, capsys):
    argv = ["baselines", "tune", "--dataset", str(ml100k_build), "--only", "itemknn"]
    assert run_baselines_cli(argv) == 0
    table = capsys.readouterr().out
    assert table.count("| chosen |") == 1 and "| neighbours | shrink | val HR@1 |" in table
    assert "test HR@1 of the chosen: " in table


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--only", "pop"], "'pop' has nothing to tune"),
        (["--only", "bpr", "--set", "learning_rate=0.1"], "searched by the grid of bpr"),
        (["--only", "itemknn", "--set", "max_epochs=1"], "no hyper-parameter max_epochs"),
    ],
)
def test_bad_searches_are_one_line_errors(ml100k_build, cache, argv, fragment):
    result = run_cli("baselines", "tune", "--dataset", str(ml100k_build), *argv)
    assert result.returncode == 2 and fragment in result.stderr, result.stderr
    assert not cache.exists()  # refused before any fit
