"""A review: verdicts per flag, the corrected label, and the gold label it makes.

The gold label is in the contract's corpus format (spec/annotation.md):
`{"bme", "sites", "etiology", "flags"}` with flags as codes, derived from the
status and etiology by the contract's flag table, so a corrected etiology
corrects the flags too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nlp.model import BME_STATUSES, BONES, ETIOLOGIES
from nlp.report import ETIOLOGY_FLAGS

# Why a flag is wrong; the keys are stored, the labels shown.
REASONS: dict[str, str] = {
    "not_bme": "Not BME (soft tissue, artifact)",
    "negated": "Negated",
    "historical": "Historical",
    "wrong_status": "Wrong status",
    "wrong_site": "Wrong site or side",
    "wrong_cause": "Wrong cause",
    "missed_finding": "Missed finding",
}
# Reasons that say, of a BME or BME_POSSIBLE flag, that there is no current edema.
NO_CURRENT_EDEMA = frozenset({"not_bme", "negated", "historical"})
STATUS_FLAGS = {"present": "BME", "possible": "BME_POSSIBLE"}
# The contract's bone vocabulary: a radiologist may name any of them.
CONTRACT_BONES: tuple[str, ...] = BONES
LATERALITIES: tuple[str | None, ...] = ("left", "right", "bilateral", None)


class ReviewError(ValueError):
    """A review that cannot be stored; the message says what is wrong."""


@dataclass(frozen=True)
class Verdict:
    agree: bool
    reason: str | None = None  # one of REASONS when not agreeing


@dataclass(frozen=True)
class Review:
    """What one radiologist said about one version of a report."""

    verdicts: dict[str, Verdict] = field(default_factory=dict)  # flag code -> verdict
    bme: str | None = None  # corrected status; None: radflag's stands
    sites: tuple[tuple[str, str | None], ...] | None = None  # corrected (bone, laterality)
    etiology: tuple[str, ...] | None = None  # corrected categories
    missed: bool = False  # radflag missed a finding (no flag to disagree with)

    @property
    def corrected(self) -> bool:
        return self.bme is not None or self.sites is not None or self.etiology is not None

    def to_json(self) -> dict[str, Any]:
        return {code: {"agree": v.agree, "reason": v.reason} for code, v in self.verdicts.items()}


def make_review(
    flag_codes: list[str],
    verdicts: Mapping[str, tuple[str, str]],
    *,
    bme: str | None = None,
    sites: list[tuple[str, str | None]] | None = None,
    etiology: list[str] | None = None,
    missed: bool = False,
) -> Review:
    """Check and build a review. `verdicts` maps a flag code to ("agree"|"disagree", reason).

    A flag without a verdict counts as agreed (the radiologist marked the report
    reviewed). Raises ReviewError for an unknown code, verdict, reason, status,
    bone, side or category, or a disagreement without a reason.
    """
    out: dict[str, Verdict] = {}
    for code in flag_codes:
        verdict, reason = verdicts.get(code, ("agree", ""))
        if verdict == "agree":
            out[code] = Verdict(True)
        elif verdict == "disagree":
            if reason not in REASONS:
                raise ReviewError(f"say why you disagree with {code}")
            out[code] = Verdict(False, reason)
        else:
            raise ReviewError(f"verdict must be agree or disagree, got {verdict!r}")
    unknown = set(verdicts) - set(flag_codes)
    if unknown:
        raise ReviewError(f"no such flag on this report: {', '.join(sorted(unknown))}")
    if bme is not None and bme not in BME_STATUSES:
        raise ReviewError(f"status must be one of {', '.join(BME_STATUSES)}")
    if sites is not None:
        for bone, side in sites:
            if bone not in CONTRACT_BONES:
                raise ReviewError(f"unknown bone {bone!r}")
            if side not in LATERALITIES:
                raise ReviewError(f"unknown side {side!r}")
    if etiology is not None:
        bad = [e for e in etiology if e not in ETIOLOGIES]
        if bad:
            raise ReviewError(f"unknown cause {bad[0]!r}")
    return Review(
        verdicts=out,
        bme=bme,
        sites=None if sites is None else tuple(dict.fromkeys(sites)),
        etiology=None if etiology is None else tuple(dict.fromkeys(etiology)),
        missed=missed,
    )


def flags_for(bme: str, etiology: list[str]) -> list[str]:
    """The flag codes the contract's table gives for a status and etiology."""
    if bme not in STATUS_FLAGS:
        return []
    codes = [STATUS_FLAGS[bme]]
    codes += [code for code, when, _ in ETIOLOGY_FLAGS if when & set(etiology)]
    return codes


def gold_label(annotation: Mapping[str, Any], review: Review) -> dict[str, Any]:
    """The reviewed report's label: the review's corrections over radflag's annotation.

    Disagreeing with the BME / BME_POSSIBLE flag as not BME, negated or historical
    says there is no current edema: without an explicit status that makes the
    status absent.
    """
    bme = review.bme
    if bme is None:
        bme = str(annotation.get("bme", "absent"))
        for code in STATUS_FLAGS.values():
            verdict = review.verdicts.get(code)
            if verdict and not verdict.agree and verdict.reason in NO_CURRENT_EDEMA:
                bme = "absent"
    if bme == "absent":
        return {"bme": "absent", "sites": [], "etiology": [], "flags": []}
    if review.sites is not None:
        sites = [{"bone": b, "laterality": s} for b, s in review.sites]
    else:
        sites = [
            {"bone": s["bone"], "laterality": s.get("laterality")}
            for s in annotation.get("sites", [])
        ]
    etiology = (
        list(review.etiology)
        if review.etiology is not None
        else [str(e) for e in annotation.get("etiology", [])]
    )
    return {"bme": bme, "sites": sites, "etiology": etiology, "flags": flags_for(bme, etiology)}
