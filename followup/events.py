"""HL7 order, appointment and report messages -> `ClinicalEvent`s for matching."""

from __future__ import annotations

from followup.model import ClinicalEvent, PatientId
from followup.regions import modality_of, region_of, side_of
from hl7.orders import ScheduleMessage


def clinical_event(
    message: ScheduleMessage,
    *,
    region: str | None = None,
    side: str | None = None,
) -> ClinicalEvent:
    """The event a message stands for; region and side from its procedure unless given."""
    return ClinicalEvent(
        kind=message.kind,  # type: ignore[arg-type]
        action=message.action,  # type: ignore[arg-type]
        patient_ids=tuple(PatientId(p.value, p.authority) for p in message.patient_ids),
        region=region or region_of(message.procedure),
        side=side or side_of(message.procedure),
        modality=modality_of(message.procedure, message.service_section),
        at=message.at,
        reference=message.reference,
        accession=message.accession,
        procedure=message.procedure,
        scheduled_at=message.scheduled_at,
    )


def patient_label(message: ScheduleMessage) -> str:
    """The first PID-3 as people read it: "value (authority)"."""
    if not message.patient_ids:
        return ""
    first = message.patient_ids[0]
    return f"{first.value} ({first.authority})" if first.authority else first.value
