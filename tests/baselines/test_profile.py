"""``profile=shown``: a baseline scores each user from the history the LLM prompt shows and
nothing else, so its row can stand beside an LLM's (issue 18, equal inputs)."""

from __future__ import annotations

import json
from contextlib import contextmanager

import numpy as np
import pytest

from r2rec_bench.baselines import make_baseline_backend
from r2rec_bench.baselines.registry import make_baseline
from r2rec_bench.errors import UserError
from tests.baselines.cli import run_baselines_cli
from tests.baselines.sizes import SMALL

USERS = 200


@contextmanager
def _profile(baseline, profile):
    baseline.use_profile(profile)
    try:
        yield baseline
    finally:
        baseline.use_profile("full")


def _rows(split, count=USERS):
    return split.users[:count], split.histories[:count], split.candidates[:count]


@pytest.mark.parametrize("name", ["itemknn", "sasrec", "gru4rec"])
def test_shown_scores_a_user_as_a_stranger_with_only_that_history(name, fitted, test_split):
    baseline, _ = fitted[name]
    users, histories, candidates = _rows(test_split)
    with _profile(baseline, "shown"):
        shown = baseline.score(users, histories, candidates)
    # A user unknown to training is scored from the history alone under either profile.
    strangers = [f"not-a-training-user-{i}" for i in range(len(users))]
    np.testing.assert_array_equal(shown, baseline.score(strangers, histories, candidates))
    full = baseline.score(users, histories, candidates)
    differing = int((~np.isclose(shown, full)).any(axis=1).sum())
    assert differing > USERS // 2, f"{name}: only {differing} of {USERS} users scored differently"


def test_scores_that_read_no_history_are_the_same_under_both_profiles(fitted, test_split):
    for name in ("random", "pop"):
        baseline, _ = fitted[name]
        with _profile(baseline, "shown"):
            shown = baseline.score(*_rows(test_split))
        np.testing.assert_array_equal(shown, baseline.score(*_rows(test_split)))


@pytest.mark.parametrize("name", ["bpr", "lightgcn", "caser"])
def test_a_model_of_learned_user_embeddings_refuses_the_shown_profile(name):
    with pytest.raises(UserError, match=f"profile shown: baseline '{name}' scores a user by a"):
        make_baseline(name).use_profile("shown")
    with pytest.raises(UserError, match="profile 'some': use one of full, shown"):
        make_baseline(name).use_profile("some")


def test_fitting_early_stops_on_the_full_profile_and_keeps_the_chosen_one(training_data, fitted):
    baseline = make_baseline("itemknn", **SMALL["itemknn"])
    baseline.use_profile("shown")
    report = baseline.fit(training_data, 0)
    assert baseline.profile == "shown"
    assert report.best_validation_hr1 == fitted["itemknn"][1].best_validation_hr1


def test_backend_records_the_profile_and_scores_under_it(ml100k_build, test_split, cache):
    backend = make_baseline_backend("itemknn", dataset=ml100k_build, profile="shown", neighbours=30)
    requests = [example.request for example in test_split.examples(range(10))]
    assert backend.describe()["profile"] == "shown"
    full = make_baseline_backend("itemknn", dataset=ml100k_build, neighbours=30)
    assert full.describe()["fit"]["from_cache"]  # one cached fit serves both profiles
    stranger_scores = full.baseline.score(
        [f"stranger-{i}" for i in range(10)],
        [list(r.history) for r in requests],
        [list(r.candidates) for r in requests],
    )
    np.testing.assert_array_equal(backend.rank(requests), stranger_scores)
    with pytest.raises(UserError, match="profile shown: baseline 'bpr'"):
        make_baseline_backend("bpr", dataset=ml100k_build, profile="shown")
    assert not any(cache.glob("bpr-*"))


def test_cli_reports_the_profile_and_refuses_one_a_model_cannot_take(ml100k_build, cache, capsys):
    argv = ["baselines", "train", "--dataset", str(ml100k_build), "--json", "--quiet"]
    assert run_baselines_cli([*argv, "--only", "itemknn", "--profile", "shown"]) == 0
    shown = json.loads(capsys.readouterr().out)["baselines"][0]
    assert run_baselines_cli([*argv, "--only", "itemknn"]) == 0
    full = json.loads(capsys.readouterr().out)["baselines"][0]
    assert (shown["profile"], full["profile"]) == ("shown", "full")
    assert full["fit"]["from_cache"]
    assert shown["test"]["metrics"]["hr@1"]["value"] != full["test"]["metrics"]["hr@1"]["value"]
    # Validation is what early stopping saw; the test profile changes only the scoring.
    assert shown["fit"]["best_validation_hr1"] == full["fit"]["best_validation_hr1"]
    with pytest.raises(UserError, match="profile shown: baseline 'bpr'"):
        run_baselines_cli([*argv, "--only", "pop", "bpr", "--profile", "shown"])
    assert not any(cache.glob("pop-*")), "nothing is fitted before the profile is checked"
