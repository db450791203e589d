"""The evaluation protocol of DESIGN.md §4: RawLog in, ProtocolOutput out."""

from r2rec_bench.protocol.pipeline import run_protocol, training_targets
from r2rec_bench.protocol.types import (
    EvalSplit,
    ProtocolCatalog,
    ProtocolOutput,
    ProtocolParams,
    StepCount,
    TitleChange,
    TrainLog,
)

__all__ = [
    "EvalSplit",
    "ProtocolCatalog",
    "ProtocolOutput",
    "ProtocolParams",
    "StepCount",
    "TitleChange",
    "TrainLog",
    "run_protocol",
    "training_targets",
]
