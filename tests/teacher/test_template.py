"""The template teacher over every ml-100k training example: deterministic, grounded in exact
catalog titles, ending at the target, and predicting from what each step shows."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest

from r2rec_bench.builders import load_builder
from r2rec_bench.chains.sampler import sample_chains
from r2rec_bench.errors import UserError
from r2rec_bench.graph import TrainGraph
from r2rec_bench.protocol import EvalSplit, run_protocol, training_targets
from r2rec_bench.task.prompt import PromptStyle
from r2rec_bench.teacher import build_traces, make_teacher
from r2rec_bench.teacher.facts import CoVectors
from r2rec_bench.teacher.plan import Planner
from r2rec_bench.teacher.prompting import step_messages
from tests.benchmarks.synthetic import Shape, synthetic_log
from tests.support.teacher_driver import dump

STYLE = PromptStyle()
QUOTED = re.compile(r'"([^"]*)"')


@pytest.fixture(scope="module")
def sampled_traces(ml100k_examples, sampled_chains):
    output, graph, examples, _ = ml100k_examples
    return build_traces(make_teacher("template"), output, graph, examples, sampled_chains, STYLE)


HAND_ROWS = 300  # hand-walked chains of every shape, and no chain every tenth example


@pytest.fixture(scope="module")
def hand_traces(ml100k_examples):
    output, graph, examples, chains = ml100k_examples
    examples = examples.take(np.arange(HAND_ROWS))
    return build_traces(
        make_teacher("template"), output, graph, examples, chains[:HAND_ROWS], STYLE
    )


def test_template_teacher_is_deterministic(ml100k_examples, sampled_chains, sampled_traces):
    output, graph, examples, _ = ml100k_examples
    again = build_traces(make_teacher("template"), output, graph, examples, sampled_chains, STYLE)
    assert len(sampled_traces) == len(examples) == 943
    assert dump(again) == dump(sampled_traces)


@pytest.mark.parametrize("which", ["sampled", "hand"])
def test_thoughts_cite_exact_titles_and_the_last_reaches_the_target(
    which, request, ml100k_examples, sampled_chains
):
    output, graph, examples, hand_chains = ml100k_examples
    traces = request.getfixturevalue(f"{which}_traces")
    chains = sampled_chains if which == "sampled" else hand_chains[:HAND_ROWS]
    assert len(traces) == (len(examples) if which == "sampled" else HAND_ROWS)
    titles = {title: code for code, title in enumerate(output.catalog.title)}
    kinds = set()
    for row, trace in enumerate(traces):
        assert trace.example == row
        assert trace.chains == tuple(chains[row])
        assert trace.attribute_only == (not chains[row])
        kinds.update(chain.kind for chain in trace.chains)
        # One step per chain edge; each bridge's edge into the target is the one final step,
        # and a loop's closing edge is revealed with the history item before it.
        bridges = sum(c.nodes[-1].code == examples.target[row] for c in trace.chains)
        loops = sum(c.kind == "loop" for c in trace.chains)
        assert len(trace.thoughts) == sum(c.steps for c in trace.chains) - bridges - loops + 1
        chain_edges = {edge for chain in trace.chains for edge in chain.edges}
        target = int(examples.target[row])
        for n, thought in enumerate(trace.thoughts):
            quoted = QUOTED.findall(thought.text)
            assert thought.text.count('"') % 2 == 0 and "\n" not in thought.text
            assert quoted and all(title in titles for title in quoted), thought.text
            assert thought.cited_items == tuple(dict.fromkeys(titles[q] for q in quoted))
            # The target is named by the final thought only: nothing before gives it away.
            assert (target in thought.cited_items) == (n == len(trace.thoughts) - 1)
            if thought.claimed_edge is not None:
                edge = thought.claimed_edge
                assert edge in chain_edges
                assert graph.edge(edge.user, edge.item) == (edge.timestamp, edge.rating)
        assert f'"{output.catalog.title[target]}"' in trace.thoughts[-1].text
    # Sampled with two chains per example: a 3-hop bridge fills in where the shown history
    # gives a single bridge.
    expected = {"bridge", "bridge3"} if which == "sampled" else {"bridge", "bridge3", "loop"}
    assert kinds == expected
    assert 0 < np.mean([t.quality for t in traces]) < 1
    assert any(t.attribute_only for t in traces) == (which == "hand")


def test_every_masked_step_has_exactly_one_right_option(ml100k_examples):
    output, graph, examples, chains = ml100k_examples
    planner = Planner(output, graph, STYLE)
    for row in range(0, len(examples), 3):
        plan = planner.plan(examples, row, chains[row])
        for step in plan.steps[:-1]:
            # Fewer than 5 only when the history holds too few items a step may offer.
            assert len(set(step.codes)) == len(step.codes) <= 5
            assert len(step.codes) == 5 or step.kind in ("pivot", "loop_item")
            edge = step.edge
            if step.titles:  # an item reached from edge.user
                connected = [graph.edge(edge.user, item) is not None for item in step.codes]
            else:  # a user reached from edge.item
                connected = [graph.edge(user, edge.item) is not None for user in step.codes]
            if step.kind != "pivot":  # the user's other history items are its items too
                assert connected == [k == step.answer for k in range(len(step.codes))]
            else:
                assert step.codes[step.answer] == edge.item
        final = plan.steps[-1]
        assert final.codes == tuple(examples.candidates[row])
        assert final.answer == examples.target_index[row]


def test_no_prompt_shows_its_answer_or_a_later_one_before_asking(ml100k_examples):
    output, graph, examples, chains = ml100k_examples
    planner = Planner(output, graph, STYLE)
    titles = output.catalog.title
    for row in range(0, len(examples), 7):
        plan = planner.plan(examples, row, chains[row])
        masked = [step.masked_item for step in plan.steps]
        for j in range(len(plan.steps)):
            thoughts = [step.thought for step in plan.steps[:j]]
            prompt = step_messages(planner, plan, j, thoughts)[1]["content"]
            shown = prompt.split("is hidden.")[0]  # history and the steps revealed so far
            for later in masked[j:]:
                if later is not None and later not in plan.history:
                    assert f'"{titles[later]}"' not in shown
            target = f'"{titles[examples.target[row]]}"'
            assert (target in prompt) == (j == len(plan.steps) - 1)
            assert prompt.count("Thought ") == j


def test_no_masked_step_can_be_answered_by_reading_the_history(ml100k_examples):
    """Options are all items of the shown history or none is an item of the user's, so the
    history list never singles out the answer; nor do they name the user's later items."""
    output, graph, examples, chains = ml100k_examples
    planner = Planner(output, graph, STYLE)
    kinds = Counter()
    for row in range(0, len(examples), 5):
        plan = planner.plan(examples, row, chains[row])
        history = set(plan.history)
        mine = set(graph.items_of(int(examples.user[row])).tolist())
        # Sampled chains never pass through the user's later items (test_chains); some hand
        # chains do, and only they may name one.
        forbidden = plan.forbidden - {n.code for c in plan.chains for n in c.nodes}
        for step in plan.steps[:-1]:
            kinds[step.kind] += 1
            if not step.titles:
                continue
            in_history = [code in history for code in step.codes]
            assert all(in_history) or not any(in_history), step.kind
            wrong = [code for k, code in enumerate(step.codes) if k != step.answer]
            assert all(in_history) or not any(code in mine for code in wrong), step.kind
            assert not forbidden & set(step.codes)
        for step in plan.steps:
            assert not forbidden & set(step.written(step.guess)[1])
    assert {"pivot", "user", "loop_item"} <= set(kinds)


