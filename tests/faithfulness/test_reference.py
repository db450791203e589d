"""The reference recommenders (``ref:oracle``, ``ref:rationalizer``, ``ref:hallucinator``) on
the real ml-100k-iot build: what each answers, what its reasoning claims, and how it continues
a truncated reasoning."""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest

from r2rec_bench.errors import UserError
from r2rec_bench.faithfulness.evidence import load_evidence
from r2rec_bench.faithfulness.reference import make_reference_backend
from r2rec_bench.harness.backends import resolve_backend
from r2rec_bench.harness.runner import run_evaluation
from r2rec_bench.task.dataset import open_dataset
from r2rec_bench.task.parser import parse_answer, title_key
from r2rec_bench.task.records import Backend, EvalRequest
from tests.conftest import run_cli

NAMES = ("oracle", "rationalizer", "hallucinator")
CO_INTERACTION = re.compile(r'(\d+) other users who watched "([^"]+)" also watched "([^"]+)"\.')
HISTORY_CLAIM = re.compile(r'Thought \d+: The user watched "([^"]+)"')
CONCLUSION = re.compile(r'Thought \d+: So the user will watch "([^"]+)"')


@pytest.fixture(scope="module")
def requests(ml100k_build) -> list[EvalRequest]:
    split = open_dataset(ml100k_build).split("test")
    return [example.request for example in split.examples(range(len(split)))]


@pytest.fixture(scope="module")
def evidence(ml100k_build):
    return load_evidence(open_dataset(ml100k_build))


@pytest.fixture(scope="module")
def backends(ml100k_build) -> dict[str, Backend]:
    return {name: make_reference_backend(name, dataset=ml100k_build, seed=0) for name in NAMES}


def answer_of(backend: Backend, request: EvalRequest) -> int:
    parsed = parse_answer(backend.generate([request])[0].text, request.candidate_titles)
    assert parsed.valid and len(parsed.ranking) == 1
    return parsed.ranking[0]


def co_count(evidence, first_title: str, second_title: str) -> int:
    codes = {title: code for code, title in enumerate(evidence.titles)}
    return int(evidence.co_counts([codes[first_title]], [codes[second_title]])[0])


@pytest.mark.parametrize("name", NAMES)
def test_every_answer_is_a_valid_candidate_and_the_best_ranked_one(name, backends, requests):
    backend = backends[name]
    assert isinstance(backend, Backend)
    generations = backend.generate(requests)
    scores = backend.rank(requests)
    for request, generation, row in zip(requests, generations, scores, strict=True):
        parsed = parse_answer(generation.text, request.candidate_titles)
        assert parsed.valid and parsed.match == "exact", generation.text
        assert len(row) == len(request.candidates)
        assert parsed.ranking == (int(np.argmax(row)),)
        # The last thought names the answer, and the answer block holds it alone.
        answer_title = request.candidate_titles[parsed.ranking[0]]
        assert CONCLUSION.findall(generation.text)[-1] == answer_title
        assert parsed.answer_text == answer_title
        assert generation.prompt_tokens == generation.completion_tokens == 0


@pytest.mark.parametrize("name", NAMES)
def test_outputs_depend_on_the_seed_and_the_request_only(name, ml100k_build, backends, requests):
    again = make_reference_backend(name, dataset=ml100k_build, seed=0)
    shuffled = requests[::-7]
    assert [g.text for g in again.generate(shuffled)] == [
        g.text for g in backends[name].generate(shuffled)
    ]
    other_seed = make_reference_backend(name, dataset=ml100k_build, seed=1)
    with_seed_0 = [g.text for g in backends[name].generate(requests[:50])]
    with_seed_1 = [g.text for g in other_seed.generate(requests[:50])]
    assert (with_seed_0 != with_seed_1) == (name != "oracle")  # the oracle draws nothing


def test_oracle_cites_true_co_interactions_of_history_items_with_its_answer(
    backends, requests, evidence
):
    popularity = dict(zip(evidence.titles, evidence.popularity, strict=True))
    for request, generation in zip(requests, backends["oracle"].generate(requests), strict=True):
        answer_title = CONCLUSION.findall(generation.text)[-1]
        edges = CO_INTERACTION.findall(generation.text)
        assert 1 <= len(edges) <= 3
        assert HISTORY_CLAIM.findall(generation.text) == [first for _, first, _ in edges]
        for count, first, second in edges:
            assert first in request.history_titles and second == answer_title
            assert int(count) == co_count(evidence, first, second) >= 1
        # Strongest evidence first: by cosine similarity to the answer over training users.
        similarity = [int(count) / np.sqrt(popularity[first]) for count, first, _ in edges]
        assert similarity == sorted(similarity, reverse=True)


