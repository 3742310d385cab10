"""The outbound result: an ORU^R01 v2.5.1 carrying the annotation (spec/hl7-interface.md).

Strategy: written by hand, segment by segment, in the standard delimiters and
UTF-8 (declared in MSH-18), with `escape` applied to every value radflag
writes. The clock and the new control id are arguments, so the same report
and annotation always give the same bytes (golden files hold them). The
inbound PID, PV1, ORC and OBR are copied as received, re-delimited only when
the sender used other delimiters, so the result attaches to the same patient
and order.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import datetime

from hl7.ack import format_timestamp
from hl7.followup_obx import FOLLOWUP_OBSERVATIONS, Row
from hl7.model import Report
from hl7.text import STANDARD, Delimiters, encode_message, escape, unescape
from nlp.model import Annotation, Flag

SENDING_APPLICATION = "RADFLAG"
CODING_SYSTEM = "RADFLAG"
VERSION = "2.5.1"
CHARACTER_SET = "UNICODE UTF-8"

# OBX-3 identifier -> text (the identifiers are the contract; the texts are for people).
OBSERVATIONS: dict[str, str] = {
    "ORIGINAL_CONTROL_ID": "Inbound message control id",
    "BME_STATUS": "Bone marrow edema status",
    "BME_SITE": "Bone marrow edema site",
    "BME_LATERALITY": "Bone marrow edema laterality",
    "BME_ETIOLOGY": "Bone marrow edema etiology",
    "FLAG": "Flag",
    "FLAG_PRIORITY": "Flag priority",
    "FOLLOW_UP": "Follow-up suggestion",
    "EVIDENCE": "Evidence",
    "ANNOTATION_JSON": "Annotation JSON",
    **FOLLOWUP_OBSERVATIONS,  # after the spec's rows: see docs/followups.md
}
FLAG_TEXT: dict[str, str] = {
    "BME": "Bone marrow edema",
    "BME_POSSIBLE": "Possible bone marrow edema",
    "OSTEONECROSIS_CONCERN": "Concern for osteonecrosis",
    "INFECTION_CONCERN": "Concern for infection",
    "TUMOR_CONCERN": "Concern for tumor",
    "REACTIVE": "Reactive or degenerative bone marrow edema",
    "TRAUMA_OVERLOAD": "Traumatic or overload bone marrow edema",
    "TRANSIENT_BME": "Transient bone marrow edema",
}
# OBX-8 abnormal flags (HL7 table 0078): A abnormal, AA critically abnormal.
ABNORMAL_FLAG = {"routine": "A", "high": "AA", "urgent": "AA"}
OBR_RESULT_STATUS = 25
PV1_PATIENT_CLASS = 2
# Inbound OBR-25 values (table 0123) a result keeps: final, preliminary, corrected,
# some results available, results stored not verified. Others (an order status such as
# O or I, or X cancelled) cannot describe a report that has text; the result says F.
RESULT_STATUSES = ("F", "P", "C", "A", "R")


def build_result(
    report: Report,
    annotation: Annotation,
    *,
    control_id: str,
    timestamp: datetime,
    extra_rows: Sequence[Row] = (),
) -> bytes:
    """The result ORU^R01 for a report and its annotation, as bytes ready for MLLP.

    `extra_rows` (follow-up recommendations, the course: `hl7.followup_obx`) come
    after the spec's observations.
    """
    inbound = Delimiters.from_msh(report.header.field_separator, report.header.encoding_characters)
    segments = [_msh(report, inbound, control_id, timestamp)]
    segments.extend(_order_segments(report, inbound))
    observations = [*_observations(report, annotation), *extra_rows]
    segments.extend(_obx(set_id, *row) for set_id, row in enumerate(observations, start=1))
    return encode_message("\r".join(segments) + "\r", CHARACTER_SET)


def _msh(report: Report, inbound: Delimiters, control_id: str, timestamp: datetime) -> str:
    header = report.header
    return "|".join(
        [
            "MSH",
            STANDARD.encoding_characters,
            SENDING_APPLICATION,
            _redelimit(header.receiving_facility, inbound),
            _redelimit(header.sending_application, inbound),
            _redelimit(header.sending_facility, inbound),
            format_timestamp(timestamp),
            "",
            "ORU^R01^ORU_R01",
            escape(control_id),
            escape(header.processing_id or "P"),
            VERSION,
            "",
            "",
            "",
            "",
            "",
            CHARACTER_SET,
        ]
    )


def _order_segments(report: Report, inbound: Delimiters) -> list[str]:
    copied = [_redelimit(raw, inbound) for raw in report.order_segments]
    if not any(raw.startswith("PID|") for raw in copied):
        # ORU_R01 has PV1 only inside the PATIENT group, which PID opens: without a
        # PID a copied PV1 would break the structure, and it names no patient anyway.
        copied = [raw for raw in copied if not raw.startswith("PV1|")]
    if not any(raw.startswith("OBR|") for raw in copied):
        # An MDM without an order: ORU_R01 needs an OBR to hang the observations on.
        procedure = escape(report.procedure or "Radiology report")
        copied.append(f"OBR|1||{escape(report.accession)}|^{procedure}")
    status = result_status(report)
    copied = [_with_patient_class(raw) if raw.startswith("PV1|") else raw for raw in copied]
    return [_with_status(raw, status) if raw.startswith("OBR|") else raw for raw in copied]


def _with_patient_class(raw: str) -> str:
    # PV1-2 is required in v2.5.1; some senders leave it empty. U: unknown (table 0004).
    fields = raw.split("|")
    fields += [""] * (PV1_PATIENT_CLASS + 1 - len(fields))
    fields[PV1_PATIENT_CLASS] = fields[PV1_PATIENT_CLASS] or "U"
    return "|".join(fields)


def result_status(report: Report) -> str:
    """OBR-25 of the result: the inbound report's status (P stays P, C is C), else F."""
    return report.result_status if report.result_status in RESULT_STATUSES else "F"


