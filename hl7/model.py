"""What the rest of radflag sees of an HL7 message: small frozen dataclasses.

hl7apy objects never leave `hl7/`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MessageHeader:
    """The MSH fields the listener and the ACK need; read without a full parse."""

    field_separator: str
    encoding_characters: str
    sending_application: str
    sending_facility: str
    receiving_application: str
    receiving_facility: str
    message_type: str  # MSH-9.1, e.g. "ORU"
    trigger_event: str  # MSH-9.2, e.g. "R01"
    control_id: str  # MSH-10
    processing_id: str  # MSH-11
    version: str  # MSH-12
    accept_ack_type: str = ""  # MSH-15: AL, NE, ER, SU or empty (original mode)
    application_ack_type: str = ""  # MSH-16
    character_set: str = ""  # MSH-18
    language: str = ""  # MSH-19 identifier

    @property
    def enhanced_mode(self) -> bool:
        """True when MSH-15 or MSH-16 is valued (enhanced acknowledgment mode)."""
        return bool(self.accept_ack_type or self.application_ack_type)

    @property
    def dedupe_key(self) -> str:
        """Sending application, facility and control id: what makes a message a duplicate."""
        return f"{self.sending_application}|{self.sending_facility}|{self.control_id}"


@dataclass(frozen=True)
class ReportSection:
    """A part of the report text given by OBX-3 suffix (&GDT body, &IMP, &ADT)."""

    name: str  # "findings", "impression", "addendum" or "" when not given
    start: int
    end: int


@dataclass(frozen=True)
class Report:
    """One radiology report extracted from an inbound message."""

    header: MessageHeader
    patient_id: str
    accession: str  # OBR-3, OBR-18 or TXA-12
    procedure: str | None  # OBR-4 text component
    text: str
    sections: tuple[ReportSection, ...] = ()
    patient_language: str = ""  # PID-15
    # PID, PV1, ORC and OBR segments as received (decoded text, inbound separators),
    # copied into the result message so it attaches to the same patient and order.
    order_segments: tuple[str, ...] = ()
    # The report's status, HL7 table 0123 (F final, P preliminary, C corrected, ...):
    # OBR-25, or for an MDM its TXA-17 mapped; "" when the message says nothing.
    result_status: str = ""

    @property
    def control_id(self) -> str:
        return self.header.control_id


@dataclass(frozen=True)
class AckInfo:
    """What an ACK from a result receiver says (read by the delivery client)."""

    code: str  # MSA-1: AA, AE, AR, CA, CE or CR
    acked_control_id: str  # MSA-2: the control id of the message acknowledged
    text: str  # MSA-3 and the ERR texts, or ""
    control_id: str  # the ACK's own MSH-10
    error_code: str = ""  # HL7 table 0357 code from ERR, or ""

    @property
    def accepted(self) -> bool:
        """AA or CA: the receiver has the message; the sender may forget it."""
        return self.code in ("AA", "CA")

    @property
    def rejected(self) -> bool:
        """AR or CR: the receiver will never take this message; retrying cannot help."""
        return self.code in ("AR", "CR")