def test_oracle_is_far_more_accurate_than_chance_in_both_modes(backends, ml100k_build, tmp_path):
    hits = {}
    for mode in ("generate", "rank"):
        results = run_evaluation(
            backends["oracle"], ml100k_build, mode=mode, output_dir=tmp_path / mode, quiet=True
        )
        assert results["metrics"]["valid_ratio"]["value"] == 1.0
        hits[mode] = results["metrics"]["hr@1"]["value"]
    assert hits["generate"] > 0.2  # random guessing among 20 candidates: 0.05
    assert hits["rank"] == pytest.approx(hits["generate"])


def test_oracle_decides_anew_on_a_changed_history(backends, requests):
    oracle = backends["oracle"]
    changed = 0
    for request in requests[:100]:
        text = oracle.generate([request])[0].text
        cited = set(HISTORY_CLAIM.findall(text))
        kept = [i for i, title in enumerate(request.history_titles) if title not in cited]
        without_cited = dataclasses.replace(
            request,
            history=[request.history[i] for i in kept],
            history_titles=[request.history_titles[i] for i in kept],
        )
        changed += answer_of(oracle, without_cited) != answer_of(oracle, request)
        assert not cited & set(HISTORY_CLAIM.findall(oracle.generate([without_cited])[0].text))
    assert changed >= 10


def test_oracle_without_any_shared_user_answers_the_most_popular_candidate(
    backends, requests, evidence
):
    request = dataclasses.replace(requests[0], history=[], history_titles=[])
    text = backends["oracle"].generate([request])[0].text
    popularity = evidence.popularity[evidence.codes(request.candidates)]
    assert answer_of(backends["oracle"], request) == int(np.argmax(popularity))
    assert "most popular candidate" in text and not CO_INTERACTION.search(text)


def test_rationalizer_answers_by_popularity_whatever_the_history(backends, requests, evidence):
    rationalizer = backends["rationalizer"]
    for request in requests[:200]:
        popularity = evidence.popularity[evidence.codes(request.candidates)]
        emptied = dataclasses.replace(request, history=[], history_titles=[])
        assert answer_of(rationalizer, request) == answer_of(rationalizer, emptied)
        assert answer_of(rationalizer, request) == int(np.argmax(popularity))
        assert rationalizer.rank([request]) == rationalizer.rank([emptied])


def test_rationalizer_cites_history_items_with_real_edges_unrelated_to_the_candidates(
    backends, requests, evidence
):
    for request, generation in zip(
        requests, backends["rationalizer"].generate(requests), strict=True
    ):
        edges = CO_INTERACTION.findall(generation.text)
        assert 2 <= len(edges) <= 3
        assert HISTORY_CLAIM.findall(generation.text) == [first for _, first, _ in edges]
        for count, first, second in edges:
            assert first in request.history_titles
            assert second not in request.history_titles + request.candidate_titles
            assert int(count) == co_count(evidence, first, second) >= 5


def test_hallucinator_cites_items_outside_the_history_and_outside_the_catalog(
    backends, requests, evidence
):
    catalog_keys = {title_key(title) for title in evidence.titles}
    catalog_bases = {base for base, _ in catalog_keys}
    for request, generation in zip(
        requests, backends["hallucinator"].generate(requests), strict=True
    ):
        claimed = HISTORY_CLAIM.findall(generation.text)
        assert not set(claimed) & set(request.history_titles)
        invented = [title for title in claimed if title_key(title) not in catalog_keys]
        assert len(invented) == 2
        assert all(title_key(title)[0] not in catalog_bases for title in invented)
        answer_title = CONCLUSION.findall(generation.text)[-1]
        for count, first, second in CO_INTERACTION.findall(generation.text):
            assert second == answer_title
            if first not in invented:  # a catalog item: its claimed edge is false too
                assert co_count(evidence, first, second) == 0 < int(count)


def truncations(text: str) -> list[str]:
    """The output's reasoning cut after 0, 1, ... thoughts (all of them last) and forced to
    answer, as the early-answering metric does."""
    thoughts = text.split("</think>")[0].removeprefix("<think>\n").splitlines()
    return [
        "<think>\n" + "".join(t + "\n" for t in thoughts[:kept]) + "</think>\n<answer>"
        for kept in range(len(thoughts) + 1)
    ]


