"""The answer parser: any model output in, a ranking of candidates or "invalid" out (DESIGN §6–7).

The parser is total: it never raises, whatever the text, and takes linear time even on
degenerate outputs (a tag repeated thousands of times, endless lines), which RL rollouts
produce. The rules, in order:

**Reasoning.** The contents of every complete ``<think>…</think>`` block, joined. A ``</think>``
with no opening tag (chat templates that put ``<think>`` in the prompt) makes everything
before it reasoning; a ``<think>`` that is never closed runs to the answer (or the end).

**Answer.** Searched in the text *outside* complete think blocks (and after a dangling
``</think>``), so an ``<answer>`` quoted inside the reasoning never counts. Tags are
case-insensitive and may carry spaces (``< /Answer >``).

- one or more ``<answer>…</answer>`` blocks: the last one (the model's final word); more
  than one is recorded as ``multiple_answer_blocks``; stray answer tags inside it (doubled
  tags such as ``<answer><answer>X</answer></answer>``) are dropped;
- an ``<answer>`` never closed: the text after the last one (``unclosed_answer_tag``);
- a ``</answer>`` with no opening tag: the last non-empty line before it
  (``missing_answer_open_tag``);
- no answer tag at all (``no_answer_tag``): the **mention rule** below decides.

Text around the answer, including after ``</answer>``, is ignored.

**Mention rule** (an output without any answer tag, as zero-shot models write; LLaRA's rule):
the output, outside complete think blocks, is valid when it names exactly one candidate — its
exact title, or the title with a trailing article moved to the front (``Sum of Us, The
(1994)`` or ``The Sum of Us (1994)``), case-insensitively, not inside a longer word. Naming no
candidate is ``no_match``; naming two or more is ``ambiguous`` (invalid). The match kind is
``mention``. Where answer tags exist, their content alone decides.

**Strict format.** ``ParsedAnswer.strict_format`` says whether the output is exactly the
response format (one think block, then one answer block, nothing else but white space), so
that a strict reading of any run is at hand beside ValidRatio.

**Lines.** The answer's non-empty lines, stripped. One line is a single answer; several are a
ranked answer, best first, each optionally led by a list marker (``1.``, ``1)``, ``(1)``,
``-``, ``*``, ``•``, ``+``). The answer is **valid** only when every line resolves to exactly
one candidate and no candidate appears twice; the ranking is then that permutation prefix.
Otherwise (a line that matches nothing, a line that matches two candidates, a repeated
candidate, an empty answer) the answer is **invalid** with an empty ranking, so that every
metric counts it as a miss and ValidRatio counts it as invalid — a ranked answer with one bad
line is not partly credited, which keeps "valid" meaning the whole output resolved. The
problems name the first bad line.

**Matching** a line against the candidate titles, first rule that finds anything wins; a rule
that finds two or more candidates makes the line ambiguous (invalid):

1. ``exact``: the line (or the line without its list marker) equals a title.
2. ``normalized``: both sides go through :func:`title_key` — Unicode NFKC, case-folding,
   curly quotes and backticks made straight, whitespace collapsed, surrounding quotes,
   markdown emphasis and ``.,;:!?`` stripped, a trailing ``(YYYY)`` split off as the year, and
   a trailing article moved to the front (``Aristocats, The`` = ``The Aristocats``; also
   ``A``, ``An`` and the Romance and Germanic articles MovieLens uses: ``La``, ``Le``,
   ``Les``, ``L'``, ``Il``, ``El``, ``Das``, ``Der``, ``Die``, ...). Titles then match when
   their base texts are equal and their years are equal; when one side has no year, the
   match stands only if it is unambiguous among the candidates (``Heat`` matches
   ``Heat (1995)`` unless ``Heat (1986)`` is a candidate too).
3. ``fuzzy`` (opt-in): :class:`difflib.SequenceMatcher` ratio of the normalized texts (base
   and year; base only when the answer has no year) at least :data:`FUZZY_THRESHOLD`; two
   candidates above it make the line ambiguous.

``ParsedAnswer.match`` is the weakest rule any line needed (``exact`` > ``normalized`` >
``fuzzy``), ``mention`` for the mention rule, or ``none`` for an invalid answer;
``problems`` lists codes with details.
"""

from __future__ import annotations

import difflib
import functools
import re
import unicodedata
from dataclasses import dataclass, field

FUZZY_THRESHOLD = 0.85  # a typo or two in a typical title; far below that, titles differ

