"""Seeded synthetic logs shaped like real sources, for timing the protocol at scale.

User activity and item popularity both follow a shifted Zipf law, ``(rank + shift) ** -1``,
the long-tailed shape of MovieLens, Amazon and Last.fm logs. The shift keeps the head from
being absurd (no single user rating most of the catalog) and the tail above the 5-core
threshold, so that the protocol's output stays close to the generated size and the timing
reflects the size asked for. Every user also gets a floor of interactions, as every source
the protocol reads has at least a few per user.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from r2rec_bench.builders import BuilderSpec, SourceSpec
from r2rec_bench.protocol import ProtocolParams
from r2rec_bench.sources.types import Catalog, Interactions, RawLog
from r2rec_bench.task.prompt import PromptStyle

START = 1_300_000_000  # 2011-03-13: a plausible first event, in epoch seconds
SPAN = 5 * 365 * 24 * 3600  # five years of activity
MIN_PER_USER = 8  # above the 5-core floor once duplicate pairs are removed


@dataclass(frozen=True)
class Shape:
    """A synthetic log's size: interactions, users and items."""

    interactions: int
    users: int
    items: int

    @property
    def label(self) -> str:
        return f"{self.interactions // 1_000_000}M"


SMALL = Shape(1_000_000, 20_000, 5_000)
LARGE = Shape(10_000_000, 200_000, 50_000)


def _zipf_weights(n: int, rng: np.random.Generator) -> np.ndarray:
    """Probabilities ``(rank + shift) ** -1`` for ``n`` entities, ranks shuffled so that
    popularity does not follow id order (which would favour the sorted-id code paths)."""
    ranks = rng.permutation(n) + 1
    weights = 1.0 / (ranks + n / 100)
    return weights / weights.sum()


def _ids(prefix: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct string ids as an object array (what pandas reads), in no particular
    order, as a source's catalog lists them."""
    return np.array([f"{prefix}{k:08d}" for k in rng.permutation(n)], dtype=object)


def synthetic_log(shape: Shape, seed: int = 0) -> RawLog:
    """A RawLog of ``shape.interactions`` rows, string ids, int64 seconds and float ratings.

    Row ids are references into one array of distinct strings: a real reader allocates one
    string per row, but the protocol only hashes and compares them, and sharing keeps the
    10M log at about 0.3 GB instead of well over 1 GB.
    """
    rng = np.random.default_rng(seed)
    n, n_users, n_items = shape.interactions, shape.users, shape.items
    per_user = MIN_PER_USER + rng.multinomial(
        n - MIN_PER_USER * n_users, _zipf_weights(n_users, rng)
    )
    users = np.repeat(np.arange(n_users), per_user)
    items = rng.choice(n_items, size=n, p=_zipf_weights(n_items, rng))
    # The file order is arbitrary: shuffle so that no step gets a pre-sorted input.
    order = rng.permutation(n)
    user_names, item_names = _ids("U", n_users, rng), _ids("I", n_items, rng)
    interactions = Interactions(
        user_id=user_names[users[order]],
        item_id=item_names[items[order]],
        timestamp=rng.integers(START, START + SPAN, size=n, dtype=np.int64),
        rating=rng.integers(1, 6, size=n).astype(np.float64),
    )
    catalog = Catalog(
        item_id=item_names.tolist(),
        title=[f"Synthetic item {name}" for name in item_names],
    )
    return RawLog(source="synthetic", interactions=interactions, catalog=catalog, files={})


def synthetic_spec(shape: Shape) -> BuilderSpec:
    """A builder for the synthetic log, so that the real writer (card included) can run."""
    return BuilderSpec(
        name=f"synthetic-{shape.label.lower()}",
        version="0.0.0",
        pretty_name=f"Synthetic power-law log ({shape.label} interactions)",
        summary="A seeded synthetic log for benchmarks.",
        source=SourceSpec(
            reader="synthetic",
            name="synthetic",
            homepage="",
            license="other",
            license_note="Generated data.",
            citation="",
        ),
        protocol=ProtocolParams(),
        prompt=PromptStyle(item_noun="item", item_noun_plural="items"),
    )