@pytest.mark.parametrize("name", NAMES)
def test_a_continuation_completes_a_truncated_reasoning_into_a_valid_answer(
    name, backends, requests
):
    backend = backends[name]
    for request in requests[:60]:
        text = backend.generate([request])[0].text
        full_answer = answer_of(backend, request)
        for prefix in truncations(text):
            forced = dataclasses.replace(request, assistant_prefix=prefix)
            continuation = backend.generate([forced])[0].text
            assert "<think>" not in continuation
            parsed = parse_answer(prefix + continuation, request.candidate_titles)
            assert parsed.valid and len(parsed.ranking) == 1
            # The oracle's answer depends on the evidence kept (next test), until the prefix
            # holds its conclusion; the others ignore their reasoning altogether.
            if name != "oracle" or "So the user will" in prefix:
                assert parsed.ranking == (full_answer,)


def test_the_oracle_answers_from_the_history_its_truncated_reasoning_cites(
    backends, requests, evidence
):
    oracle = backends["oracle"]
    for request in requests[:60]:
        truncated = truncations(oracle.generate([request])[0].text)[:-1]  # before concluding
        for prefix in truncated:
            cited = [i for i, t in enumerate(request.history_titles) if f'"{t}"' in prefix]
            only_cited = dataclasses.replace(
                request,
                history=[request.history[i] for i in cited],
                history_titles=[request.history_titles[i] for i in cited],
            )
            forced = dataclasses.replace(request, assistant_prefix=prefix)
            continuation = oracle.generate([forced])[0].text
            parsed = parse_answer(prefix + continuation, request.candidate_titles)
            assert parsed.ranking == (answer_of(oracle, only_cited),)
        # With nothing cited yet, the most popular candidate.
        popularity = evidence.popularity[evidence.codes(request.candidates)]
        bare = dataclasses.replace(request, assistant_prefix="<think>\n</think>\n<answer>")
        continuation = oracle.generate([bare])[0].text
        assert continuation == request.candidate_titles[int(np.argmax(popularity))] + "</answer>"


@pytest.mark.parametrize(
    "prefix",
    [
        "<think>\n",  # inside the reasoning
        "<think>\nThought 1: ",  # in the middle of a thought
        "<think>\n</think>\n",  # reasoning closed, no answer yet
        "<think>\n</think>\n<answer>\n",  # answer opened, then a newline
        "<THINK>\n< /think >\n< answer >",  # tags as the parser also accepts them
        "Thought 1: no tags at all\n",
    ],
)
@pytest.mark.parametrize("name", NAMES)
def test_every_shape_of_prefix_is_completed_into_the_same_answer(name, prefix, backends, requests):
    backend = backends[name]
    for request in requests[:20]:
        forced = dataclasses.replace(request, assistant_prefix=prefix)
        expected = dataclasses.replace(request, assistant_prefix="<think>\n</think>\n<answer>")
        parsed = parse_answer(prefix + backend.generate([forced])[0].text, request.candidate_titles)
        assert parsed.ranking == (answer_of(backend, expected),)


def test_resolved_by_spec_with_the_harness_options(ml100k_build):
    backend = resolve_backend("ref:oracle", dataset=ml100k_build, seed=0, batch_size=8)
    described = backend.describe()
    assert described["id"] == "ref:oracle" and described["kind"] == "reference"
    assert described["revision"] is None and described["parameters"] == 0
    with pytest.raises(UserError, match=r"known: oracle, rationalizer, hallucinator"):
        resolve_backend("ref:nope", dataset=ml100k_build, seed=0)
    with pytest.raises(UserError, match=r"--dataset DIR"):
        resolve_backend("ref:oracle", seed=0)
    with pytest.raises(UserError, match=r"--max-new-tokens does not apply"):
        resolve_backend("ref:oracle", dataset=ml100k_build, max_new_tokens=5)


def test_evaluate_on_the_command_line(ml100k_build, tmp_path):
    out = tmp_path / "out"
    result = run_cli("evaluate", "--model", "ref:oracle", "--dataset", str(ml100k_build),
                     "--limit", "50", "--output-dir", str(out), "--quiet")  # fmt: skip
    assert result.returncode == 0, result.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["n_users"] == 50 and results["metrics"]["valid_ratio"]["value"] == 1.0
