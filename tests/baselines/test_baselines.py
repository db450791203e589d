"""The classical baselines on the real ml-100k-iot build: they fit, score, beat chance, cache,
reproduce, and never train on a test target."""

from __future__ import annotations

import shutil
import sys

import numpy as np
import pytest
from scipy.stats import binomtest

from r2rec_bench.baselines.base import UNSEEN_SCORE
from r2rec_bench.baselines.cache import fit_or_load
from r2rec_bench.baselines.data import load_training_data
from r2rec_bench.baselines.evaluation import evaluate
from r2rec_bench.baselines.registry import BASELINES, baseline_class, make_baseline
from r2rec_bench.errors import UserError
from r2rec_bench.task.metrics import hit_ratio
from r2rec_bench.task.scoring import target_ranks
from tests.baselines.sizes import SMALL

LEARNED = [name for name in BASELINES if name != "random"]


def _scores(baseline, split):
    return baseline.score(split.users, split.histories, split.candidates)


@pytest.mark.parametrize("name", list(BASELINES))
def test_every_baseline_fits_and_scores_every_candidate(name, fitted, test_split, training_data):
    baseline, report = fitted[name]
    scores = _scores(baseline, test_split)
    assert scores.shape == (len(test_split), 20) == (943, 20)
    assert np.isfinite(scores).all()
    assert report.name == name and report.seed == 0 and not report.from_cache
    assert report.hyperparameters == {**baseline_class(name).DEFAULTS, **SMALL[name]}
    assert report.dataset_fingerprint == training_data.fingerprint
    assert report.parameters > 0
    # The recorded validation HR@1 is that of the weights kept, recomputed from scratch.
    validation = evaluate(baseline, training_data.validation)["metrics"]["hr@1"]["value"]
    assert validation == pytest.approx(report.best_validation_hr1)


@pytest.mark.parametrize("name", ["bpr", "sasrec", "gru4rec", "lightgcn", "caser"])
def test_epoch_models_keep_their_best_validation_epoch(name, fitted):
    report = fitted[name][1]
    assert 1 <= report.best_epoch <= report.epochs == len(report.validation_hr1)
    assert report.best_validation_hr1 == pytest.approx(max(report.validation_hr1), abs=1e-6)
    assert report.validation_hr1.index(max(report.validation_hr1)) + 1 == report.best_epoch


def test_random_is_at_chance_level(fitted, test_split):
    scores = _scores(fitted["random"][0], test_split)
    ranks = target_ranks(scores, test_split.target_index, test_split.users, test_split.candidates)
    hits = int(hit_ratio(ranks, 1).sum())
    # With 20 candidates chance is 1/20: the hits must be a plausible Binomial(943, 0.05) draw.
    assert binomtest(hits, len(ranks), 0.05).pvalue > 0.001
    assert binomtest(int(hit_ratio(ranks, 10).sum()), len(ranks), 0.5).pvalue > 0.001


@pytest.mark.parametrize("name", LEARNED)
def test_learned_baselines_beat_chance(name, fitted, test_split):
    hr1 = evaluate(fitted[name][0], test_split)["metrics"]["hr@1"]
    assert hr1["ci_low"] > 0.05, hr1  # the whole 95% interval above chance


@pytest.mark.parametrize("name", list(BASELINES))
def test_a_second_fit_loads_from_the_cache_with_identical_scores(
    name, fitted, training_data, test_split, baseline_cache, monkeypatch
):
    baseline, report = fitted[name]
    cls = baseline_class(name)

    def no_training(*args, **kwargs):
        raise AssertionError("trained although the fit was cached")

    monkeypatch.setattr(cls, "_fit", no_training)
    again = make_baseline(name, **SMALL[name])
    loaded = fit_or_load(again, training_data, 0, baseline_cache)
    assert loaded.from_cache and loaded.cache_key == report.cache_key
    assert loaded.epochs == report.epochs
    assert loaded.best_validation_hr1 == report.best_validation_hr1
    np.testing.assert_array_equal(_scores(again, test_split), _scores(baseline, test_split))


def test_the_cache_key_covers_seed_and_hyperparameters(fitted, training_data, baseline_cache):
    report = fitted["pop"][1]
    reseeded = fit_or_load(make_baseline("pop"), training_data, 1, baseline_cache)
    assert not reseeded.from_cache and reseeded.cache_key != report.cache_key
    other = fit_or_load(make_baseline("itemknn", neighbours=20), training_data, 0, baseline_cache)
    assert not other.from_cache and other.cache_key != fitted["itemknn"][1].cache_key


def test_an_unreadable_cache_entry_is_refitted(training_data, test_split, tmp_path):
    first = make_baseline("itemknn", neighbours=20)
    report = fit_or_load(first, training_data, 0, tmp_path)
    (tmp_path / f"itemknn-{report.cache_key}" / "state.npz").write_bytes(b"not an archive")
    second = make_baseline("itemknn", neighbours=20)
    assert not fit_or_load(second, training_data, 0, tmp_path).from_cache
    np.testing.assert_array_equal(_scores(second, test_split), _scores(first, test_split))