def test_a_wrong_prediction_is_written_as_its_correction(ml100k_examples):
    output, graph, examples, chains = ml100k_examples
    planner = Planner(output, graph, STYLE)
    plan = planner.plan(examples, 0, chains[0])
    step = next(s for s in plan.steps if s.kind == "pivot")
    wrong = next(k for k in range(len(step.codes)) if k != step.answer)
    text, cited = step.written(wrong)
    assert text.endswith(step.thought[1:]) and text != step.thought
    assert f'"{output.catalog.title[step.codes[wrong]]}"' in text
    assert cited[0] == step.codes[wrong] and set(step.cited) <= set(cited)
    assert step.written(step.answer) == (step.thought, step.cited)


def _with_target(examples: EvalSplit, row: int, slot: int) -> EvalSplit:
    """The same example with another of its candidates as the target."""
    target, index = examples.target.copy(), examples.target_index.copy()
    target[row], index[row] = examples.candidates[row, slot], slot
    return dataclasses.replace(examples, target=target, target_index=index)


def test_the_final_prediction_does_not_depend_on_which_candidate_is_the_target(ml100k_examples):
    """A loop or no chain at all says nothing about the target, so the template's pick among
    the candidates must stay the same whichever candidate the answer is."""
    output, graph, examples, chains = ml100k_examples
    planner = Planner(output, graph, STYLE)
    rows = [r for r in range(len(examples)) if not chains[r] or chains[r][0].kind == "loop"]
    for row in rows[:60]:
        picks = set()
        for slot in (0, 7, 13):
            changed = _with_target(examples, row, slot)
            final = planner.plan(changed, row, chains[row]).steps[-1]
            picks.add(final.codes[final.guess])
        assert len(picks) == 1


