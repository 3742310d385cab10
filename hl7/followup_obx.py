"""OBX rows for follow-up recommendations and the course of the edema (after the spec's rows).

Strategy: rows are plain tuples (OBX-2, OBX-3 identifier, OBX-4, OBX-5 escaped,
OBX-8) that `hl7.result` appends after ANNOTATION_JSON, so the contract's rows
keep their places. Recommendations come in as plain dicts (`Recommendation.to_dict()`
of the `followup` package), so `hl7/` does not depend on it. Documented in
docs/followups.md.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from hl7.text import escape

CODING_SYSTEM = "RADFLAG"
FOLLOWUP_OBSERVATIONS: dict[str, str] = {
    "FOLLOW_UP_MODALITY": "Follow-up modality",
    "FOLLOW_UP_REGION": "Follow-up body region",
    "FOLLOW_UP_SIDE": "Follow-up side",
    "FOLLOW_UP_INTERVAL": "Follow-up interval (days from the report)",
    "FOLLOW_UP_DUE": "Follow-up due window",
    "FOLLOW_UP_URGENCY": "Follow-up urgency",
    "FOLLOW_UP_CONDITION": "Follow-up condition",
    "FOLLOW_UP_TEXT": "Follow-up recommendation",
    "FOLLOW_UP_SOURCE": "Follow-up source",
    "FOLLOW_UP_EVIDENCE": "Follow-up evidence",
    "FOLLOW_UP_JSON": "Follow-up recommendations JSON",
    "BME_COURSE": "Course of the bone marrow edema",
    "OSTEONECROSIS_ESCALATION": "Osteonecrosis concern escalated",
    "FOLLOW_UP_OVERDUE": "Follow-up overdue",
    "FOLLOW_UP_ID": "Follow-up id",
}
MODALITY_TEXT = {
    "MRI": "Magnetic resonance imaging",
    "CT": "Computed tomography",
    "radiograph": "Radiograph",
    "lab": "Laboratory work-up",
    "referral": "Referral",
}

Row = tuple[str, str, str, str, str]  # OBX-2, OBX-3 identifier, OBX-4, OBX-5 (escaped), OBX-8


def _coded(code: str, text: str) -> str:
    return f"{escape(code)}^{escape(text)}^{CODING_SYSTEM}"


def _title(code: str) -> str:
    words = code.replace("_", " ")
    return words[:1].upper() + words[1:]


def _coded_row(identifier: str, number: str, code: str, text: str | None = None) -> Row:
    return ("CWE", identifier, number, _coded(code, text or _title(code)), "")


def recommendation_rows(
    recommendations: Sequence[Mapping[str, Any]], report_text: str, report_at: datetime | None
) -> list[Row]:
    """Rows for each recommendation (OBX-4 = its number), then all of them as JSON."""
    rows: list[Row] = []
    for number, rec in enumerate(recommendations, start=1):
        n = str(number)
        interval = rec["interval_days"]
        modality = rec["modality"]
        rows.append(_coded_row("FOLLOW_UP_MODALITY", n, modality, MODALITY_TEXT.get(modality)))
        if rec.get("region"):
            rows.append(_coded_row("FOLLOW_UP_REGION", n, rec["region"]))
        if rec.get("side"):
            rows.append(_coded_row("FOLLOW_UP_SIDE", n, rec["side"]))
        rows.append(("NR", "FOLLOW_UP_INTERVAL", n, f"{interval['min']}^{interval['max']}", ""))
        if report_at is not None:
            start = report_at + timedelta(days=interval["min"])
            end = report_at + timedelta(days=interval["max"])
            rows.append(("DR", "FOLLOW_UP_DUE", n, f"{start:%Y%m%d%H%M}^{end:%Y%m%d%H%M}", ""))
        rows.append(_coded_row("FOLLOW_UP_URGENCY", n, rec["urgency"]))
        if rec.get("condition"):
            rows.append(("ST", "FOLLOW_UP_CONDITION", n, escape(rec["condition"]), ""))
        rows.append(("TX", "FOLLOW_UP_TEXT", n, escape(rec["text"]), ""))
        rows.append(_coded_row("FOLLOW_UP_SOURCE", n, rec["source"]))
        quotes = [report_text[e["start"] : e["end"]] for e in rec.get("evidence", ())]
        if any(quotes):
            rows.append(("TX", "FOLLOW_UP_EVIDENCE", n, "~".join(escape(q) for q in quotes), ""))
    if recommendations:
        payload = json.dumps(list(recommendations)).encode("utf-8")
        encoded = base64.b64encode(payload).decode("ascii")
        rows.append(("ED", "FOLLOW_UP_JSON", "", f"^application^json^Base64^{encoded}", ""))
    return rows


def course_rows(course: Mapping[str, Any] | None) -> list[Row]:
    """BME_COURSE (against the earlier exam) and, when it escalates, OSTEONECROSIS_ESCALATION."""
    if not course:
        return []
    rows: list[Row] = [_coded_row("BME_COURSE", "", course["course"])]
    if course.get("escalate_osteonecrosis"):
        text = f"Osteonecrosis concern escalated: {course.get('reason') or 'progression'}"
        value = _coded("OSTEONECROSIS_CONCERN", text)
        rows.append(("CWE", "OSTEONECROSIS_ESCALATION", "", value, "AA"))
    return rows
