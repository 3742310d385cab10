"""`nlp.annotate` is linear in the text's length: hostile shapes at 1x, 2x and 4x (of 2 x BASE).

Each shape once took quadratic time (issue: 4k short "edema" lines 4.6 s,
"no bone marrow edema " x 4000 35 s, "a:" x 40k 28 s, a 50k-letter line ending
in "? X" 19.5 s). Time is measured as the best of a few runs, and the test
asserts the growth ratio, not a duration: doubling the input may at most about
double the time (quadratic would quadruple it).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from nlp import annotate

SHAPES: dict[str, Callable[[int], str]] = {
    "short edema lines": lambda n: "edema\n" * n,
    "one line of negated mentions": lambda n: "no bone marrow edema " * n,
    "colon junk": lambda n: "a:" * (10 * n),
    "long word before a question mark": lambda n: "a" * (10 * n) + "? X",
    "many sentences on one line": lambda n: "Bone marrow edema in the talus. " * n,
    "signal phrases": lambda n: "Increased STIR signal in the medial femoral condyle, " * n,
    # A German token regex once backtracked exponentially on a run of one letter.
    "German run of one capital": lambda n: "Befund: " + "S" * (n // 10) + " Knochenmarködem.",
}
BASE = 400


def _best_time(text: str, runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        annotate(text)
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_annotate_grows_linearly(shape: str) -> None:
    make = SHAPES[shape]
    annotate("warm-up: bone marrow edema in the talus.")
    t1, t2, t4 = (_best_time(make(BASE * k)) for k in (2, 4, 8))
    floor = 0.002  # below this, timer noise dominates
    # Linear growth gives about 4x from 1x to 4x, quadratic 16x; the margin
    # absorbs a loaded machine (the best of three runs each).
    assert max(t4, floor) / max(t1, floor) < 10, (shape, t1, t2, t4)


def test_every_rule_regex_is_fast_on_runs_of_one_character() -> None:
    """No rule regex backtracks on a run of one character (nested alternatives)."""
    import re

    from nlp.ruleset import available_languages, load_ruleset

    slow = []
    for language in available_languages():
        rules = load_ruleset(language)
        regexes = [rx for b in rules.bones for rx in b.patterns]
        regexes += [t.regex for t in rules.targets if t.regex is not None]
        for items in (rules.targets, rules.context, rules.etiology_cues):
            for rule in items:
                for token in rule.pattern or ():
                    value = token.get("LOWER")
                    if isinstance(value, dict) and "REGEX" in value:
                        regexes.append(re.compile(value["REGEX"]))
        for rx in regexes:
            for ch in "asez0 .-":
                start = time.perf_counter()
                list(rx.finditer(ch * 60))
                if time.perf_counter() - start > 0.05:
                    slow.append((language, rx.pattern[:80], ch))
    assert slow == []
