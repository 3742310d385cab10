"""hl7.orders: orders (ORM^O01, OMI^O23), appointments (SIU^S12-S15) and report events."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hl7apy.parser import parse_message

from hl7.errors import DataTypeError, RequiredFieldMissing, UnsupportedMessageType
from hl7.header import parse_header
from hl7.orders import is_event_message, read_event, read_report_event, screen_event
from tests.followup.messages import appointment, order, report


def test_order_reads_patient_reference_procedure_and_time() -> None:
    """ORM^O01 NW: every PID-3 with its authority, ORC-2, OBR-4 text, OBR-24, ORC-9."""
    message = read_event(order("O1", "MRN1", placer="PL1", placed="20260110100000"))
    assert (message.kind, message.action, message.reference) == ("order", "new", "PL1")
    assert [(p.value, p.authority) for p in message.patient_ids] == [("MRN1", "GENHOSP")]
    assert message.procedure == "MRI KNEE LEFT WO CONTRAST" and message.service_section == "MR"
    assert message.at == datetime(2026, 1, 10, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(("control", "action"), [("XO", "changed"), ("CA", "cancelled")])
def test_order_control_codes(control: str, action: str) -> None:
    """ORC-1 XO changes an order, CA cancels it."""
    assert read_event(order("O2", "MRN1", placer="PL1", control=control)).action == action


def test_omi_is_an_order_too() -> None:
    """OMI^O23 reads like ORM^O01."""
    message = read_event(order("O3", "MRN1", placer="PL3", message_type="OMI^O23^OMI_O23"))
    assert (message.kind, message.reference) == ("order", "PL3")


@pytest.mark.parametrize(
    ("trigger", "action"),
    [("S12", "new"), ("S13", "changed"), ("S14", "changed"), ("S15", "cancelled")],
)
def test_appointment_triggers(trigger: str, action: str) -> None:
    """SIU^S12 books, S13/S14 change, S15 cancels; AIS-4 is the start."""
    raw = appointment("A1", "MRN1", appointment_id="AP1", start="20260220100000", trigger=trigger)
    message = read_event(raw)
    assert (message.kind, message.action, message.reference) == ("appointment", action, "AP1")
    assert message.scheduled_at == datetime(2026, 2, 20, 10, 0, tzinfo=UTC)


def test_appointment_with_order_number_is_that_booking() -> None:
    """SCH-26 (placer order number) ties the appointment to its order's booking."""
    raw = appointment("A2", "MRN1", appointment_id="AP2", start="20260220100000", placer="PL9")
    assert read_event(raw).reference == "PL9"


def test_report_event_time_and_accession() -> None:
    """A report's time is OBR-7; its accession OBR-3."""
    raw = report("R1", "MRN1", "Text.", at="20260301083000")
    event = read_report_event(raw, datetime(2026, 3, 2, tzinfo=UTC))
    assert event.at == datetime(2026, 3, 1, 8, 30, tzinfo=UTC) and event.accession == "ACCR1"


def test_report_event_reads_the_same_with_the_header_given() -> None:
    """The worker passes the MSH it parsed for the report; the event is the one read
    from the bytes alone, also for a message in another character set."""
    from hl7.extract import extract_report

    latin = (
        report("R2", "MRN1", "Ödem.", at="20260301083000")
        .replace(b"|2.5.1\r", b"|2.5.1||||||8859/1\r", 1)  # MSH-18
        .replace("Ödem".encode(), "Ödem".encode("latin-1"))
    )
    assert extract_report(latin).header.character_set == "8859/1"
    assert extract_report(latin).text.endswith("Ödem.")
    for raw in (report("R1", "MRN1", "Text.", at="20260301083000"), latin):
        header = extract_report(raw).header
        received = datetime(2026, 3, 2, tzinfo=UTC)
        assert read_report_event(raw, received, header) == read_report_event(raw, received)


def test_time_offsets_are_honoured() -> None:
    """A timestamp with +0100 is converted to UTC."""
    raw = order("O4", "MRN1", placer="PL4", placed="20260110100000+0100")
    assert read_event(raw).at == datetime(2026, 1, 10, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "error", "code"),
    [
        (order("B1", "", placer="PL1"), RequiredFieldMissing, 101),
        (order("B2", "MRN1", placer=""), RequiredFieldMissing, 101),
        (order("B3", "MRN1", placer="PL1", placed="2026-01-10"), DataTypeError, 102),
        (
            order("B4", "MRN1", placer="PL1", message_type="ORM^O02^ORM_O02"),
            UnsupportedMessageType,
            201,
        ),
        (
            appointment("B5", "MRN1", appointment_id="AP", start="20260220", trigger="S17"),
            UnsupportedMessageType,
            201,
        ),
        (appointment("B6", "MRN1", appointment_id="AP", start="notatime"), DataTypeError, 102),
    ],
)
def test_screen_rejects_what_cannot_be_matched(raw: bytes, error: type, code: int) -> None:
    """Before the ACK: no PID-3, no reference, a bad time or another trigger is refused."""
    header = parse_header(raw)
    assert is_event_message(header)
    with pytest.raises(error) as caught:
        screen_event(raw, header)
    assert caught.value.hl7_error_code == code


@pytest.mark.parametrize(
    ("raw", "structure"),
    [
        (order("V1", "MRN1", placer="PL1"), "ORM_O01"),
        (appointment("V2", "MRN1", appointment_id="AP1", start="20260220100000"), "SIU_S12"),
        (report("V3", "MRN1", "Text."), "ORU_R01"),
    ],
)
def test_test_messages_are_valid_hl7(raw: bytes, structure: str) -> None:
    """hl7apy (the reference parser) reads the synthetic messages these tests use."""
    message = parse_message(raw.decode("utf-8"), find_groups=True)
    assert message.name == structure
    assert message.msh.msh_10.value == raw.split(b"|")[9].decode()
