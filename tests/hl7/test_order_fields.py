"""hl7.order_fields: OBR-25, OBR-7, OBR-22 and OBR-4 read from a report's OBR."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from hl7.extract import extract_report
from hl7.order_fields import order_fields, parse_dtm
from tests.hl7.messages import wrap_mdm

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hl7"


def test_fields_of_the_knee_fixture() -> None:
    report = extract_report((FIXTURES / "oru_v251_knee_sections.hl7").read_bytes())
    fields = order_fields(report)
    assert fields.result_status == "P"
    assert fields.observed_at == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert fields.reported_at == datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    assert (fields.procedure_code, fields.procedure_system) == ("MRKNR", "L")


def test_message_without_obr_has_empty_fields() -> None:
    report = extract_report(wrap_mdm("Bone marrow edema of the patella."))
    fields = order_fields(report)
    assert fields.result_status == "" and fields.observed_at is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026", datetime(2026, 1, 1, tzinfo=UTC)),
        ("202603151230", datetime(2026, 3, 15, 12, 30, tzinfo=UTC)),
        ("20260315123045.25+0100",
         datetime(2026, 3, 15, 12, 30, 45, tzinfo=timezone(timedelta(hours=1)))),
        ("20260315-0530", datetime(2026, 3, 15, tzinfo=timezone(-timedelta(hours=5, minutes=30)))),
        ("20261345", None),  # month 13
        ("yesterday", None),
        ("", None),
    ],
)  # fmt: skip
def test_parse_dtm(value: str, expected: datetime | None) -> None:
    assert parse_dtm(value) == expected
