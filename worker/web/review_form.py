"""The review form on the report page: verdicts per flag and the corrected label.

Field names: `verdict_<CODE>` (agree / disagree) and `reason_<CODE>` per flag;
`bme` (a status, or empty to keep radflag's); `site_bone` and `site_side`
(paired lists; an empty bone is an unused row); `etiology` (the categories
ticked); `missed` (radflag missed a finding). Sites and etiology count as
corrected only when they differ from the annotation's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from feedback.labels import CONTRACT_BONES, REASONS, Review, ReviewError, make_review
from nlp.model import BME_STATUSES, ETIOLOGIES

SIDES = {"": "side unknown", "left": "left", "right": "right", "bilateral": "bilateral"}
EMPTY_SITE_ROWS = 2  # blank rows under the annotation's sites, to add a missed one


def review_options() -> dict[str, Any]:
    """What the form offers."""
    return {
        "reasons": REASONS,
        "bones": CONTRACT_BONES,
        "sides": SIDES,
        "etiologies": ETIOLOGIES,
        "statuses": BME_STATUSES,
        "empty_site_rows": EMPTY_SITE_ROWS,
    }


def review_from_form(
    codes: list[str], fields: Mapping[str, Sequence[str]], annotation: Mapping[str, Any]
) -> Review:
    """The review the submitted form describes; ReviewError when it does not make sense."""

    def one(name: str) -> str:
        values = fields.get(name) or [""]
        return values[0].strip()

    verdicts = {code: (one(f"verdict_{code}") or "agree", one(f"reason_{code}")) for code in codes}
    bones, sides = list(fields.get("site_bone", [])), list(fields.get("site_side", []))
    if len(bones) != len(sides):
        raise ReviewError("each site needs a bone and a side")
    sites = [(b.strip(), s.strip() or None) for b, s in zip(bones, sides, strict=True) if b.strip()]
    original_sites = [(s["bone"], s.get("laterality")) for s in annotation.get("sites", [])]
    etiology = [e.strip() for e in fields.get("etiology", []) if e.strip()]
    original_etiology = [str(e) for e in annotation.get("etiology", [])]
    return make_review(
        codes,
        verdicts,
        bme=one("bme") or None,
        sites=None if "site_bone" not in fields or sites == original_sites else sites,
        etiology=None
        if "etiology_shown" not in fields or sorted(etiology) == sorted(original_etiology)
        else etiology,
        missed=one("missed") in ("1", "on", "yes"),
    )
