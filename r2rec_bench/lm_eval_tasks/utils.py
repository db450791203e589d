"""The functions the task YAMLs name with ``!function``: the dataset reader, the prompts and the
per-user scoring, each a thin call into r2rec-bench, so that an lm-eval run reads the same users,
candidates and prompts as ``r2rec-bench evaluate`` and scores them with the same parser, tie rule
and metrics (docs/lm-eval.md).

lm-eval hands ``custom_dataset`` its ``--metadata`` JSON (and the model arguments) as keyword
arguments; ``r2rec_dataset`` (a local build directory or a Hub repo id) and ``r2rec_revision``
(a Hub revision) are ours, everything else is ignored.
"""

from __future__ import annotations

from r2rec_bench.errors import UserError
from r2rec_bench.llm.chat import plain_chat_text
from r2rec_bench.task.dataset import open_dataset
from r2rec_bench.task.metrics import per_user_metrics
from r2rec_bench.task.prompt import ANSWER_PREFIX, ANSWER_SUFFIX
from r2rec_bench.task.scoring import Scored, score_scores, score_text

SPLIT = "test"


def load_test_split(
    corpus: str,
    r2rec_dataset: str | None = None,
    r2rec_revision: str | None = None,
    **_other_metadata,
):
    """The `eval` test split as the ``{"test": datasets.Dataset}`` lm-eval reads, one doc per
    user, read through r2rec-bench's reader (files from MANIFEST.json, sha256-checked).

    ``corpus`` (from the task YAML's ``dataset_kwargs``) is the build the task is named after:
    the default location is the Hub repo ``r2rec/<corpus>``, and a build of another corpus is
    refused, so that a number is never reported under the wrong task name."""
    import datasets

    location = r2rec_dataset or f"r2rec/{corpus}"
    dataset = open_dataset(location, configs=("eval",), revision=r2rec_revision)
    if dataset.name != corpus:
        raise UserError(
            f"--metadata r2rec_dataset={location}: a build of {dataset.name}, and these tasks "
            f"evaluate {corpus}; point r2rec_dataset at a {corpus} build"
        )
    split = dataset.split(SPLIT)
    rows = [_doc(example) for example in split.examples(range(len(split)))]
    return datasets.DatasetDict({SPLIT: datasets.Dataset.from_list(rows)})


def _doc(example) -> dict:
    request, gold = example.request, example.gold
    roles = [message["role"] for message in request.prompt]
    if roles != ["system", "user"]:
        raise UserError(
            f"user {request.user_id}: prompt roles {roles}, expected [system, user]; rebuild "
            "the dataset with `r2rec-bench build`"
        )
    system, user = (message["content"] for message in request.prompt)
    return {
        "user_id": request.user_id,
        "prompt": request.prompt,
        "system": system,
        "user": user,
        "candidates": request.candidates,
        "candidate_titles": request.candidate_titles,
        "target_index": gold.target_index,
        "target_title": gold.target_title,
        # lm-eval's gen_prefix names this column: the rank task's assistant turn begins with
        # it, as backends/hf.py rank() writes it after the prompt.
        "answer_prefix": ANSWER_PREFIX,
    }


def plain_prompt(doc: dict) -> str:
    """The prompt as our harness writes it for a model without a chat template."""
    return plain_chat_text(doc["prompt"])


def plain_rank_context(doc: dict) -> str:
    """The rank-mode context for a model without a chat template (backends/hf.py rank())."""
    return plain_chat_text(doc["prompt"]) + ANSWER_PREFIX


def rank_choices(doc: dict) -> list[str]:
    """Each candidate as the answer it would be: its title, then the closing answer tag."""
    return [title + ANSWER_SUFFIX for title in doc["candidate_titles"]]


def generate_results(doc: dict, results: list[str]) -> dict[str, float]:
    (completion,) = results
    return _metrics(score_text(completion, doc["candidate_titles"], doc["target_index"]))


def rank_results(doc: dict, results: list[tuple[float, bool]]) -> dict[str, float]:
    scores = [loglikelihood for loglikelihood, _is_greedy in results]
    return _metrics(score_scores(scores, doc["user_id"], doc["candidates"], doc["target_index"]))


def _metrics(scored: Scored) -> dict[str, float]:
    """One user's value of every metric results.json reports; lm-eval averages them."""
    values = per_user_metrics([scored.target_rank], [scored.valid])
    return {name: float(value[0]) for name, value in values.items()}
