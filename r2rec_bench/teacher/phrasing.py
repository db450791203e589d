"""How the template teacher words its thoughts: several phrasings per kind of step.

A corpus whose every thought follows one sentence pattern teaches a model the pattern, not the
reasoning; so each kind of step has a few interchangeable phrasings, and the planner picks one
per step from the example's own seeded stream (a build stays deterministic). Every phrasing
keeps the same facts and cites the same items; only the wording changes.

Fields: ``vp``/``vb`` the prompt style's past and base verb, ``item`` the revealed item (quoted
title with its attributes), ``anchor`` the item that led to a user, ``support`` the graph
statistics behind a step (``Planner._support``), ``profile`` a user's description, ``shared``
how many items that user shares with the example's user, ``target`` the answer, ``who`` the
user or users the chains end at, ``rival`` the strongest other candidate and ``rival_support``
its statistics.
"""

from __future__ import annotations

import numpy as np

PHRASES: dict[str, tuple[str, ...]] = {
    "pivot": (
        "The user {vp} {item}: {support}.",
        "Start from {item} in the user's history: {support}.",
        "{item} is where the chain leaves the history: {support}.",
    ),
    "item": (
        "That user also {vp} {item}: {support}.",
        "Among that user's other {nouns}, {item} is the one the chain takes: {support}.",
        "The same user went on to {vb} {item}: {support}.",
    ),
    "loop_item": (
        "That user also {vp} {item}, which the user {vp} too, so the loop closes: the two "
        "users share {shared}.",
        "The loop closes at {item}: the user {vp} it as well, and the other user shares "
        "{shared} with them.",
        "{item} brings the chain back to the user, who {vp} it too; the other user shares "
        "{shared} with them.",
    ),
    "user": (
        "{anchor} leads to another user who {vp} it: {profile}, sharing {shared} with the user.",
        "Another user also {vp} {anchor}: {profile}; they share {shared} with the user.",
        "{anchor} connects the user to {profile}, who {vp} it as well and shares {shared} "
        "with the user.",
    ),
    "target": (
        "So the user will {vb} {target} next: {who} {vp} it, and {support}. It beats {rival}, "
        "the closest other candidate: {rival_support}.",
        "The chain ends at {target}: {who} {vp} it, and {support}. {rival} comes second "
        "among the candidates: {rival_support}.",
        "{target} is the next {noun}: {who} {vp} it, and {support}; the nearest other "
        "candidate, {rival}, has less: {rival_support}.",
    ),
    "target_corrected": (
        "Co-interaction counts alone would pick {rival} ({rival_support}), but {who} {vp} "
        "{target}, so the user will {vb} it next: {support}.",
        "{rival} looks closer by co-interactions ({rival_support}), yet the chain ends at "
        "{target}: {who} {vp} it, and {support}.",
    ),
    "conclusion": (
        "Putting the chain together, the user will {vb} {target} next: {support}. It beats "
        "{rival}, the closest other candidate: {rival_support}.",
        "With that similar user in mind, {target} fits best: {support}; {rival} comes "
        "second: {rival_support}.",
    ),
    "conclusion_corrected": (
        "Co-interaction counts alone would pick {rival} ({rival_support}), but putting the "
        "chain together the user will {vb} {target} next: {support}.",
        "{rival} looks closer at first ({rival_support}), yet the user will {vb} {target} "
        "next: {support}.",
    ),
}

# A step the teacher predicted wrongly is written as the correction it is: the wrong guess,
# then the revealed truth (the thought that follows).
CORRECTIONS: dict[str, tuple[str, ...]] = {
    "item": (
        "Not {guess}, which looked likelier; ",
        "I expected {guess}, but ",
    ),
    "user": (
        "Not the user who looked likeliest; ",
        "Another profile fit better at first, but ",
    ),
}


def pick(rng: np.random.Generator, kind: str, **fields: str) -> str:
    variants = PHRASES[kind]
    return variants[int(rng.integers(len(variants)))].format(**fields)


def correction(rng: np.random.Generator, masks_item: bool, guess: str) -> str:
    """The opening of a corrected step's thought (its first letter lowered to follow it)."""
    variants = CORRECTIONS["item" if masks_item else "user"]
    return variants[int(rng.integers(len(variants)))].format(guess=guess)


def corrected(opening: str, thought: str) -> str:
    # The thought starts a sentence with a capital letter or a quoted title; after the
    # opening it continues that sentence.
    return opening + (thought[0].lower() + thought[1:] if thought[0] != '"' else thought)
