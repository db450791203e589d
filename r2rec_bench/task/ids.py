"""Order-invariant integer codes for raw ids.

Codes follow the sorted order of the ids themselves, never the order in which rows appear in
the raw file, so that shuffling a file's rows cannot change a single output byte. Ids that
are all whole numbers sort numerically (MovieLens item 9 before item 10); others sort as text.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


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


def factorize_sorted(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``codes`` (int64, into ``uniques``) and the distinct ids as strings in sorted order."""
    codes, uniques = pd.factorize(values, sort=False)
    uniques = np.asarray(uniques)
    order = id_sort_order(uniques)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[codes], uniques[order].astype(str).astype(object)