# One short epoch each: enough to show that training, not only initialisation, repeats.
ONE_EPOCH = {
    "random": {},
    "bpr": {**SMALL["bpr"], "max_epochs": 1},
    "sasrec": {
        "dim": 8,
        "layers": 1,
        "heads": 1,
        "max_len": 10,
        "train_batch_size": 512,
        "max_epochs": 1,
    },
    "gru4rec": {"dim": 8, "hidden": 8, "max_len": 10, "train_batch_size": 512, "max_epochs": 1},
    "lightgcn": {**SMALL["lightgcn"], "max_epochs": 1},
    "caser": {**SMALL["caser"], "max_epochs": 1},
}


@pytest.mark.parametrize("name", list(ONE_EPOCH))
def test_the_same_seed_gives_the_same_scores(name, training_data, test_split):
    def fit(seed):
        baseline = make_baseline(name, **ONE_EPOCH[name])
        baseline.fit(training_data, seed)
        return _scores(baseline, test_split)

    first = fit(3)
    np.testing.assert_array_equal(fit(3), first)
    assert not np.array_equal(fit(4), first)


def test_training_reads_only_training_interactions_and_validation(
    ml100k_build, training_data, test_split, tmp_path, monkeypatch
):
    import pyarrow.parquet as pq

    opened = []
    read_table = pq.read_table

    def spy(path, *args, **kwargs):
        opened.append(path.relative_to(ml100k_build).parts[0:2])
        return read_table(path, *args, **kwargs)

    monkeypatch.setattr(pq, "read_table", spy)
    load_training_data(ml100k_build)
    assert {parts[0] for parts in opened} == {"interactions", "eval"}
    assert all(p[1].startswith(("train-", "validation-")) for p in opened), opened
    monkeypatch.undo()

    # A copy whose test targets are replaced by another user's trains the same models.
    copy = tmp_path / "dataset"
    shutil.copytree(ml100k_build, copy)
    test_file = next((copy / "eval").glob("test-*.parquet"))
    table = pq.read_table(test_file)
    targets = table.column("target").to_pylist()
    column = table.schema.get_field_index("target")
    pq.write_table(table.set_column(column, "target", [targets[1:] + targets[:1]]), test_file)
    tampered = load_training_data(copy)
    for name, hyperparameters in (("itemknn", {}), ("bpr", ONE_EPOCH["bpr"])):
        intact, changed = (
            make_baseline(name, **hyperparameters),
            make_baseline(name, **hyperparameters),
        )
        intact.fit(training_data, 0)
        changed.fit(tampered, 0)
        for key, value in intact.state().items():
            np.testing.assert_array_equal(changed.state()[key], value)


def test_sequences_extend_training_with_the_given_history(training_data, test_split):
    """Validation users' histories are the end of their training sequence; a test history
    adds the validation target, which sequence models may read at test time."""
    validation = training_data.validation
    offsets = training_data.user_offsets
    index = training_data.user_index
    for users, histories, extra in (
        (validation.users, validation.histories, 0),
        (test_split.users, test_split.histories, 1),
    ):
        for user, history, sequence in zip(
            users, histories, training_data.sequences(users, histories), strict=True
        ):
            code = index[user]
            train = training_data.items[offsets[code] : offsets[code + 1]]
            assert len(sequence) == len(train) + extra
            np.testing.assert_array_equal(sequence[: len(train)], train)
            np.testing.assert_array_equal(
                sequence[-len(history) :], training_data.item_codes(history)
            )
    # A user unknown to training has the history alone.
    unknown = training_data.sequences(["nobody"], [validation.histories[0]])[0]
    np.testing.assert_array_equal(unknown, training_data.item_codes(validation.histories[0]))


@pytest.mark.parametrize("name", list(BASELINES))
def test_a_candidate_unseen_in_training_ranks_last(name, fitted, test_split):
    baseline = fitted[name][0]
    candidates = [[*test_split.candidates[0][:19], "no-such-item"]]
    scores = baseline.score(test_split.users[:1], test_split.histories[:1], candidates)
    assert scores[0, -1] == UNSEEN_SCORE < scores[0, :19].min()


def test_unknown_names_and_hyperparameters_are_one_line_user_errors():
    with pytest.raises(UserError, match="known baselines: random, pop, itemknn, bpr, sasrec"):
        make_baseline("deepfm")
    with pytest.raises(UserError, match=r"no hyper-parameter dims.*dim, dropout"):
        make_baseline("sasrec", dims=8)


def test_a_missing_dependency_names_the_package_to_install(monkeypatch):
    monkeypatch.delitem(sys.modules, "r2rec_bench.baselines.knn", raising=False)
    monkeypatch.setitem(sys.modules, "scipy", None)  # what an install without scipy sees
    monkeypatch.setitem(sys.modules, "scipy.sparse", None)
    with pytest.raises(UserError, match=r"needs the package 'scipy'.*pip install scipy"):
        baseline_class("itemknn")
