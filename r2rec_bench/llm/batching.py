"""How many items go through a model at once, and finding the most that fit."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from r2rec_bench.errors import UserError

T = TypeVar("T")
R = TypeVar("R")

CPU_BATCH_SIZE = 8  # `--batch-size auto` off CUDA: CPU memory errors cannot be caught
AUTO_BATCH_CAP = 256  # doubling stops here: larger batches gain no throughput in practice


class BatchSizer:
    """How many items go through the model at once; ``"auto"`` finds the largest that fits.

    A fixed size is used as given. ``auto`` on CUDA starts at 1 and doubles after every full
    batch that fits, up to ``cap``; on an out-of-memory error it frees the cache, halves, stops
    growing and retries the same items, so no work is lost. The size found is kept on the
    object and reused by later calls (a backend keeps one sizer per mode). Off CUDA, ``auto``
    is a fixed ``CPU_BATCH_SIZE``: running out of host memory kills the process instead of
    raising, so it cannot be probed.
    """

    def __init__(self, batch_size: int | str, device, *, cap: int = AUTO_BATCH_CAP) -> None:
        self.requested = batch_size
        self.cap = cap
        self.auto = batch_size == "auto"
        if self.auto:
            on_cuda = getattr(device, "type", str(device)) == "cuda"
            self.size = 1 if on_cuda else min(CPU_BATCH_SIZE, cap)
            self.growing = on_cuda
        else:
            try:
                self.size = int(batch_size)
            except (TypeError, ValueError):
                self.size = 0
            if self.size < 1:
                raise UserError(f"--batch-size {batch_size}: use a positive integer or auto")
            self.growing = False

    def run(self, items: Sequence[T], fn: Callable[[Sequence[T]], list[R]]) -> list[R]:
        """``fn`` over consecutive batches of ``items``; results concatenated in order."""
        import torch

        results: list[R] = []
        start = 0
        while start < len(items):
            batch = items[start : start + self.size]
            try:
                results.extend(fn(batch))
            except torch.cuda.OutOfMemoryError:
                torch.cuda.empty_cache()
                if not self.auto:
                    raise UserError(
                        f"out of GPU memory at --batch-size {self.size}; "
                        f"lower it or use --batch-size auto"
                    ) from None
                if len(batch) == 1:
                    raise UserError("out of GPU memory with a batch of one item") from None
                self.size = max(1, len(batch) // 2)
                self.growing = False
                continue
            start += len(batch)
            if self.growing and len(batch) == self.size:
                self.size = min(self.cap, self.size * 2)
                self.growing = self.size < self.cap
        return results


def as_sizer(batch_size: int | str | BatchSizer, device) -> BatchSizer:
    return batch_size if isinstance(batch_size, BatchSizer) else BatchSizer(batch_size, device)
