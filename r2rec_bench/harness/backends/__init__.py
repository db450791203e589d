"""Turn a model spec into a backend, importing only the stack that backend needs.

Specs: ``openai:<model>`` (an OpenAI-compatible server, ``--base-url``), ``baseline:<name>``
(a classical recommender trained on the dataset's interactions), ``ref:<name>`` (a reference
recommender of the faithfulness suite), ``hf:<id-or-path>`` or any other string (a Hugging
Face causal LM: a Hub id or a local path).
"""

from __future__ import annotations

import importlib
import inspect
import re
from dataclasses import dataclass
from pathlib import Path

from r2rec_bench.errors import UserError
from r2rec_bench.task.records import Backend


@dataclass(frozen=True)
class _Kind:
    module: str
    factory: str
    extra: str | None  # the pip extra that brings the backend's dependencies, if any
    example: str
    # How runs under several seeds can differ: by sampling (an LLM: greedy decoding ignores
    # the seed), or as the module's function of this name says for the named model.
    sampled: bool = False
    seed_check: str | None = None


_KINDS = {
    "hf": _Kind(
        "r2rec_bench.harness.backends.hf", "HFBackend", "hf", "hf:Qwen/Qwen2.5-0.5B", sampled=True
    ),
    "openai": _Kind(
        "r2rec_bench.harness.backends.openai",
        "OpenAIBackend",
        "openai",
        "openai:gpt-4o-mini",
        sampled=True,
    ),
    "baseline": _Kind(
        "r2rec_bench.baselines",
        "make_baseline_backend",
        "baselines",
        "baseline:pop",
        seed_check="check_seeded",
    ),
    "ref": _Kind(
        "r2rec_bench.faithfulness.reference", "make_reference_backend", None, "ref:oracle"
    ),
}

# Options the harness hands to every backend that can use them; the others are the user's
# flags, and a flag that a backend cannot take is an error rather than silently ignored.
CONTEXT_OPTIONS = frozenset({"seed", "dataset", "batch_size", "quiet"})
# Options with a flag of their own in `evaluate`, by option; any other is a --model-args key.
FLAG_OPTIONS = {
    "batch_size": "--batch-size",
    "max_new_tokens": "--max-new-tokens",
    "adapter": "--adapter",
    "base_url": "--base-url",
    "rank_score": "--rank-score",
    "revision": "--revision",
    "chat_template": "--chat-template",
    "generation": "--gen-kwargs",
}

_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


def parse_model_spec(spec: str) -> tuple[str, str]:
    """(backend kind, model name) of a spec, or ``UserError`` for a malformed one."""
    prefix, colon, rest = spec.partition(":")
    if colon and prefix in _KINDS:
        kind, name = prefix, rest
    elif colon and _PREFIX.fullmatch(prefix) and not Path(spec).exists():
        known = ", ".join(f"{k}:" for k in _KINDS)
        raise UserError(
            f"{spec!r}: unknown backend prefix `{prefix}:` (known: {known}; a "
            "Hub id or local path needs no prefix)"
        )
    else:
        kind, name = "hf", spec
    if not name.strip():
        raise UserError(f"{spec!r}: no model name; e.g. {_KINDS[kind].example}")
    return kind, name


def _options_for(factory, options: dict, kind: str) -> dict:
    parameters = inspect.signature(factory).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    accepted = {}
    for key, value in options.items():
        if value is None:
            continue
        if takes_any or key in parameters:
            accepted[key] = value
        elif key not in CONTEXT_OPTIONS:
            flag = FLAG_OPTIONS.get(key, f"--model-args {key}")
            raise UserError(f"{flag} does not apply to `{kind}` models")
    return accepted


def _import_error(spec: str, kind: str, name: str, exc: ImportError) -> UserError:
    module = _KINDS[kind].module
    missing = getattr(exc, "name", None)
    if missing and (module == missing or module.startswith(missing + ".")):
        # The backend's own module is absent from this installation, not a dependency.
        if kind == "ref":
            return UserError(f"unknown reference recommender {name!r}: none is installed")
        return UserError(f"{spec}: the `{kind}` backend is not part of this installation")
    extra = _KINDS[kind].extra
    package = f"r2rec-bench[{extra}]" if extra else (missing or "its dependencies")
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return UserError(
        f"{spec}: the `{kind}` backend cannot import {missing or 'a dependency'} ({reason}); "
        f"install it with `pip install '{package}'`"
    )


def resolve_backend(spec: str, **options) -> Backend:
    """Build the backend a spec names. Options whose value is None are left out; the backend
    imports its heavy dependencies only now, and a missing one is a ``UserError``."""
    kind, name = parse_model_spec(spec)
    entry = _KINDS[kind]
    try:
        factory = getattr(importlib.import_module(entry.module), entry.factory)
        return factory(name, **_options_for(factory, options, kind))
    except ImportError as exc:
        raise _import_error(spec, kind, name, exc) from None


def check_seeds_differ(spec: str, generation: dict, n: int) -> None:
    """A UserError unless ``n`` runs of ``spec`` under different seeds can differ: an LLM
    must sample, a baseline's fit must depend on its seed."""
    kind, name = parse_model_spec(spec)
    entry = _KINDS[kind]
    if entry.sampled and float(generation.get("temperature", 0)) <= 0:
        raise UserError(
            f"--seeds {n}: greedy decoding repeats identically; add --gen-kwargs "
            "temperature=<above 0>"
        )
    if entry.seed_check:
        getattr(importlib.import_module(entry.module), entry.seed_check)(name, n)
