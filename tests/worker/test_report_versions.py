"""Report versions through the annotate task: one worklist row, its history, reviews kept."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from feedback.labels import make_review
from hl7.segments import split_segments
from hl7.text import Delimiters
from tests.worker.versioned import KNEE, annotate, versioned_oru
from worker.cli import main
from worker.settings import Settings
from worker.store import open_store
from worker.store_feedback import feedback_of
from worker.store_models import ReportAnnotation
from worker.store_queries import WorklistFilter

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
PRELIM = KNEE.replace("No fracture.", "No fracture. Preliminary read.")
CORRECTED = (
    "FINDINGS:\nBone marrow edema in the lateral femoral condyle. No fracture.\n\n"
    "IMPRESSION:\nLateral femoral condyle bone marrow edema."
)


def _result_status(result: bytes) -> str:
    segments = split_segments(result.decode(), Delimiters())
    return next(s for s in segments if s.name == "OBR").field(25)


def _send_three(settings: Settings) -> list[str]:
    keys = []
    for n, (status, text) in enumerate([("P", PRELIM), ("F", KNEE), ("C", CORRECTED)]):
        message = versioned_oru(text, accession="ACC-V1", control_id=f"V{n}", status=status)
        keys.append(annotate(message, f"V{n}", received_at=T0 + timedelta(minutes=10 * n)))
    return keys


def test_prelim_final_corrected_are_one_row_with_three_versions(
    publishing: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _send_three(publishing)
    for identifier in ("Testpatient", "Alex", "MRN0001", "19700101", "femoral condyle"):
        assert identifier not in caplog.text  # patient identifiers and report text: never logged
    store = open_store(publishing)
    rows, total = store.worklist(WorklistFilter(reviewed=None))
    assert total == 1 and len(rows) == 1
    [row] = rows
    assert row.versions == 3 and row.result_status == "C"
    assert row.sites == (("lateral_femoral_condyle", "right"),)  # the corrected text
    assert row.patient_name == "Testpatient, Alex" and row.sex == "F"
    history = feedback_of(store).versions(row.public_id)
    assert [v.result_status for v in history] == ["P", "F", "C"]
    assert history[-1].public_id == row.public_id
    assert store.unreviewed_count() == 1


def test_reviews_of_earlier_versions_stay_visible(publishing: Settings) -> None:
    store = open_store(publishing)
    keys = _send_three(publishing)
    history = feedback_of(store).versions(_latest(store))
    first = history[0].public_id
    feedback = feedback_of(store)
    assert feedback.record_review(first, reviewer="alice", review=make_review(["BME"], {}), at=T0)
    # Re-annotating the latest version (a task rerun, new rules) replaces its flags only.
    annotate(versioned_oru(CORRECTED, accession="ACC-V1", control_id="V2", status="C"), "V2",
             received_at=T0 + timedelta(minutes=20))  # fmt: skip
    again = feedback.versions(_latest(store))
    assert [len(v.reviews) for v in again] == [1, 0, 0]
    assert again[0].reviews[0].reviewer == "alice"
    assert len(keys) == 3 and len(again) == 3
    # The row follows the newest version: reviewing the first does not review the row.
    assert store.unreviewed_count() == 1


def _latest(store: object) -> str:
    rows, _ = store.worklist(WorklistFilter(reviewed=None))  # type: ignore[attr-defined]
    return str(rows[0].public_id)


def test_result_for_the_corrected_version_has_obr25_c(publishing: Settings) -> None:
    _send_three(publishing)
    store = open_store(publishing)
    statuses = []
    for version in feedback_of(store).versions(_latest(store)):
        with Session(store.engine) as session:  # the result message stored for this version
            result = session.scalar(
                select(ReportAnnotation.result_message).filter_by(public_id=version.public_id)
            )
        assert result is not None
        statuses.append(_result_status(result))
    assert statuses == ["P", "F", "C"]


def test_feedback_export_writes_corpus_lines(publishing: Settings) -> None:
    store = open_store(publishing)
    _send_three(publishing)
    latest = _latest(store)
    review = make_review(["BME"], {"BME": ("disagree", "wrong_site")},
                         sites=[("lateral_femoral_condyle", "left")])  # fmt: skip
    feedback_of(store).record_review(latest, reviewer="alice", review=review, at=T0)
    data = ["--data-dir", str(publishing.data_dir)]
    result = CliRunner().invoke(main, ["feedback", "export", *data])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 1 and set(lines[0]) == {"id", "text", "procedure", "gold"}
    assert lines[0]["text"].startswith("FINDINGS:") and lines[0]["id"] == latest
    assert lines[0]["gold"]["sites"] == [{"bone": "lateral_femoral_condyle", "laterality": "left"}]
    later = CliRunner().invoke(main, ["feedback", "export", "--since", "2026-03-03", *data])
    assert later.exit_code == 0 and later.stdout == ""
