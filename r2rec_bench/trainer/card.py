"""The model card of a trained checkpoint, from ``hub_cards/model_card.md``, and the push.

The card says what the model started from, what it was trained on (dataset id, config, split,
fingerprint), the recipe as run, the training figures (steps, time, loss, rewards) and the
harness's evaluation of the checkpoint, so that a model on the Hub carries its own provenance.
"""

from __future__ import annotations

from pathlib import Path

from r2rec_bench import __version__
from r2rec_bench.errors import UserError, one_line
from r2rec_bench.resources import resource_dir
from r2rec_bench.trainer.recipe import Recipe

CARD = "README.md"
# Left out of a push: checkpoints only serve a resume, base/ is a scratch model's random start,
# hidden files are local state (the Hub's .eval_results/ folder excepted).
PUSH_IGNORE = ["checkpoint-*/**", "base/**", ".[!e]*", ".e[!v]*"]
# The libraries whose versions decide what a trained checkpoint is (TRL's cards list them too).
FRAMEWORKS = ("trl", "transformers", "peft", "torch", "datasets", "tokenizers", "accelerate")


def framework_versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in FRAMEWORKS:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def _card_data(recipe: Recipe, summary: dict, results: dict | None, model_name: str):
    from huggingface_hub import ModelCardData

    from r2rec_bench.harness.hub_results import model_index_results

    started = summary["started_from"]
    origin = (started.get("sft_started_from") if started["kind"] == "sft" else started) or {}
    base_model = origin.get("id") if origin.get("kind") == "pretrained" else None
    # A base given as a local directory is no Hub id: the card then names no base model.
    if base_model and Path(base_model).expanduser().exists():
        base_model = None
    dataset = summary["data"].get("hub_repo")
    return ModelCardData(
        library_name="transformers",
        pipeline_tag="text-generation",
        base_model=base_model,
        datasets=[dataset] if dataset else None,
        tags=["r2rec-bench", "recommendation", "reasoning", "trl", recipe.stage],
        # model-index: the harness's figures, shown in the card's evaluation widget.
        model_name=model_name if results else None,
        eval_results=model_index_results(results) if results else None,
    )


def render_model_card(recipe: Recipe, summary: dict, results: dict | None, repo_id: str | None):
    import yaml
    from huggingface_hub import ModelCard

    model_ref = repo_id or str(recipe.output_dir)
    model_name = repo_id or recipe.output_dir.name
    return ModelCard.from_template(
        _card_data(recipe, summary, results, model_name),
        template_path=str(resource_dir("hub_cards") / "model_card.md"),
        model_name=model_name,
        frameworks=framework_versions(),
        model_ref=model_ref,
        harness_version=__version__,
        summary=summary,
        started=summary["started_from"],
        data=summary["data"],
        lora=recipe.lora,
        weights=recipe.rewards,
        recipe_yaml=yaml.safe_dump(recipe.source, sort_keys=False, allow_unicode=True),
        results=results,
    )


def write_model_card(recipe: Recipe, summary: dict, results: dict | None, repo_id: str | None):
    """The card, and with an evaluation the Hub's ``.eval_results/`` file beside it."""
    from r2rec_bench.harness.hub_results import write_eval_results

    card = render_model_card(recipe, summary, results, repo_id)
    (recipe.output_dir / CARD).write_text(str(card) + "\n", encoding="utf-8")
    if results:
        write_eval_results(recipe.output_dir, results)


def push_model(out: Path, repo_id: str, *, quiet: bool) -> str:
    """Upload the model, its card, metrics and evaluation (not the checkpoints) in one commit."""
    from huggingface_hub import HfApi

    api = HfApi()
    try:
        api.create_repo(repo_id, repo_type="model", exist_ok=True)
        commit = api.upload_folder(
            folder_path=str(out),
            repo_id=repo_id,
            repo_type="model",
            ignore_patterns=PUSH_IGNORE,
            commit_message="Upload model trained with r2rec-bench",
        )
    except Exception as exc:  # the Hub client raises many types (auth, network, quota)
        raise UserError(
            f"--push-to-hub {repo_id}: the upload failed ({type(exc).__name__}: "
            f"{one_line(exc)}); the model is saved in {out}: log in (`hf auth login` or "
            "HF_TOKEN) and rerun the same command, which resumes and pushes"
        ) from None
    url = getattr(commit, "commit_url", None) or f"https://huggingface.co/{repo_id}"
    if not quiet:
        print(f"pushed {out} to {url}")
    return url
