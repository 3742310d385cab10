"""Whether any of many regexes matches, in one search: their union, compiled once.

Strategy: the follow-up rules are lists of patterns, and the question asked of
every sentence of every report is "does any of them match?". One search of
the alternation `(?:p1)|(?:p2)|...` answers it exactly (a sentence has a match
of the union exactly when it has a match of some pattern), in one pass of the
regex engine instead of one per pattern. Patterns the union cannot hold
(different flags, back-references, group names used twice) keep the one-by-one
search.

Most sentences match none of a list, and the regex engine finds that out
slowly: the patterns start with `\\b` or `^`, so it tries every alternative at
every position. Most patterns, though, cannot match without some literal word
("recommend", "follow", "collapse"). `required_words` reads those out of the
parsed patterns, and a sentence that holds none of a list's words is
answered "no" by one scan of a literal-only regex. Exact: a pattern gives
words only when every match of it contains one of them; a list gives them only
when every pattern does; and the scan is used only for ASCII text, where
case-insensitive matching is just lower-casing (a non-ASCII letter of a pattern
never counts as a word's letter: it could match an ASCII one).
"""

from __future__ import annotations

import functools
import re
import re._constants as _sre
import re._parser as _sre_parse
from collections.abc import Sequence
from typing import Any

_BACKREFERENCE = re.compile(r"\\[1-9]|\(\?P=")


@functools.cache
def union(patterns: tuple[re.Pattern[str], ...]) -> re.Pattern[str] | None:
    """One pattern that matches where any of `patterns` does; None when they cannot be joined."""
    if not patterns:
        return None
    flags = {p.flags for p in patterns}
    if len(flags) != 1 or any(_BACKREFERENCE.search(p.pattern) for p in patterns):
        return None
    try:
        return re.compile("|".join(f"(?:{p.pattern})" for p in patterns), flags.pop())
    except re.error:  # e.g. a group name in two patterns
        return None


# A shorter word is in nearly every sentence: no use as a screen.
_SHORTEST_WORD = 2


def required_words(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """Words one of which every match of `pattern` contains (lower-cased); None if unknown.

    Read from the parsed pattern: runs of literal characters that every match
    passes through, and of alternatives, the words of each. Only plain literals
    count; a character class, an optional or repeated part, or a flag group ends
    a run. Returns None when no such words of at least _SHORTEST_WORD characters
    are certain.
    """
    if pattern.flags & re.VERBOSE:
        return None
    try:
        parsed = _sre_parse.parse(pattern.pattern, pattern.flags)
    except re.error:
        return None
    return _words_of(list(parsed))


def _words_of(items: list[tuple[Any, Any]]) -> frozenset[str] | None:
    """The best requirement of a sequence: the option set whose shortest word is longest."""
    options: list[frozenset[str]] = []
    run: list[str] = []

    def end_run() -> None:
        if len(run) >= _SHORTEST_WORD:
            options.append(frozenset(["".join(run).lower()]))
        run.clear()

    for op, av in items:
        if op is _sre.LITERAL and av < 128:  # a non-ASCII letter may match an ASCII one
            run.append(chr(av))
            continue
        end_run()
        if op is _sre.BRANCH:
            alternatives = [_words_of(list(branch)) for branch in av[1]]
            if all(words is not None for words in alternatives):
                options.append(frozenset().union(*alternatives))  # type: ignore[arg-type]
        elif op is _sre.SUBPATTERN and not av[1] and not av[2]:  # a group without flags
            inner = _words_of(list(av[3]))
            if inner is not None:
                options.append(inner)
    end_run()
    if not options:
        return None
    return max(options, key=lambda words: min(len(word) for word in words))


@functools.cache
def _screen(patterns: tuple[re.Pattern[str], ...]) -> tuple[re.Pattern[str], bool] | None:
    """A literal-only regex over the words every pattern needs, and whether to lower-case."""
    words: set[str] = set()
    for pattern in patterns:
        found = required_words(pattern)
        if found is None:
            return None
        words |= found
    ignore_case = {bool(p.flags & re.IGNORECASE) for p in patterns}
    if not words or len(ignore_case) != 1:
        return None
    alternation = "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))
    return re.compile(alternation), ignore_case.pop()


def could_match(patterns: tuple[re.Pattern[str], ...], text: str) -> bool:
    """False only when no pattern can match `text`: it holds none of their required words."""
    return _could_match(_screen(patterns), text)


def _could_match(screen: tuple[re.Pattern[str], bool] | None, text: str) -> bool:
    if screen is None or not text.isascii():
        return True
    scan, lower = screen
    return scan.search(text.lower() if lower else text) is not None


# A rule tuple's screen and union, by the tuple's identity: hashing a tuple of patterns
# on every search costs as much as the search. The entry keeps the tuple alive, so its
# id stays its own; bounded, since callers might pass a new tuple each time. Other
# sequences could change in place: they are looked up by value.
_Prepared = tuple[tuple[re.Pattern[str], bool] | None, re.Pattern[str] | None]
_BY_TUPLE: dict[int, tuple[tuple[re.Pattern[str], ...], _Prepared]] = {}
_BY_TUPLE_SIZE = 256


def _prepared(patterns: Sequence[re.Pattern[str]]) -> _Prepared:
    """The screen and the union of `patterns`."""
    if not isinstance(patterns, tuple):
        key = tuple(patterns)
        return _screen(key), union(key)
    known = _BY_TUPLE.get(id(patterns))
    if known is None or known[0] is not patterns:
        if len(_BY_TUPLE) >= _BY_TUPLE_SIZE:
            _BY_TUPLE.clear()
        known = _BY_TUPLE[id(patterns)] = (patterns, (_screen(patterns), union(patterns)))
    return known[1]


def any_search(patterns: Sequence[re.Pattern[str]], text: str) -> bool:
    """`any(p.search(text) for p in patterns)`, in one search where it can."""
    screen, joined = _prepared(patterns)
    if not _could_match(screen, text):
        return False
    if joined is not None:
        return joined.search(text) is not None
    return any(p.search(text) for p in patterns)