def _with_status(raw: str, status: str) -> str:
    fields = raw.split("|")
    fields += [""] * (OBR_RESULT_STATUS + 1 - len(fields))
    fields[OBR_RESULT_STATUS] = status
    return "|".join(fields)


_Row = Row  # OBX-2, OBX-3 id, OBX-4, OBX-5 (escaped), OBX-8


def _observations(report: Report, annotation: Annotation) -> list[_Row]:
    rows: list[_Row] = [("ST", "ORIGINAL_CONTROL_ID", "", escape(report.control_id), "")]
    rows.append(("CWE", "BME_STATUS", "", _coded(annotation.bme), ""))
    for number, site in enumerate(annotation.sites, start=1):
        rows.append(("CWE", "BME_SITE", str(number), _coded(site.bone), ""))
        if site.laterality:
            rows.append(("CWE", "BME_LATERALITY", str(number), _coded(site.laterality), ""))
    rows.extend(
        ("CWE", "BME_ETIOLOGY", "", _coded(category), "") for category in annotation.etiology
    )
    for number, flag in enumerate(annotation.flags, start=1):
        rows.extend(_flag_rows(str(number), flag))
    rows.append(("ED", "ANNOTATION_JSON", "", _annotation_json(annotation), ""))
    return rows


def _flag_rows(number: str, flag: Flag) -> list[_Row]:
    text = FLAG_TEXT.get(flag.code, _title(flag.code))
    rows: list[_Row] = [
        ("CWE", "FLAG", number, _coded(flag.code, text), ABNORMAL_FLAG[flag.priority]),
        ("ST", "FLAG_PRIORITY", number, escape(flag.priority), ""),
        ("TX", "FOLLOW_UP", number, escape(flag.suggestion), ""),
    ]
    if flag.evidence:
        evidence = "~".join(escape(sentence) for sentence in flag.evidence)
        rows.append(("TX", "EVIDENCE", number, evidence, ""))
    return rows


def _obx(
    set_id: int, value_type: str, identifier: str, sub_id: str, value: str, abnormal: str
) -> str:
    observation = f"{identifier}^{escape(OBSERVATIONS[identifier])}^{CODING_SYSTEM}"
    fields = [
        "OBX",
        str(set_id),
        value_type,
        observation,
        sub_id,
        value,
        "",
        "",
        abnormal,
        "",
        "",
        "F",
    ]
    return "|".join(fields)


def _coded(code: str, text: str | None = None) -> str:
    return f"{escape(code)}^{escape(text if text is not None else _title(code))}^{CODING_SYSTEM}"


def _title(code: str) -> str:
    words = code.replace("_", " ").lower()
    return words[:1].upper() + words[1:]


def _annotation_json(annotation: Annotation) -> str:
    payload = json.dumps(annotation.to_json_dict(modifiers=False)).encode("utf-8")
    return f"^application^json^Base64^{base64.b64encode(payload).decode('ascii')}"


def _redelimit(raw: str, inbound: Delimiters) -> str:
    """A value or segment written with the inbound delimiters, rewritten in the standard ones."""
    if inbound == STANDARD:
        return raw
    return "|".join(
        "~".join(
            "^".join(
                "&".join(
                    escape(unescape(sub, inbound)) for sub in component.split(inbound.subcomponent)
                )
                for component in repetition.split(inbound.component)
            )
            for repetition in field.split(inbound.repetition)
        )
        for field in raw.split(inbound.field)
    )
