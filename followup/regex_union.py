"""Whether any of many regexes matches, in one search: their union, compiled once.

Strategy: the follow-up rules are lists of patterns, and the question asked of
every sentence of every report is "does any of them match?". One search of
the alternation `(?:p1)|(?:p2)|...` answers it exactly (a sentence has a match
of the union exactly when it has a match of some pattern), in one pass of the
regex engine instead of one per pattern. Patterns the union cannot hold
(different flags, back-references, group names used twice) keep the one-by-one
search.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

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


def any_search(patterns: Sequence[re.Pattern[str]], text: str) -> bool:
    """`any(p.search(text) for p in patterns)`, in one search where it can."""
    joined = union(tuple(patterns))
    if joined is not None:
        return joined.search(text) is not None
    return any(p.search(text) for p in patterns)
