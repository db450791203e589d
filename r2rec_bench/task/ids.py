"""Order-invariant integer codes for raw ids.

Codes follow the sorted order of the ids themselves, never the order in which rows appear in
the raw file, so that shuffling a file's rows cannot change a single output byte. Ids that
are all whole numbers sort numerically (MovieLens item 9 before item 10); others sort as text.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from r2rec_bench.errors import UserError


def id_sort_order(ids: np.ndarray) -> np.ndarray:
    """The permutation that sorts ``ids`` (numerically when every id is a whole number)."""
    if ids.dtype.kind in "iu":
        return np.argsort(ids, kind="stable")
    text = ids.astype(str)
    numbers = pd.to_numeric(pd.Series(text, dtype=object), errors="coerce").to_numpy()
    if len(text) and not np.isnan(numbers).any() and (numbers % 1 == 0).all():
        # Ties in value ("7" vs "007") are broken by the text so the order is still total.
        return np.lexsort((text, numbers))
    return np.argsort(text, kind="stable")


MAX_ID_LENGTH = 1024  # far above any real id; a longer one is a broken or hostile file


def factorize_sorted(values: np.ndarray, what: str = "id") -> tuple[np.ndarray, np.ndarray]:
    """``codes`` (int64, into ``uniques``) and the distinct ids as strings in sorted order.

    ``UserError`` for an id longer than :data:`MAX_ID_LENGTH` characters: sorting ids as text
    allocates the longest one's size for every id, so one 200 MB id would ask for terabytes.
    """
    codes, uniques = pd.factorize(values, sort=False)
    uniques = np.asarray(uniques)
    if uniques.dtype == object and len(uniques):
        longest = max(len(str(u)) for u in uniques)
        if longest > MAX_ID_LENGTH:
            raise UserError(
                f"a {what} of {longest:,} characters (ids of more than {MAX_ID_LENGTH:,} are "
                "refused); check the file's separator and columns"
            )
    order = id_sort_order(uniques)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[codes], uniques[order].astype(str).astype(object)
