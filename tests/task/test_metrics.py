"""Metrics against hand-computed values and against independent, naive implementations."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from r2rec_bench.task.metrics import (
    metric_names,
    paired_compare,
    per_user_metrics,
    point_metrics,
    rank_of_target,
    ranks_from_rankings,
    seed_spread,
    summarize,
)

# Five users: ranks 1, 2, unranked (an invalid answer), 5 and 11.
RANKS = [1, 2, 0, 5, 11]
VALID = [True, True, False, True, True]


def test_hand_computed_values():
    m = {name: entry["value"] for name, entry in summarize(RANKS, VALID)["metrics"].items()}
    assert m["hr@1"] == pytest.approx(1 / 5)
    assert m["hr@3"] == pytest.approx(2 / 5)
    assert m["hr@5"] == pytest.approx(3 / 5)
    assert m["hr@10"] == pytest.approx(3 / 5)
    assert m["ndcg@3"] == pytest.approx((1 + 1 / math.log2(3)) / 5)
    assert m["ndcg@5"] == pytest.approx((1 + 1 / math.log2(3) + 1 / math.log2(6)) / 5)
    assert m["ndcg@10"] == pytest.approx(m["ndcg@5"])
    assert m["mrr"] == pytest.approx((1 + 1 / 2 + 1 / 5 + 1 / 11) / 5)
    assert m["valid_ratio"] == pytest.approx(4 / 5)
    assert list(m) == metric_names() == [
        "hr@1", "hr@3", "hr@5", "hr@10", "ndcg@3", "ndcg@5", "ndcg@10", "mrr", "valid_ratio",
    ]  # fmt: skip


def test_point_metrics_are_the_summary_values_without_intervals():
    summary = summarize(RANKS, VALID)["metrics"]
    assert point_metrics(RANKS, VALID) == {name: entry["value"] for name, entry in summary.items()}


def test_seed_spread_by_hand():
    spread = seed_spread([0.1, 0.3, 0.2])
    assert spread["mean"] == pytest.approx(0.2)
    assert spread["sd"] == pytest.approx(0.1)  # sample sd: sqrt((0.01 + 0.01 + 0) / 2)
    assert (spread["min"], spread["max"], spread["values"]) == (0.1, 0.3, [0.1, 0.3, 0.2])
    assert seed_spread([0.4])["sd"] == 0.0
    assert seed_spread([None, 0.5, 0.7])["mean"] == pytest.approx(0.6)  # None left out
    assert seed_spread([None])["mean"] is None


def test_rank_helpers():
    assert rank_of_target([4, 2, 7], 7) == 3
    assert rank_of_target([4, 2, 7], 5) == 0
    assert rank_of_target([], 0) == 0
    assert ranks_from_rankings([[1, 0], [3], []], [0, 3, 1]).tolist() == [2, 1, 0]


def _naive_per_user(rank: int, valid: bool) -> dict[str, float]:
    """The definitions of DESIGN §4 written out for one user, with no numpy."""
    values = {}
    for k in (1, 3, 5, 10):
        values[f"hr@{k}"] = 1.0 if 1 <= rank <= k else 0.0
    for k in (3, 5, 10):
        values[f"ndcg@{k}"] = 1.0 / math.log2(rank + 1) if 1 <= rank <= k else 0.0
    values["mrr"] = 1.0 / rank if rank >= 1 else 0.0
    values["valid_ratio"] = 1.0 if valid else 0.0
    return values


def _random_outcomes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ranks = rng.integers(1, 21, n)
    valid = rng.random(n) > 0.1
    ranks[~valid] = 0
    return ranks, valid


def test_point_values_equal_a_naive_loop():
    ranks, valid = _random_outcomes(2_000, seed=1)
    naive = [_naive_per_user(int(r), bool(v)) for r, v in zip(ranks, valid, strict=True)]
    vectorised = per_user_metrics(ranks, valid)
    summary = summarize(ranks, valid, seed=0)["metrics"]
    for name in metric_names():
        expected = [row[name] for row in naive]
        assert np.allclose(vectorised[name], expected)
        assert summary[name]["value"] == pytest.approx(sum(expected) / len(expected))


def _naive_bootstrap(values: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = len(values)
    return np.array([values[rng.choice(n, n, replace=True)].mean() for _ in range(n_resamples)])


def test_bootstrap_interval_equals_resampling_users():
    n = 400
    ranks, valid = _random_outcomes(n, seed=2)
    summary = summarize(ranks, valid, seed=3, n_resamples=20_000)["metrics"]
    per_user = per_user_metrics(ranks, valid)
    for name in ("hr@1", "ndcg@10", "mrr", "valid_ratio"):
        naive = _naive_bootstrap(per_user[name], 20_000, seed=4)
        low, high = np.quantile(naive, [0.025, 0.975])
        # Two Monte Carlo estimates of the same quantiles: equal up to resampling noise (a
        # small fraction of the width) and, for 0/1 metrics, one step of the 1/n lattice.
        tolerance = 0.05 * (high - low) + 1.01 / n
        assert summary[name]["ci_low"] == pytest.approx(low, abs=tolerance)
        assert summary[name]["ci_high"] == pytest.approx(high, abs=tolerance)
        # The resampling distributions' spread agrees too: the bootstrap standard error.
        ours = summarize(ranks, valid, seed=5, n_resamples=20_000, confidence=0.6827)
        half_width = (ours["metrics"][name]["ci_high"] - ours["metrics"][name]["ci_low"]) / 2
        assert half_width == pytest.approx(naive.std(), rel=0.1, abs=1.01 / n)


def test_intervals_are_seeded_and_bracket_the_value():
    ranks, valid = _random_outcomes(300, seed=5)
    first, again = summarize(ranks, valid, seed=7), summarize(ranks, valid, seed=7)
    other = summarize(ranks, valid, seed=8)
    assert first == again
    assert first["metrics"]["mrr"] != other["metrics"]["mrr"]
    assert first["interval"] == {
        "method": "percentile bootstrap over users",
        "confidence": 0.95,
        "n_resamples": 10_000,
        "seed": 7,
    }
    for entry in first["metrics"].values():
        assert entry["ci_low"] <= entry["value"] <= entry["ci_high"]


def test_order_of_users_does_not_change_the_summary():
    """Resume and shard merging reorder samples; the summary must not notice."""
    ranks, valid = _random_outcomes(500, seed=6)
    order = np.random.default_rng(0).permutation(500)
    assert summarize(ranks, valid, seed=1) == summarize(ranks[order], valid[order], seed=1)


def test_degenerate_and_bad_inputs():
    perfect = summarize([1, 1, 1], [True, True, True])["metrics"]["hr@1"]
    assert perfect == {"value": 1.0, "ci_low": 1.0, "ci_high": 1.0}
    with pytest.raises(ValueError):
        summarize([], [])
    with pytest.raises(ValueError):
        summarize([1, 2], [True])
    with pytest.raises(ValueError):
        summarize([-1], [True])


# --- paired comparison ----------------------------------------------------------------------


def test_paired_compare_identical_systems():
    values = per_user_metrics(*_random_outcomes(200, seed=9))["ndcg@10"]
    result = paired_compare(values, values, seed=0)
    assert result == {"diff": 0.0, "ci_low": 0.0, "ci_high": 0.0, "p_value": 1.0, "n": 200}


def test_paired_compare_total_domination():
    result = paired_compare(np.ones(30), np.zeros(30), seed=0, n_resamples=5_000)
    assert result["diff"] == 1.0 and result["ci_low"] == result["ci_high"] == 1.0
    assert result["p_value"] == pytest.approx(1 / 5_001)


def test_sign_flip_p_value_equals_mcnemar_exact_for_hits():
    rng = np.random.default_rng(10)
    a = (rng.random(600) < 0.30).astype(float)
    b = np.where(rng.random(600) < 0.85, a, 1 - a)  # mostly the same answers, some flipped
    b[:12] = 0.0  # and a few more misses for b
    result = paired_compare(a, b, seed=1, n_resamples=40_000)
    only_a = int(((a == 1) & (b == 0)).sum())
    only_b = int(((a == 0) & (b == 1)).sum())
    exact = stats.binomtest(only_a, only_a + only_b, 0.5).pvalue
    assert result["p_value"] == pytest.approx(exact, abs=0.01)
    assert result["diff"] == pytest.approx(a.mean() - b.mean())


def test_sign_flip_p_value_equals_scipy_permutation_test():
    rng = np.random.default_rng(11)
    a = per_user_metrics(*_random_outcomes(150, seed=12))["ndcg@10"]
    b = np.clip(a + rng.choice([-0.2, 0.0, 0.0, 0.1], 150), 0, 1)
    ours = paired_compare(a, b, seed=2, n_resamples=40_000)["p_value"]
    reference = stats.permutation_test(
        (a, b),
        lambda x, y, axis: np.mean(x - y, axis=axis),
        permutation_type="samples",
        n_resamples=40_000,
        alternative="two-sided",
        rng=np.random.default_rng(3),
    ).pvalue
    assert ours == pytest.approx(reference, abs=0.015)


def test_paired_interval_equals_resampling_users():
    rng = np.random.default_rng(13)
    a = per_user_metrics(*_random_outcomes(300, seed=14))["mrr"]
    b = a * rng.uniform(0.6, 1.2, 300)
    ours = paired_compare(a, b, seed=4, n_resamples=20_000)
    naive = _naive_bootstrap(a - b, 20_000, seed=5)
    low, high = np.quantile(naive, [0.025, 0.975])
    tolerance = 0.05 * (high - low)  # resampling noise: the differences are continuous
    assert ours["ci_low"] == pytest.approx(low, abs=tolerance)
    assert ours["ci_high"] == pytest.approx(high, abs=tolerance)


def test_paired_compare_rejects_unpaired_input():
    with pytest.raises(ValueError):
        paired_compare([1.0, 0.0], [1.0])
    with pytest.raises(ValueError):
        paired_compare([], [])


def test_evaluate_module_gives_our_numbers(tmp_path):
    """A local `evaluate` module loads through evaluate.load and matches the harness."""
    probe = (
        "import json, evaluate\n"
        "from r2rec_bench.harness.evaluate_modules import module_path\n"
        "predictions = [[3, 1, 0], [0], [], [2, 1]]\n"
        "references = [1, 2, 0, 2]\n"
        "out = {name: evaluate.load(module_path(name)).compute(predictions=predictions,"
        " references=references, **kwargs)\n"
        "       for name, kwargs in (('hit_ratio', {'k': 2}), ('ndcg', {'k': 3}), ('mrr', {}),\n"
        "                            ('valid_ratio', {}))}\n"
        "print(json.dumps(out))\n"
    )
    env = {
        **os.environ,
        "HF_MODULES_CACHE": str(tmp_path / "modules"),
        "HF_HOME": str(tmp_path / "hf"),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
    }
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    ranks = ranks_from_rankings([[3, 1, 0], [0], [], [2, 1]], [1, 2, 0, 2])
    ours = per_user_metrics(ranks, [True, True, False, True], ks=(2, 3))
    assert out["hit_ratio"]["hit_ratio"] == pytest.approx(ours["hr@2"].mean())
    assert out["ndcg"]["ndcg"] == pytest.approx(ours["ndcg@3"].mean())
    assert out["mrr"]["mrr"] == pytest.approx(ours["mrr"].mean())
    assert out["valid_ratio"]["valid_ratio"] == pytest.approx(ours["valid_ratio"].mean()) == 0.75
    assert out["hit_ratio"]["hit_ratio"] == 0.5  # users 1 and 4 within the top 2


def test_metric_spaces_carry_a_card_whose_example_is_true(tmp_path):
    """Each module written as a Hub metric Space: the card's front matter is what a Space
    needs, and the example the card shows gives the value it states when the Space's own
    copy of the module is loaded."""
    probe = (
        "import ast, json, re, sys, evaluate, yaml\n"
        "from pathlib import Path\n"
        "from r2rec_bench.harness.evaluate_modules import MODULES, write_metric_space\n"
        "report = {}\n"
        "for name in MODULES:\n"
        "    space = write_metric_space(name, Path(sys.argv[1]) / name)\n"
        "    card = (space / 'README.md').read_text()\n"
        "    meta = yaml.safe_load(card.split('---')[1])\n"
        "    example = r'>>> metric\\.compute\\((.*)\\)\\n\\s*(\\{.*\\})'\n"
        "    call, stated = re.search(example, card).groups()\n"
        "    kwargs = eval(f'dict({call})')\n"
        "    got = evaluate.load(str(space / f'{name}.py')).compute(**kwargs)\n"
        "    report[name] = {'meta': meta, 'stated': ast.literal_eval(stated), 'got': got,\n"
        "                    'files': sorted(p.name for p in space.iterdir())}\n"
        "print(json.dumps(report))\n"
    )
    env = {**os.environ, "HF_MODULES_CACHE": str(tmp_path / "modules"),
           "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}  # fmt: skip
    result = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "spaces")],
                            capture_output=True, text=True, env=env, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(report) == {"hit_ratio", "ndcg", "mrr", "valid_ratio"}
    for name, entry in report.items():
        assert entry["got"] == pytest.approx(entry["stated"]), name
        meta = entry["meta"]
        assert (meta["title"], meta["sdk"], meta["app_file"]) == (name, "gradio", "app.py")
        assert {"evaluate", "metric"} <= set(meta["tags"]) and meta["description"]
        assert entry["files"] == sorted(["README.md", "app.py", "requirements.txt", f"{name}.py"])
