"""The sequence models' sampled losses (``loss=bpr`` and ``loss=bce``, one negative per
target): negatives are uniform among the items the user never trained on, the models learn
far more than chance on ml-100k-iot, and an unknown loss is a one-line error."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chisquare

from r2rec_bench.baselines.evaluation import evaluate
from r2rec_bench.baselines.neural import uniform_negatives
from r2rec_bench.baselines.registry import make_baseline
from r2rec_bench.errors import UserError
from tests.baselines.sizes import SMALL


def test_negatives_are_uniform_among_the_items_a_user_never_trained_on():
    items = 6
    trained = {0: [1, 3], 1: [0], 2: [0, 1, 2, 3, 4]}
    positives = np.array(sorted(u * items + i for u, found in trained.items() for i in found))
    draws = 30_000
    users = np.repeat(np.arange(3), draws)
    negatives = uniform_negatives(np.random.default_rng(0), positives, users, items)
    for user, found in trained.items():
        mine = negatives[user * draws : (user + 1) * draws]
        allowed = sorted(set(range(items)) - set(found))
        assert sorted(set(mine.tolist())) == allowed
        if len(allowed) > 1:  # one item left: every draw is it
            assert chisquare(np.bincount(mine, minlength=items)[allowed]).pvalue > 1e-4


@pytest.mark.parametrize("loss", ["bpr", "bce"])
@pytest.mark.parametrize("name", ["sasrec", "gru4rec"])
def test_sampled_losses_learn_far_more_than_chance(name, loss, training_data, test_split):
    baseline = make_baseline(name, **SMALL[name], loss=loss)
    report = baseline.fit(training_data, 0)
    assert report.hyperparameters["loss"] == loss
    hr1 = evaluate(baseline, test_split)["metrics"]["hr@1"]
    assert hr1["ci_low"] > 0.05, hr1  # the whole 95% interval above chance (20 candidates)


def test_the_full_softmax_is_the_default_and_an_unknown_loss_is_refused():
    assert make_baseline("sasrec").hyperparameters["loss"] == "ce"
    with pytest.raises(UserError, match=r"loss 'hinge'; use one of ce, bpr, bce"):
        make_baseline("gru4rec", loss="hinge")
