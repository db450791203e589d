"""Find item mentions in free text: every catalog title, exact or normalised, in one pass.

A reasoning trace may name any of thousands of catalog items, so mentions are found with an
Aho–Corasick automaton (``pyahocorasick``) over the normalised titles: one scan of the text
whatever the size of the catalog, where trying each title in turn costs a scan per title.

Normalisation is the parser's (:func:`r2rec_bench.task.parser.title_key`): Unicode NFKC,
case-folding, straight quotes, collapsed whitespace, and MovieLens's trailing articles moved
to the front. Each title is registered in these forms:

- the full normalised title (``toy story (1995)``) and, where the title ends in an article,
  the article-first form (``the aristocats (1970)`` for ``Aristocats, The (1970)``);
- without its year only inside double quotes (``"the aristocats"``): a bare year-less title
  such as ``Heat`` or ``Friday`` is an ordinary word in prose.

A match must not touch a letter or digit on either side. Overlapping matches resolve to the
leftmost longest. A double-quoted span that holds no catalog title is an *off-catalog*
mention: the prompt asks for every item to be quoted by its exact title, so a quoted name
the catalog does not know is an invented or misspelt item.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from typing import NamedTuple

import ahocorasick

from r2rec_bench.task.parser import title_key

_QUOTES = str.maketrans(
    {"“": '"', "”": '"', "„": '"', "‟": '"', "«": '"', "»": '"',
     "‘": "'", "’": "'", "‚": "'", "‛": "'", "`": "'", "´": "'"}
)  # fmt: skip
_QUOTED = re.compile(r'"([^"\n]{1,300})"')


def normalize(text: str) -> str:
    """The form both titles and texts are matched in (see the module docstring)."""
    if text.isascii():  # most outputs: NFKC and the quote table change nothing, skip them
        return " ".join(text.lower().split())
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).casefold()
    return " ".join(text.split())


def _with_year(base: str, year: str | None) -> str:
    return f"{base} ({year})" if year else base


class Mention(NamedTuple):
    """A span of normalised text naming catalog items (``codes``; empty when off-catalog).

    A named tuple rather than a dataclass: a trace has a dozen, 100,000 traces a million."""

    start: int
    end: int
    codes: tuple[int, ...]


class TitleMatcher:
    """All titles of a catalog, indexed once; :meth:`find` scans a normalised text."""

    def __init__(self, titles: list[str]) -> None:
        forms: dict[str, list[int]] = {}
        self._by_key: dict[str, list[int]] = {}
        for code, title in enumerate(titles):
            base, year = title_key(title)
            full = normalize(title)
            moved = _with_year(base, year)
            patterns = {full, moved}
            if year:
                without_year = full[: full.rfind("(")].rstrip()
                patterns |= {f'"{base}"', f'"{without_year}"'}
            for pattern in patterns:
                forms.setdefault(pattern, []).append(code)
            for key in {full, moved}:
                self._by_key.setdefault(key, []).append(code)
        self._automaton = ahocorasick.Automaton()
        for pattern, codes in forms.items():
            self._automaton.add_word(pattern, (len(pattern), tuple(dict.fromkeys(codes))))
        self._automaton.make_automaton()

    def find(self, text: str) -> list[Mention]:
        """Mentions in a text already passed through :func:`normalize`, in text order."""
        mentions = []
        keep, size = mentions.append, len(text)
        for last, (length, codes) in self._automaton.iter_long(text):
            end = last + 1
            start = end - length
            if (start and text[start - 1].isalnum()) or (end < size and text[end].isalnum()):
                continue
            keep(Mention(start, end, codes))
        if '"' not in text:
            return mentions
        # iter_long yields non-overlapping matches left to right: starts and ends ascend.
        starts = [mention.start for mention in mentions]
        off_catalog = []
        for quoted in _QUOTED.finditer(text):
            before = bisect.bisect_left(starts, quoted.end())  # mentions starting before its end
            if before == 0 or mentions[before - 1].end <= quoted.start():
                off_catalog.append(Mention(quoted.start(), quoted.end(), ()))
        if off_catalog:
            mentions = sorted(mentions + off_catalog, key=lambda mention: mention.start)
        return mentions

    def resolve(self, text: str) -> tuple[int, ...]:
        """Items a whole string names exactly or normalised (an answer line); () if none."""
        normalized = normalize(text).strip("\"'*_~.,;:!? ")
        codes = self._by_key.get(normalized)
        if codes is None:
            codes = self._by_key.get(_with_year(*title_key(text)), [])
        return tuple(dict.fromkeys(codes))
