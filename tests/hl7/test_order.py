"""hl7.order: patient and exam details from PID and OBR."""

from __future__ import annotations

from datetime import UTC, date, datetime

from hl7.extract import extract_report
from hl7.order import age_at, order_details, parse_dtm
from tests.hl7.messages import wrap_oru
from tests.worker.versioned import KNEE, versioned_oru


def test_details_from_pid_and_obr() -> None:
    message = versioned_oru(
        KNEE, accession="A1", control_id="C1", status="C",
        patient=("MRN77", "Doe^Jane^Q", "19800229", "f"),
        exam="202603011015+0100", reported="20260301120000",
    )  # fmt: skip
    details = order_details(extract_report(message))
    assert details.patient_name == "Doe, Jane"
    assert details.birth_date == date(1980, 2, 29)
    assert details.sex == "F"
    assert details.exam_time == datetime(2026, 3, 1, 9, 15, tzinfo=UTC)
    assert details.report_time == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert details.result_status == "C"


def test_missing_and_malformed_values_are_none() -> None:
    message = versioned_oru(
        KNEE, accession="A1", control_id="C1", status="",
        patient=("MRN77", "", "1980-02-29", ""), exam="yesterday", reported="20261340",
    )  # fmt: skip
    details = order_details(extract_report(message))
    assert details.patient_name is None and details.birth_date is None and details.sex is None
    assert details.exam_time is None and details.report_time is None
    assert details.result_status is None


def test_wrap_oru_default_is_final() -> None:
    assert order_details(extract_report(wrap_oru(KNEE))).result_status == "F"


def test_parse_dtm_precision_and_offsets() -> None:
    assert parse_dtm("2026") == datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_dtm("20260301-0500") == datetime(2026, 3, 1, 5, 0, tzinfo=UTC)
    assert parse_dtm("20260301101112.1234") == datetime(2026, 3, 1, 10, 11, 12, tzinfo=UTC)
    assert parse_dtm("20260230") is None and parse_dtm("") is None


def test_age_at() -> None:
    moment = datetime(2026, 2, 28, tzinfo=UTC)
    assert age_at(date(1980, 2, 29), moment) == 45
    assert age_at(date(1980, 2, 28), moment) == 46
    assert age_at(None, moment) is None and age_at(date(2030, 1, 1), moment) is None
