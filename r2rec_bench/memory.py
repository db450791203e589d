"""Pausing Python's cyclic garbage collector around batch work.

Verification and faithfulness scoring build hundreds of thousands of small containers (one
dict per sample, lists of mentions) that all stay alive until the batch ends. Each
allocation burst triggers a collection that walks every live container, so the collector's
work grows with the batch: measured on 10 submissions × 6,040 users, it was 45% of
verification time, and 30% of static faithfulness. Nothing in those batches creates
reference cycles, so pausing the collector loses nothing; it runs again afterwards.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic collector for the block (reentrant: an inner pause leaves it
    to the outer one to switch it back on)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
