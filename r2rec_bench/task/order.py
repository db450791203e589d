"""The protocol's order of a user's interactions: by timestamp, then a seeded hash of
(user id, item id) among interactions of the same second (DESIGN §4, protocol v2).

Why a hash: MovieLens users rate in bursts (415 of MovieLens-100K's 943 users have their
last two interactions in the same second), and item ids follow catalogue order. Protocol v1
broke same-second ties by item id, so the test target was the newest film of the last burst
and a rule blind to users ("the next id above the last history item") beat popularity. A
keyed hash of the two ids is deterministic, independent of the raw file's row order and of
the other rows of the log, and uncorrelated with the ids, so no id-order rule can recover it.

Anyone can recompute the order from a published dataset: sort each user's rows of
``interactions/train`` by (timestamp, :func:`tie_keys`) with the ``tie_seed`` of MANIFEST.json.
"""

from __future__ import annotations

import hashlib

import numpy as np

from r2rec_bench.errors import UserError
from r2rec_bench.task.ids import factorize_sorted

PROTOCOL_VERSION = 2
TIE_RULE = "seeded-hash"
TIE_RULE_TEXT = (
    "per user by timestamp; interactions in the same second are ordered by a keyed hash "
    "(BLAKE2b-64 of the user id and of the item id under the protocol's tie seed, combined by "
    "SplitMix64), which depends neither on the raw file's row order nor on the ids' values"
)
_KEY_BITS = 48  # the sort packs keys into int64 words; ties of 48-bit keys fall back to ids
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser (uint64 arithmetic wraps around, as intended)."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * _M1
        x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def id_hashes(ids, seed: int, role: str) -> np.ndarray:
    """A 64-bit keyed hash of each id's text (``role`` keeps users and items apart)."""
    key = f"r2rec-tie/{role}/{int(seed)}".encode()[:64]
    return np.fromiter(
        (
            int.from_bytes(
                hashlib.blake2b(str(i).encode(), digest_size=8, key=key).digest(), "little"
            )
            for i in ids
        ),
        dtype=np.uint64,
        count=len(ids),
    )


def tie_keys(
    user_codes: np.ndarray, item_codes: np.ndarray, user_ids, item_ids, seed: int
) -> np.ndarray:
    """The tie key (int64 in [0, 2**48)) of each (user, item) interaction, given as codes into
    ``user_ids`` and ``item_ids``: each distinct id is hashed once, so this is linear."""
    users = id_hashes(user_ids, seed, "user")[np.asarray(user_codes, dtype=np.int64)]
    items = id_hashes(item_ids, seed, "item")[np.asarray(item_codes, dtype=np.int64)]
    combined = mix64(users ^ mix64(items))
    return (combined >> np.uint64(64 - _KEY_BITS)).astype(np.int64)


def protocol_tie_seed(manifest: dict) -> int:
    """The tie seed of a built dataset; a build of protocol v1 (ties by item id) is refused,
    since its order cannot be recomputed by this rule."""
    protocol = manifest.get("protocol") or {}
    if protocol.get("version") != PROTOCOL_VERSION:
        raise UserError(
            f"MANIFEST.json: protocol version {protocol.get('version', 1)}, this r2rec-bench "
            f"reads version {PROTOCOL_VERSION}; rebuild the dataset with `r2rec-bench build`"
        )
    return int(protocol.get("tie_seed", 0))


def protocol_order(user_ids: np.ndarray, item_ids: np.ndarray, timestamps, manifest: dict):
    """The permutation that puts interactions given as raw ids in the protocol's order:
    users in id order, each user's rows by timestamp, then tie key, then item id (the last
    only separates equal 48-bit keys, as in the protocol)."""

    user_codes, users = factorize_sorted(np.asarray(user_ids, dtype=object))
    item_codes, items = factorize_sorted(np.asarray(item_ids, dtype=object))
    ties = tie_keys(user_codes, item_codes, users, items, protocol_tie_seed(manifest))
    return np.lexsort((item_codes, ties, np.asarray(timestamps, dtype=np.int64), user_codes))