# Problem codes recorded in ParsedAnswer.problems (details follow a colon).
MULTIPLE_ANSWER_BLOCKS = "multiple_answer_blocks"
UNCLOSED_ANSWER_TAG = "unclosed_answer_tag"
MISSING_ANSWER_OPEN_TAG = "missing_answer_open_tag"
NO_ANSWER_TAG = "no_answer_tag"
EMPTY_ANSWER = "empty_answer"
NO_MATCH = "no_match"
AMBIGUOUS = "ambiguous"
DUPLICATE = "duplicate"
NOT_TEXT = "not_text"

_FLAGS = re.IGNORECASE
# Group 1 is set on closing tags. "(/\s*)?" rather than "\s*/?\s*" keeps the pattern from
# backtracking over long runs of spaces.
_THINK_TAG = re.compile(r"<\s*(/\s*)?think\s*>", _FLAGS)
_ANSWER_TAG = re.compile(r"<\s*(/\s*)?answer\s*>", _FLAGS)
_ANY_TAG = re.compile(r"<\s*(?:/\s*)?(?:think|answer)\s*>", _FLAGS)

_MARKER = re.compile(r"(?:\d{1,3}[.)]|\(\d{1,3}\)|[-*•+])\s+")
_QUOTES = str.maketrans(
    {"“": '"', "”": '"', "„": '"', "‟": '"', "«": '"', "»": '"',
     "‘": "'", "’": "'", "‚": "'", "‛": "'", "`": "'", "´": "'"}
)  # fmt: skip
_EDGE = "\"'*_~.,;:!? "
_YEAR = re.compile(r"(.*?)\s*\((\d{4})\)")
# "l'?": stripping the edges may already have taken the apostrophe off a final "L'".
_ARTICLES = "the|a|an|la|le|les|l'?|il|el|lo|los|las|gli|un|une|das|der|die|den|det"
_TRAILING_ARTICLE = re.compile(rf"(.*?),\s*({_ARTICLES})")
_RANK = {"exact": 0, "normalized": 1, "fuzzy": 2}
_STRICT = re.compile(
    r"\s*<think>(?P<think>(?:(?!</?(?:think|answer)>).)*)</think>\s*"
    r"<answer>(?P<answer>(?:(?!</?(?:think|answer)>).)*)</answer>\s*",
    re.DOTALL,
)
_TRAILING_ARTICLE_TITLE = re.compile(rf"(.*?),\s*({_ARTICLES})(\s*\(\d{{4}}\))?", re.IGNORECASE)
UNTAGGED_RULE = (
    "without answer tags, valid when the output outside think blocks names exactly one "
    "candidate (exact title or article moved to the front, case-insensitive)"
)


@dataclass(frozen=True)
class ParsedAnswer:
    """What the parser made of an output: a ranking of candidate positions, or invalid.

    ``ranking`` lists candidate indices best first (one for a single answer); ``valid`` is
    False when the answer resolves to no candidate, to a non-candidate, or is ambiguous.
    """

    ranking: tuple[int, ...]
    valid: bool
    reasoning: str = ""
    answer_text: str = ""
    match: str = "none"  # how the answer matched: exact, normalized, mention, fuzzy or none
    problems: tuple[str, ...] = field(default_factory=tuple)
    strict_format: bool = False  # exactly one think block then one answer block


