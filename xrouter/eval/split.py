"""Deterministic fit / held-out split of query ids (seeded hash, so it never depends on row order)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from xrouter.errors import UsageError

SPLITS = ("fit", "eval", "all")


def split_fraction(query_id: str, seed: int) -> float:
    """A number in [0, 1) fixed by (seed, query_id)."""
    digest = hashlib.sha256(f"xrouter-split:{seed}:{query_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def in_split(query_id: str, split: str, *, holdout: float, seed: int) -> bool:
    """Whether `query_id` belongs to `split` ("fit", "eval" = the held-out part, or "all")."""
    if split not in SPLITS:
        raise UsageError(f"split must be one of {', '.join(SPLITS)} (got {split!r})")
    if not 0.0 < holdout < 1.0:
        raise UsageError(f"--holdout must be strictly between 0 and 1 (got {holdout})")
    if split == "all":
        return True
    held_out = split_fraction(query_id, seed) < holdout
    return held_out if split == "eval" else not held_out


def select_split(query_ids: Iterable[str], split: str, *, holdout: float, seed: int) -> list[str]:
    """The ids of `query_ids` that fall in `split`, in their original order."""
    return [q for q in query_ids if in_split(q, split, holdout=holdout, seed=seed)]
