"""The import directions of DESIGN §2–3: the contract (``task``) imports no stage, and each
stage imports only the contract and the stages before it in the data flow.

Read from the source (every ``import``, at module level or inside a function), so a
back-up import hidden in a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "r2rec_bench"

# Shared utilities, not stages: anyone may use them, and they use no stage.
UTILITIES = {"errors", "hashing", "atomic", "console", "resources", "memory", "parallel"}
# Orchestrators at the top of the build path and the command line: no stage imports them.
ORCHESTRATORS = {"build", "builders", "shards", "cli", "__main__", "__init__"}
# Stage -> the stages (besides utilities) it may import: the contract and what comes before
# it in the data flow (DESIGN §3), never what comes after.
ALLOWED = {
    "task": set(),
    "sources": set(),
    "protocol": {"task", "sources"},
    "graph": {"task", "protocol"},
    "chains": {"task", "protocol", "graph"},
    "models": {"sources"},  # the pinned-wheel download the raw data also uses
    "llm": {"task", "models"},
    "teacher": {"task", "sources", "protocol", "graph", "chains", "llm"},
    "render": {"task", "protocol", "chains", "teacher"},
    "hub": {"task"},
    "baselines": {"task", "sources"},
    "faithfulness": {"task"},
    "harness": {"task", "llm", "faithfulness"},
    "trainer": {"task", "llm", "faithfulness", "harness"},
    "leaderboard": {"task", "faithfulness", "harness"},
    # lm-evaluation-harness tasks: the contract, and the plain prompt text of llm.chat.
    "lm_eval_tasks": {"task", "llm"},
}


def _package_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _is_module(name: str) -> bool:
    return (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").is_file()


def _imported_packages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "r2rec_bench" and len(parts) > 1 and _is_module(parts[1]):
                found.add(parts[1])
    return found


def _edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        package = _package_of(path)
        edges.setdefault(package, set()).update(_imported_packages(path) - {package})
    return edges


def test_every_package_has_a_place_in_the_layers():
    assert set(_edges()) <= set(ALLOWED) | UTILITIES | ORCHESTRATORS


@pytest.mark.parametrize("stage", sorted(ALLOWED))
def test_a_stage_imports_the_contract_and_earlier_stages_only(stage):
    imported = _edges().get(stage, set()) - UTILITIES
    forbidden = imported - ALLOWED[stage]
    assert not forbidden, f"{stage} imports {sorted(forbidden)}; allowed: {sorted(ALLOWED[stage])}"


def test_utilities_import_no_stage():
    edges = _edges()
    for utility in UTILITIES:
        assert edges.get(utility, set()) <= UTILITIES, utility


def test_the_layers_have_no_cycle():
    # Follows from the table, checked so that a careless edit of ALLOWED cannot hide one.
    seen, done = set(), set()

    def visit(stage: str, path: tuple[str, ...]) -> None:
        assert stage not in path, f"cycle: {' -> '.join((*path, stage))}"
        if stage in done:
            return
        for other in ALLOWED[stage]:
            visit(other, (*path, stage))
        done.add(stage)
        seen.add(stage)

    for stage in ALLOWED:
        visit(stage, ())
