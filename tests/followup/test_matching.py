"""followup.matching: patient with authority, region, side, modality, time."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from followup.matching import LATE_HORIZON, Candidate, matches
from followup.model import ClinicalEvent, PatientId

REPORT = datetime(2026, 1, 5, tzinfo=UTC)
CANDIDATE = Candidate(
    patient_keys=frozenset({PatientId("MRN1", "GENHOSP").key}), region="knee", side="left",
    modality="MRI", report_at=REPORT, due_to=REPORT + timedelta(days=56), accession="ACC1",
)  # fmt: skip
EXAM = ClinicalEvent(
    kind="report", action="done", patient_ids=(PatientId("mrn1 ", "genhosp"),), region="knee",
    side="left", modality="MRI", at=REPORT + timedelta(days=45), accession="ACC2",
)  # fmt: skip


def test_the_follow_up_exam_matches() -> None:
    """Same patient (case and spaces aside), region, side and modality, in time."""
    assert matches(CANDIDATE, EXAM)


@pytest.mark.parametrize(
    "change",
    [
        {"patient_ids": (PatientId("MRN1", "OTHERHOSP"),)},
        {"patient_ids": (PatientId("MRN10", "GENHOSP"),)},
        {"patient_ids": (PatientId("MRN1", ""),)},
        {"region": "hip"},
        {"side": "right"},
        {"modality": "radiograph"},
        {"at": REPORT - timedelta(days=1)},
        {"at": REPORT},
        {"at": REPORT + timedelta(days=56) + LATE_HORIZON + timedelta(days=1)},
        {"accession": "ACC1"},
    ],
    ids=["authority", "similar-id", "no-authority", "region", "side", "modality", "before",
         "same-time", "too-late", "same-report"],
)  # fmt: skip
def test_what_does_not_match(change: dict) -> None:
    """Another authority, id, region, side or modality, or the wrong time, never matches."""
    assert not matches(CANDIDATE, replace(EXAM, **change))


@pytest.mark.parametrize("side", ["bilateral", None])
def test_bilateral_or_unnamed_side_covers(side: str | None) -> None:
    """An exam of both sides, or one whose procedure names no side, covers a left follow-up."""
    assert matches(CANDIDATE, replace(EXAM, side=side))


def test_lab_and_referral_follow_ups_are_closed_by_people() -> None:
    """No imaging exam closes a lab work-up."""
    assert not matches(replace(CANDIDATE, modality="lab"), replace(EXAM, modality=None))
