"""How the site labels and ranks rows: ties from overlapping HR@1 intervals, the Hub link
only for a model fetched from the Hub, kinds, modes and parameter buckets."""

from __future__ import annotations

import pytest

from r2rec_bench.leaderboard.rows import (
    display_mode,
    format_parameters,
    hub_url,
    model_kind,
    parameter_count,
    size_bucket,
    tie_ranks,
)

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def texts(intervals: list[tuple[float, float]]) -> list[str]:
    return [rank.text for rank in tie_ranks(intervals)]


def test_separated_intervals_rank_plainly():
    assert texts([(0.5, 0.6), (0.3, 0.4), (0.1, 0.2)]) == ["1", "2", "3"]


def test_an_interval_overlapping_the_rows_above_shows_the_best_place_it_may_take():
    # B overlaps A; C overlaps B but not A, so C may be second at best.
    assert texts([(0.40, 0.50), (0.38, 0.45), (0.30, 0.39)]) == ["1", "1–2", "2–3"]
    # All three overlap: the last may be first.
    assert texts([(0.3, 0.6), (0.3, 0.55), (0.2, 0.5)]) == ["1", "1–2", "1–3"]


def test_only_rows_clearly_above_count_not_the_nearest_ones():
    # The wide first row overlaps the third; the narrow second one does not: the third may
    # beat the first but not the second, so second at best.
    ranks = tie_ranks([(0.20, 0.60), (0.45, 0.46), (0.30, 0.44)])
    assert [(r.place, r.best, r.tied) for r in ranks] == [(1, 1, False), (2, 1, True), (3, 2, True)]


def test_touching_ends_are_a_tie_and_a_point_interval_works():
    assert texts([(0.4, 0.5), (0.3, 0.4)]) == ["1", "1–2"]
    assert texts([(0.4, 0.4), (0.4, 0.4), (0.1, 0.1)]) == ["1", "1–2", "3"]
    assert texts([]) == []


@pytest.mark.parametrize(
    ("spec", "model", "url"),
    [
        ("Qwen/Qwen2.5-0.5B", {"revision": COMMIT}, "https://huggingface.co/Qwen/Qwen2.5-0.5B"),
        ("hf:Qwen/Qwen2.5-0.5B", {"revision": COMMIT}, "https://huggingface.co/Qwen/Qwen2.5-0.5B"),
        # A local folder shaped like ORG/NAME: no Hub commit was recorded.
        ("checkpoints/sft", {"revision": None}, None),
        ("./checkpoints/sft", {"revision": None}, None),
        ("/home/me/models/sft", {"revision": COMMIT}, None),
        # A short name of `models list`: its revision is the converted file's hash.
        ("smollm2-135m-instruct", {"revision": "gguf:" + "b" * 64}, None),
        ("baseline:pop", {"revision": COMMIT}, None),
        ("ref:oracle", {"revision": None}, None),
        ("openai:org/model", {"revision": COMMIT}, None),
        # With an adapter, the page of what was evaluated is the adapter's.
        (
            "Qwen/Qwen2.5-0.5B",
            {"revision": COMMIT, "adapter": {"path": "me/r2rec-lora", "revision": COMMIT}},
            "https://huggingface.co/me/r2rec-lora",
        ),
        (
            "Qwen/Qwen2.5-0.5B",
            {"revision": COMMIT, "adapter": {"path": "out/lora", "revision": None}},
            None,
        ),
    ],
)
def test_hub_links_only_for_models_fetched_from_the_hub(spec, model, url):
    assert hub_url(spec, model) == url


def test_kinds_and_modes():
    assert [model_kind(s) for s in ("baseline:pop", "ref:oracle", "org/m", "openai:x")] == [
        "baseline",
        "reference",
        "llm",
        "llm",
    ]
    assert display_mode("baseline", "generate") == "scores"
    assert display_mode("llm", "rank") == "rank" and display_mode("reference", "generate") == (
        "generate"
    )


def test_parameter_counts_and_buckets():
    assert [parameter_count(m) for m in ({"parameters": 135}, {"parameters": 0}, {})] == [
        135,
        None,
        None,
    ]
    assert parameter_count({"parameters": True}) is None
    assert [size_bucket(n) for n in (134_515_008, 1_000_000_000, 7_600_000_000, 70e9, None)] == [
        "under-1b",
        "1b-4b",
        "4b-10b",
        "40b-up",
        "unknown",
    ]
    assert [format_parameters(n) for n in (134_515_008, 1_540_000_000, 146_176, 7, None)] == [
        "135M",
        "1.54B",
        "146K",
        "7",
        "—",
    ]