def _attribute_example(output, examples: EvalSplit, genre: str, target_has_genre: bool):
    """One hand-made example: a history of ``genre`` films; candidates with exactly one more
    ``genre`` film; the target is that film or another candidate."""
    genres = output.catalog.attributes["genres"]
    with_genre = [i for i, g in enumerate(genres) if g == [genre]]
    without = [i for i, g in enumerate(genres) if g and genre not in g]
    history, match = with_genre[:5], with_genre[5]
    candidates = np.array([without[0], match, without[1], without[2]], dtype=np.int32)
    slot = 1 if target_has_genre else 2
    return EvalSplit(
        name="train",
        user=examples.user[:1],
        target=candidates[slot : slot + 1],
        target_timestamp=examples.target_timestamp[:1],
        history_offsets=np.array([0, 5]),
        history_items=np.array(history, dtype=np.int32),
        history_timestamps=np.arange(5, dtype=np.int64),
        candidates=candidates[None, :],
        target_index=np.array([slot], dtype=np.int32),
    )


@pytest.mark.parametrize("target_has_genre", [True, False])
def test_attribute_only_traces_are_verified_when_attributes_point_at_the_target(
    ml100k_examples, target_has_genre
):
    output, graph, examples, _ = ml100k_examples
    example = _attribute_example(output, examples, "Horror", target_has_genre)
    [trace] = build_traces(make_teacher("template"), output, graph, example, [()], STYLE)
    assert trace.attribute_only and len(trace.thoughts) == 1
    [thought] = trace.thoughts
    assert thought.claimed_edge is None
    assert thought.verified == target_has_genre
    assert thought.cited_items[0] == example.target[0]
    assert "Horror (5 of 5)" in thought.text


def test_the_template_teacher_needs_neither_torch_nor_an_http_client():
    code = (
        "import sys\n"
        "from r2rec_bench.teacher import build_traces, make_teacher\n"
        "import r2rec_bench.teacher.llm\n"
        "make_teacher('template')\n"
        "heavy = {'torch', 'transformers', 'httpx'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_unknown_teacher_names_are_one_line_user_errors():
    for spec in ("templat", "openai:", "gpt:x", "hf"):
        with pytest.raises(UserError) as caught:
            make_teacher(spec)
        assert "\n" not in str(caught.value) and "template" in str(caught.value)
    with pytest.raises(UserError, match="base URL"):
        make_teacher("openai:some-model")


def test_user_steps_name_no_item_when_users_outnumber_items():
    """MovieLens-1M has 6,040 users and 3,706 items. A wrong user option is an anonymous
    profile: its correction names nobody, and reading its user code as an item once named
    an unrelated title (and failed past the catalog's end)."""
    spec = load_builder("ml-1m-iot")
    output = run_protocol(synthetic_log(Shape(40_000, 1_200, 400)), spec.protocol)
    assert len(output.user_id) > len(output.catalog)
    examples = training_targets(output, 1)
    graph = TrainGraph.from_train(output.train, len(output.user_id), len(output.catalog))
    chains = sample_chains(
        graph, examples, per_example=2, held_out=output.seen_keys, progress=False
    )
    planner = Planner(output, graph, STYLE)
    user_steps = [
        step
        for row in range(len(examples))
        for step in planner.plan(examples, row, tuple(chains[row])).steps
        if step.kind == "user"
    ]
    assert any(max(step.codes) >= len(output.catalog) for step in user_steps)
    for step in user_steps:
        wrong = [k for k in range(len(step.codes)) if k != step.answer]
        assert wrong and all('"' not in step.corrections[k] for k in wrong)


def test_co_interaction_counts_are_the_same_however_they_are_held(ml100k_examples):
    """All at once (a BLAS product), one dense row at a time, or least recently used rows
    when the matrix does not fit: the same counts, each checked against its definition."""
    _, graph, _, _ = ml100k_examples
    n_items = graph.n_items
    at_once = CoVectors(graph)
    on_demand = CoVectors(graph, budget=4 * n_items * n_items, dense_work=0)
    evicting = CoVectors(graph, budget=4 * n_items * 20)
    rng = np.random.default_rng(0)
    rows, columns = rng.integers(0, n_items, 40), rng.integers(0, n_items, 25)
    expected = np.array(
        [[len(np.intersect1d(graph.users_of(a), graph.users_of(o))) for o in columns] for a in rows]
    )
    for counts in (at_once, on_demand, evicting):
        assert np.array_equal(counts.block(rows, columns), expected)
        assert np.array_equal(counts(int(rows[0])), at_once(int(rows[0])))
