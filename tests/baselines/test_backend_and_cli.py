"""``baseline:<name>`` as a harness backend, and ``r2rec-bench baselines train``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from r2rec_bench.baselines import make_baseline_backend
from r2rec_bench.errors import UserError
from r2rec_bench.task.parser import parse_answer
from r2rec_bench.task.records import Backend
from r2rec_bench.task.scoring import ranking_from_scores
from tests.baselines.cli import run_baselines_cli


def _requests(split, count):
    return [example.request for example in split.examples(range(count))]


def test_backend_ranks_with_the_fitted_scores_and_ignores_harness_options(
    ml100k_build, test_split, cache
):
    backend = make_baseline_backend(
        "itemknn", dataset=ml100k_build, seed=0, batch_size=8, max_new_tokens=5, neighbours=30
    )
    assert isinstance(backend, Backend)
    requests = _requests(test_split, 5)
    scores = backend.rank(requests)
    assert np.array(scores).shape == (5, 20)
    expected = backend.baseline.score(
        test_split.users[:5], test_split.histories[:5], test_split.candidates[:5]
    )
    np.testing.assert_array_equal(scores, expected)
    described = backend.describe()
    assert described["model_id"] == "baseline:itemknn"
    assert described["hyperparameters"] == {"neighbours": 30, "shrink": 0.0}
    assert described["seed"] == 0 and described["fit"]["dataset_fingerprint"]
    assert [p.name for p in cache.iterdir()] == [f"itemknn-{described['revision']}"]
    # The same backend again comes from the cache.
    again = make_baseline_backend("itemknn", dataset=ml100k_build, neighbours=30)
    assert again.describe()["fit"]["from_cache"]


def test_generate_answers_every_candidate_title_best_first(ml100k_build, test_split, cache):
    backend = make_baseline_backend("pop", dataset=ml100k_build)
    requests = _requests(test_split, 20)
    for request, generation, scores in zip(
        requests, backend.generate(requests), backend.rank(requests), strict=True
    ):
        assert generation.text.startswith("<think>\n</think>\n<answer>")
        parsed = parse_answer(generation.text, request.candidate_titles)
        assert parsed.valid and sorted(parsed.ranking) == list(range(20))
        # Ties follow the benchmark's one rule, so generate and rank give one ranking.
        assert list(parsed.ranking) == ranking_from_scores(
            scores, request.user_id, request.candidates
        )


def test_backend_errors_are_one_line_user_errors(ml100k_build, tmp_path, cache):
    with pytest.raises(UserError, match=r"unknown baseline 'knn'; known baselines: random, pop"):
        make_baseline_backend("knn", dataset=ml100k_build)
    with pytest.raises(UserError, match="give a built dataset directory"):
        make_baseline_backend("pop")
    with pytest.raises(
        UserError, match=r"not a dataset built by r2rec-bench \(no MANIFEST\.json\)"
    ):
        make_baseline_backend("pop", dataset=tmp_path)


def test_cli_trains_and_prints_metrics_with_intervals(ml100k_build, cache, capsys):
    argv = ["baselines", "train", "--dataset", str(ml100k_build), "--only", "random", "pop"]
    assert run_baselines_cli([*argv, "--json", "--quiet"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in payload["baselines"]] == ["random", "pop"]
    for row in payload["baselines"]:
        for split in ("validation", "test"):
            hr1 = row[split]["metrics"]["hr@1"]
            assert hr1["ci_low"] <= hr1["value"] <= hr1["ci_high"]
            assert row[split]["n_users"] == 943
        assert not row["fit"]["from_cache"]

    assert run_baselines_cli(argv) == 0  # now cached
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert lines[0].startswith("| baseline | val HR@1 | test HR@1 |")
    assert len(lines) == 4 and lines[3].startswith("| pop |") and lines[3].endswith("| yes |")
    assert "pop: fitting or loading" in captured.err


def test_cli_rejects_an_unknown_baseline_before_loading_anything(tmp_path):
    with pytest.raises(UserError, match="known baselines"):
        run_baselines_cli(
            ["baselines", "train", "--dataset", str(tmp_path), "--only", "pop", "nope"]
        )
