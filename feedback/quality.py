"""Agreement of radiologists with radflag's flags: PPV per flag code, reasons per month.

Each reviewed flag is one observation: the latest review of each report
version says agree or disagree. The share agreed estimates the flag's positive
predictive value on this hospital's reports.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class FlagVerdict:
    """One flag's verdict in one review."""

    month: str  # YYYY-MM of the review
    language: str
    code: str
    agree: bool
    reason: str | None


@dataclass(frozen=True)
class Agreement:
    agreed: int
    reviewed: int

    @property
    def ppv(self) -> float | None:
        return self.agreed / self.reviewed if self.reviewed else None


@dataclass(frozen=True)
class QualityReport:
    by_code: dict[str, Agreement]
    by_code_month_language: dict[tuple[str, str, str], Agreement]  # (code, month, language)
    reasons: dict[tuple[str, str, str], int]  # (month, language, reason) -> disagreements
    missed: dict[tuple[str, str], int]  # (month, language) -> reviews reporting a missed finding


def _agreements(counts: Counter[tuple[object, bool]]) -> dict:
    keys = {k for k, _ in counts}
    return {k: Agreement(counts[(k, True)], counts[(k, True)] + counts[(k, False)]) for k in keys}


def summarise(
    verdicts: list[FlagVerdict], missed: list[tuple[str, str]] | None = None
) -> QualityReport:
    """Agreement per code, per code/month/language, and disagreement reasons."""
    by_code: Counter[tuple[object, bool]] = Counter()
    detailed: Counter[tuple[object, bool]] = Counter()
    reasons: Counter[tuple[str, str, str]] = Counter()
    for v in verdicts:
        by_code[(v.code, v.agree)] += 1
        detailed[((v.code, v.month, v.language), v.agree)] += 1
        if not v.agree:
            reasons[(v.month, v.language, v.reason or "unspecified")] += 1
    return QualityReport(
        by_code=dict(sorted(_agreements(by_code).items())),
        by_code_month_language=dict(sorted(_agreements(detailed).items(), reverse=True)),
        reasons=dict(sorted(reasons.items(), reverse=True)),
        missed=dict(Counter(missed or [])),
    )
