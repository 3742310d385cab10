"""A matcher for token patterns over lower-cased words (LOWER as a string, IN or REGEX).

spaCy's Matcher evaluates every predicate of every pattern at every token, and a
REGEX predicate runs its regex each time: German rules (compounds, inflections
written as token regexes) spent most of their time there. Here each pattern is
indexed by its first token: a word looks up, once per process, which patterns
can start on it (a dict for strings and IN sets, the regexes tried once per
distinct word and remembered), and only those are followed. Every predicate
remembers its answer per word, so a regex runs once per distinct word, not
once per token.

Semantics are the Matcher's for these patterns: OP "1", "?", "*" and "+", all
matches reported (the caller keeps the longest); "*" and "+" repeat at most
`MAX_REPEAT` times.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

MAX_REPEAT = 8
# Words whose start candidates are remembered; beyond this the cache is cleared
# (bounded memory for a long-running worker that reads junk).
_MAX_CACHED_WORDS = 200_000


class _Predicate:
    """One token test over the lower-cased word, remembering its answers."""

    __slots__ = ("_cache", "regex", "words")

    def __init__(self, words: frozenset[str] | None, regex: re.Pattern[str] | None) -> None:
        self.words = words
        self.regex = regex
        self._cache: dict[str, bool] = {}

    def __call__(self, word: str) -> bool:
        if self.words is not None:
            return word in self.words
        hit = self._cache.get(word)
        if hit is None:
            assert self.regex is not None
            hit = self.regex.search(word) is not None
            if len(self._cache) >= _MAX_CACHED_WORDS:
                self._cache.clear()
            self._cache[word] = hit
        return hit


Step = tuple[_Predicate, str]  # predicate, OP


def compile_pattern(pattern: Sequence[dict[str, Any]]) -> list[Step] | None:
    """The steps of a LOWER-only pattern, or None when it uses anything else."""
    steps: list[Step] = []
    for token in pattern:
        if set(token) - {"LOWER", "OP"} or "LOWER" not in token:
            return None
        value, op = token["LOWER"], token.get("OP", "1")
        if op not in ("1", "?", "*", "+"):
            return None
        if isinstance(value, str):
            predicate = _Predicate(frozenset([value]), None)
        elif isinstance(value, dict) and set(value) == {"IN"}:
            predicate = _Predicate(frozenset(str(w) for w in value["IN"]), None)
        elif isinstance(value, dict) and set(value) == {"REGEX"}:
            predicate = _Predicate(None, re.compile(str(value["REGEX"])))
        else:
            return None
        steps.append((predicate, op))
    return steps or None


def _required_first(steps: list[Step]) -> list[list[Step]]:
    """Variants of `steps` whose first step is required ("1" or "+")."""
    if not steps:
        return []
    predicate, op = steps[0]
    if op in ("1", "+"):
        return [steps]
    required = [(predicate, "1" if op == "?" else "+"), *steps[1:]]
    return [required, *_required_first(steps[1:])]


class LowerPatternMatcher:
    """Token patterns over lower-cased words, indexed by their first token."""

    def __init__(self) -> None:
        self._by_word: dict[str, list[tuple[int, list[Step]]]] = {}
        self._by_regex: list[tuple[_Predicate, int, list[Step]]] = []
        self._starts: dict[str, list[tuple[int, list[Step]]]] = {}

    def add(self, key: int, pattern: Sequence[dict[str, Any]]) -> bool:
        """Add a pattern under `key`; False when it is not LOWER-only (not added)."""
        steps = compile_pattern(pattern)
        if steps is None:
            return False
        for variant in _required_first(steps):
            first = variant[0][0]
            if first.words is not None:
                for word in first.words:
                    self._by_word.setdefault(word, []).append((key, variant))
            else:
                self._by_regex.append((first, key, variant))
        self._starts.clear()
        return True

    def __bool__(self) -> bool:
        return bool(self._by_word or self._by_regex)

    def _candidates(self, word: str) -> list[tuple[int, list[Step]]]:
        found = self._starts.get(word)
        if found is None:
            found = list(self._by_word.get(word, ()))
            found.extend((key, steps) for first, key, steps in self._by_regex if first(word))
            if len(self._starts) >= _MAX_CACHED_WORDS:
                self._starts.clear()
            self._starts[word] = found
        return found

    def __call__(self, words: Sequence[str], offset: int = 0) -> list[tuple[int, int, int]]:
        """(key, start, end) of every match in `words`, token offsets plus `offset`."""
        out: set[tuple[int, int, int]] = set()
        for i, word in enumerate(words):
            for key, steps in self._candidates(word):
                for end in _ends(steps, words, i, 0):
                    if end > i:
                        out.add((key, i + offset, end + offset))
        return sorted(out, key=lambda m: (m[1], m[2], m[0]))


def _ends(steps: list[Step], words: Sequence[str], i: int, j: int) -> Iterator[int]:
    """Every end position of steps[j:] matched from word i (backtracking, bounded)."""
    if j == len(steps):
        yield i
        return
    predicate, op = steps[j]
    n = len(words)
    if op == "1":
        if i < n and predicate(words[i]):
            yield from _ends(steps, words, i + 1, j + 1)
        return
    if op in ("?", "*"):
        yield from _ends(steps, words, i, j + 1)
    limit = 1 if op == "?" else MAX_REPEAT
    k = i
    while k < n and k - i < limit and predicate(words[k]):
        k += 1
        yield from _ends(steps, words, k, j + 1)


__all__ = ["MAX_REPEAT", "LowerPatternMatcher", "compile_pattern"]
