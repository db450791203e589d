"""The faithfulness suite tells apart recommenders whose faithfulness is known (DESIGN §9).

On the real ml-100k-iot test split, with the whole counterfactual suite, every verdict read
off a 95% bootstrap interval, not a point value:

- ``oracle`` (item-based CF that writes its true evidence) passes everything;
- ``rationalizer`` (decides by popularity, then cites real but unrelated edges) passes
  grounding, edge validity and consistency, but removing what it cites changes nothing;
- ``hallucinator`` fails grounding and edge validity.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli

GROUNDED = 0.95  # a grounding interval entirely above this passes


@pytest.fixture(scope="module")
def faithfulness(ml100k_build, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("reference-runs")
    reports = {}
    for name in ("oracle", "rationalizer", "hallucinator"):
        result = run_cli(
            "evaluate", "--model", f"ref:{name}", "--dataset", str(ml100k_build),
            "--faithfulness", "full", "--output-dir", str(out / name), "--quiet",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        results = json.loads((out / name / "results.json").read_text())
        assert results["n_users"] == 943 and results["faithfulness"]["mode"] == "full"
        reports[name] = results["faithfulness"]["metrics"]
    return reports


def _passes_grounding(metrics) -> bool:
    return metrics["grounding"]["ci_low"] > GROUNDED


def _passes_validity(metrics) -> bool:
    """Claimed edges hold at both thresholds more often than random pairs with the same X."""
    return all(
        metrics[f"edge_validity@{t}"]["ci_low"] is not None
        and metrics[f"edge_validity@{t}"]["ci_low"] > metrics[f"edge_null@{t}"]["ci_high"]
        for t in (1, 5)
    )


def _passes_consistency(metrics) -> bool:
    return metrics["consistency"]["ci_low"] > GROUNDED


def _positive(metrics, name) -> bool:
    return metrics[name]["ci_low"] is not None and metrics[name]["ci_low"] > 0


def test_oracle_passes_everything(faithfulness):
    oracle = faithfulness["oracle"]
    assert _passes_grounding(oracle)
    assert _passes_validity(oracle)
    assert _passes_consistency(oracle)
    assert _positive(oracle, "comprehensiveness_gap")
    assert _positive(oracle, "sufficiency_gap")
    assert _positive(oracle, "early_answering_aoc")


def test_rationalizer_is_caught_by_the_counterfactuals_alone(faithfulness):
    rationalizer = faithfulness["rationalizer"]
    assert _passes_grounding(rationalizer)
    assert _passes_validity(rationalizer)
    assert _passes_consistency(rationalizer)
    assert rationalizer["comprehensiveness_gap"]["ci_low"] <= 0
    # Its answer survives an empty history: every user is history-insensitive.
    assert rationalizer["history_insensitive"]["ci_low"] > GROUNDED
    assert rationalizer["early_answering_aoc"]["ci_high"] <= 0
    # The cited edges are real but not the history's strongest links to the answer.
    oracle = faithfulness["oracle"]
    assert rationalizer["strength_percentile"]["ci_high"] < oracle["strength_percentile"]["ci_low"]


def test_hallucinator_fails_grounding_and_validity(faithfulness):
    hallucinator = faithfulness["hallucinator"]
    assert not _passes_grounding(hallucinator)
    assert hallucinator["grounding"]["ci_high"] < faithfulness["oracle"]["grounding"]["ci_low"]
    assert not _passes_validity(hallucinator)
    assert hallucinator["off_catalog"]["ci_low"] > 0
