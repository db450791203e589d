"""r2rec-bench's metrics as local modules of the Hugging Face ``evaluate`` library.

    import evaluate
    from r2rec_bench.harness.evaluate_modules import module_path
    hit_ratio = evaluate.load(module_path("hit_ratio"))
    hit_ratio.compute(predictions=[[3, 1], [0]], references=[1, 2], k=2)  # {'hit_ratio': 0.5}

Each module wraps the functions of :mod:`r2rec_bench.task.metrics`, so its numbers are
the harness's numbers. ``predictions`` are per-user rankings of candidate indices, best first
(an empty list for an invalid answer); ``references`` are the targets' candidate indices.
"""

from __future__ import annotations

from pathlib import Path

MODULES = ("hit_ratio", "ndcg", "mrr", "valid_ratio")


def module_path(name: str) -> str:
    """The directory to pass to ``evaluate.load`` for one of :data:`MODULES`."""
    if name not in MODULES:
        raise ValueError(f"unknown metric module {name!r}; one of {', '.join(MODULES)}")
    return str(Path(__file__).resolve().parent / name)


CITATION = """
@article{zhao2025r2rec,
  title   = {Reason-to-Recommend: Using Interaction-of-Thought Reasoning to Enhance LLM
             Recommendation},
  author  = {Zhao, Keyu and Xu, Fengli and Li, Yong},
  journal = {arXiv preprint arXiv:2506.05069},
  year    = {2025}
}
"""


def ranking_metric_info(evaluate, datasets, description: str, inputs: str):
    """The MetricInfo every module shares: per-user rankings in, one target index each."""
    return evaluate.MetricInfo(
        description=description,
        citation=CITATION,
        inputs_description=inputs,
        features=datasets.Features(
            {
                "predictions": datasets.Sequence(datasets.Value("int64")),
                "references": datasets.Value("int64"),
            }
        ),
    )


def write_metric_space(name: str, out: Path) -> Path:
    """Write ``out`` as a Hub ``evaluate`` metric Space for one of :data:`MODULES`: the
    module, its metric card (README.md, from the module's own description and examples),
    ``app.py`` (evaluate's Gradio widget) and ``requirements.txt``. Push it with
    ``huggingface_hub.upload_folder(repo_type="space", ...)``."""
    import importlib.util
    import shutil

    from jinja2 import Template

    source = Path(module_path(name)) / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_r2rec_metric_{name}", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    description = module._DESCRIPTION.strip()
    card = Template((Path(__file__).parent / "metric_card.md").read_text(encoding="utf-8"))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, out / source.name)
    (out / "README.md").write_text(
        card.render(
            title=name,
            summary=" ".join(description.split("\n\n")[0].split()),
            description="\n" + description + "\n",
            usage=module._KWARGS_DESCRIPTION.strip().replace("path/to/", "r2rec/"),
            citation=CITATION.rstrip() + "\n",
        ),
        encoding="utf-8",
    )
    (out / "app.py").write_text(
        "import evaluate\nfrom evaluate.utils import launch_gradio_widget\n\n"
        f'launch_gradio_widget(evaluate.load("{name}.py"))\n',
        encoding="utf-8",
    )
    (out / "requirements.txt").write_text("evaluate\nr2rec-bench\n", encoding="utf-8")
    return out
