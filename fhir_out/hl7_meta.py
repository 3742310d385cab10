"""ReportMeta from an HL7 v2 report: accession, patient, OBR-25 status, OBR-4/7/22."""

from __future__ import annotations

from fhir_out.bundle import ReportMeta
from hl7.model import Report
from hl7.order_fields import order_fields

# OBR-25 (HL7 table 0123) -> DiagnosticReport.status, after the HL7 v2-to-FHIR guide's
# result-status map; no OBR-25 (or no OBR, as in MDM) -> unknown.
OBR25_STATUS = {
    "O": "registered",
    "I": "registered",
    "S": "partial",
    "A": "partial",
    "R": "preliminary",
    "P": "preliminary",
    "F": "final",
    "C": "corrected",
    "X": "cancelled",
}


def report_meta(report: Report) -> ReportMeta:
    """What the Bundle needs from the message besides the text's annotation."""
    fields = order_fields(report)
    return ReportMeta(
        accession=report.accession,
        text=report.text,
        patient_id=report.patient_id,
        status=OBR25_STATUS.get(fields.result_status, "unknown"),
        procedure_text=report.procedure,
        procedure_code=fields.procedure_code,
        procedure_system=fields.procedure_system,
        effective=fields.observed_at,
        issued=fields.reported_at,
    )