def title_key(text: str) -> tuple[str, str | None]:
    """The normalized form of a title: (base text, year or None). See the module docstring."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).casefold()
    text = " ".join(text.split()).strip(_EDGE)
    year = None
    found = _YEAR.fullmatch(text)
    if found:
        text, year = found.group(1).strip(), found.group(2)
    found = _TRAILING_ARTICLE.fullmatch(text)
    if found:
        rest, article = found.groups()
        text = "l'" + rest if article in ("l", "l'") else f"{article} {rest}"
    return text.strip(_EDGE), year


@dataclass(frozen=True)
class _Candidates:
    """The candidate titles indexed once per call for the three matching rules."""

    exact: dict[str, list[int]]
    by_base: dict[str, list[tuple[int, str | None]]]
    keys: list[tuple[str, str | None]]

    @classmethod
    def index(cls, titles: list[str]) -> _Candidates:
        exact: dict[str, list[int]] = {}
        by_base: dict[str, list[tuple[int, str | None]]] = {}
        keys = []
        for position, title in enumerate(titles):
            exact.setdefault(title, []).append(position)
            key = title_key(title)
            keys.append(key)
            by_base.setdefault(key[0], []).append((position, key[1]))
        return cls(exact, by_base, keys)

    def normalized(self, key: tuple[str, str | None]) -> list[int]:
        base, year = key
        entries = self.by_base.get(base, [])
        same_year = [position for position, other in entries if other == year]
        if same_year:
            return same_year
        # One side has no year: accept whatever candidates the base alone picks out (the
        # caller treats more than one as ambiguous).
        return [position for position, other in entries if (other is None) != (year is None)]

    def fuzzy(self, key: tuple[str, str | None]) -> list[int]:
        base, year = key
        text = f"{base} ({year})" if year else base
        hits = []
        for position, (other_base, other_year) in enumerate(self.keys):
            other = f"{other_base} ({other_year})" if year and other_year else other_base
            matcher = difflib.SequenceMatcher(None, text, other, autojunk=False)
            # The cheap upper bounds skip most candidates before the quadratic ratio().
            if (
                matcher.real_quick_ratio() >= FUZZY_THRESHOLD
                and matcher.quick_ratio() >= FUZZY_THRESHOLD
                and matcher.ratio() >= FUZZY_THRESHOLD
            ):
                hits.append(position)
        return hits


@functools.lru_cache(maxsize=16_384)  # ~5 kB each; covers a 6,040-user split
def _indexed(titles: tuple[str, ...]) -> _Candidates:
    # The same candidate list is parsed many times (every sample of a user in a leaderboard
    # check, every rollout of a GRPO prompt): index it once.
    return _Candidates.index(list(titles))


def _match_line(line: str, candidates: _Candidates, fuzzy: bool) -> tuple[str, list[int]]:
    """(rule, candidate positions) for one answer line; ("none", []) when nothing matched."""
    forms = [line]
    marker = _MARKER.match(line)
    if marker and line[marker.end() :].strip():
        forms.append(line[marker.end() :].strip())
    for form in forms:
        if form in candidates.exact:
            return "exact", candidates.exact[form]
    keys = [title_key(form) for form in forms]
    for key in keys:
        hits = candidates.normalized(key)
        if hits:
            return "normalized", hits
    if fuzzy:
        for key in keys:
            hits = candidates.fuzzy(key)
            if hits:
                return "fuzzy", hits
    return "none", []


def _last_nonempty_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _pair(pattern: re.Pattern, text: str):
    """Pair a tag's opening and closing occurrences left to right, as the non-greedy regex
    ``<x>(.*?)</x>`` would: an opening tag starts a block and the next closing tag ends it;
    opening tags inside a block are its content; closing tags outside a block are strays.
    One pass over the tags, so linear time, where that regex is quadratic on a degenerate
    output repeating an opening tag thousands of times.

    Returns (blocks as (open, close) matches, stray closes, the last opening tag).
    """
    blocks, strays, opened, last_open = [], [], None, None
    for tag in pattern.finditer(text):
        if tag.group(1) is not None:
            if opened is None:
                strays.append(tag)
            else:
                blocks.append((opened, tag))
                opened = None
        else:
            last_open = tag
            opened = opened or tag
    return blocks, strays, last_open


def _split(text: str) -> tuple[str, str | None, list[str]]:
    """(reasoning, answer text, problems) from a raw output; the answer text is None when
    there is no answer tag at all (the mention rule then reads the ``outside`` text)."""
    think_blocks, _, _ = _pair(_THINK_TAG, text)
    reasoning = [
        _ANY_TAG.sub("\n", text[opening.end() : closing.start()]).strip()
        for opening, closing in think_blocks
    ]
    pieces, cursor = [], 0
    for opening, closing in think_blocks:
        pieces.append(text[cursor : opening.start()])
        cursor = closing.end()
    outside = "\n".join([*pieces, text[cursor:]])
    # Outside the complete blocks, any closing think tag is a dangling one.
    dangling = [tag for tag in _THINK_TAG.finditer(outside) if tag.group(1) is not None]
    if dangling:
        reasoning.insert(0, _ANY_TAG.sub("\n", outside[: dangling[-1].start()]).strip())
        outside = outside[dangling[-1].end() :]
    problems = []
    blocks, strays, last_open = _pair(_ANSWER_TAG, outside)
    if blocks:
        if len(blocks) > 1:
            problems.append(MULTIPLE_ANSWER_BLOCKS)
        opening, closing = blocks[-1]
        answer = _ANY_TAG.sub("", outside[opening.end() : closing.start()])
        answer_start = opening.start()
    elif last_open:
        problems.append(UNCLOSED_ANSWER_TAG)
        answer = _ANY_TAG.sub("", outside[last_open.end() :])
        answer_start = last_open.start()
    else:
        if strays:
            problems.append(MISSING_ANSWER_OPEN_TAG)
            answer_start = strays[0].start()
            answer = _last_nonempty_line(_ANY_TAG.sub("\n", outside[:answer_start]))
        else:
            problems.append(NO_ANSWER_TAG)
            answer_start = len(outside)
            answer = None
    # What is left of the think tags now is an opening one that was never closed.
    unclosed_think = _THINK_TAG.search(outside, 0, answer_start)
    if unclosed_think:
        reasoning.append(outside[unclosed_think.end() : answer_start].strip())
    if answer is None:  # the mention rule reads what is neither tag nor reasoning
        end = unclosed_think.start() if unclosed_think else len(outside)
        answer = _ANY_TAG.sub("\n", outside[:end])
    return "\n".join(part for part in reasoning if part), answer.strip(), problems


def _display_forms(title: str) -> tuple[str, ...]:
    """A title as catalogs write it and with its trailing article in front, casefolded."""
    found = _TRAILING_ARTICLE_TITLE.fullmatch(title)
    forms = [title]
    if found:
        rest, article, year = found.groups()
        forms.append(f"{article} {rest}{year or ''}")
    return tuple(form.casefold() for form in forms)


def _names(text: str, form: str) -> bool:
    """Does ``text`` (casefolded) contain ``form`` not inside a longer word? Linear: each
    occurrence is looked at once."""
    start = text.find(form)
    while start >= 0:
        end = start + len(form)
        before = text[start - 1] if start else " "
        after = text[end] if end < len(text) else " "
        if not (before.isalnum() or after.isalnum()):
            return True
        start = text.find(form, start + 1)
    return False


def _mentioned(text: str, titles: tuple[str, ...]) -> list[int]:
    """Positions of the candidates that ``text`` names (the mention rule)."""
    folded = text.casefold()
    return [
        position
        for position, title in enumerate(titles)
        if title and any(_names(folded, form) for form in _display_forms(title))
    ]


def parse_answer(text: str, candidate_titles: list[str], *, fuzzy: bool = False) -> ParsedAnswer:
    """Parse a model output against the candidates' titles; never raises (module docstring)."""
    if not isinstance(text, str):
        return ParsedAnswer(ranking=(), valid=False, problems=(NOT_TEXT,))
    exact = _STRICT.fullmatch(text)
    if exact and text.count("<") == 4:
        # The strict format with no other "<" in it, so no tag of any spelling inside the
        # blocks: what _split would find, without pairing tags (most outputs of a trained
        # model, and half the parser's time on them).
        reasoning, answer, problems = exact["think"].strip(), exact["answer"].strip(), []
    else:
        reasoning, answer, problems = _split(text)
    strict = exact is not None
    if NO_ANSWER_TAG in problems:
        named = _mentioned(answer, tuple(candidate_titles))
        if len(named) == 1:
            return ParsedAnswer((named[0],), True, reasoning, candidate_titles[named[0]],
                                "mention", tuple(problems), strict)  # fmt: skip
        if named:
            problems.append(f"{AMBIGUOUS}:names candidates {named}")
        else:
            problems.append(f"{NO_MATCH}:names no candidate" if answer else EMPTY_ANSWER)
        return ParsedAnswer((), False, reasoning, "", "none", tuple(problems), strict)
    lines = [line.strip() for line in answer.splitlines() if line.strip()]
    if not lines:
        problems.append(EMPTY_ANSWER)
    candidates = _indexed(tuple(candidate_titles))
    ranking: list[int] = []
    weakest = "exact"
    for number, line in enumerate(lines, 1):
        rule, hits = _match_line(line, candidates, fuzzy)
        if len(hits) == 1 and hits[0] not in ranking:
            ranking.append(hits[0])
            weakest = max(weakest, rule, key=_RANK.__getitem__)
            continue
        if not hits:
            problems.append(f"{NO_MATCH}:line {number}")
        elif len(hits) > 1:
            problems.append(f"{AMBIGUOUS}:line {number} matches candidates {hits}")
        else:
            problems.append(f"{DUPLICATE}:line {number} repeats candidate {hits[0]}")
        # One bad line makes the answer invalid: stop, so that a degenerate output of
        # thousands of lines costs no more than a ranking of every candidate.
        break
    valid = bool(lines) and len(ranking) == len(lines)
    return ParsedAnswer(
        ranking=tuple(ranking) if valid else (),
        valid=valid,
        reasoning=reasoning,
        answer_text=answer,
        match=weakest if valid else "none",
        problems=tuple(problems),
        strict_format=strict,
    )
