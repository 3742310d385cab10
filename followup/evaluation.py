"""Scores for the follow-up logic: recommendation sentences (F1), closure (precision, recall).

Used by the tests (which assert the thresholds) and by `python -m bench.followups`
(which prints the figures).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from followup.detect import find_recommendations


@dataclass(frozen=True)
class Score:
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def __add__(self, other: Score) -> Score:
        return Score(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)


def score_report(text: str, gold: list[str], language: str) -> tuple[Score, list[str], list[str]]:
    """Score one report: a gold sentence is found when a detected span overlaps it.

    Returns the score, the gold sentences missed and the detected sentences that
    overlap no gold sentence.
    """
    spans = []
    for sentence in gold:
        start = text.find(sentence)
        if start < 0:
            raise ValueError(f"gold sentence not in the text: {sentence[:40]!r}")
        spans.append((start, start + len(sentence)))
    found = find_recommendations(text, language)
    hit = [any(f.start < end and start < f.end for f in found) for start, end in spans]
    stray = [f.text for f in found if not any(f.start < e and s < f.end for s, e in spans)]
    missed = [sentence for sentence, ok in zip(gold, hit, strict=True) if not ok]
    return Score(sum(hit), len(stray), len(missed)), missed, stray


def score_detection(reports: Iterable[dict[str, Any]]) -> tuple[Score, list[str]]:
    """Sum over reports ({"id", "language", "text", "recommendations"}) and list the errors."""
    total = Score(0, 0, 0)
    errors: list[str] = []
    for report in reports:
        score, missed, stray = score_report(
            report["text"], report["recommendations"], report["language"]
        )
        total += score
        errors.extend(f"{report['id']}: missed {s!r}" for s in missed)
        errors.extend(f"{report['id']}: stray {s!r}" for s in stray)
    return total, errors
