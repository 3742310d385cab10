"""Synthetic HL7 messages for follow-up tests: reports, orders and appointments (others import)."""

from __future__ import annotations

from hl7.text import escape

# A left knee report with a recommendation, and the next one: progressed, with collapse.
KNEE = (
    "MRI LEFT KNEE\nFindings:\nBone marrow edema in the medial femoral condyle.\nImpression:\n"
    "Medial femoral condyle bone marrow edema. Follow-up MRI in 6-8 weeks is recommended."
)
LATER = (
    "MRI LEFT KNEE\nComparison: prior MRI.\nFindings:\nThe bone marrow edema in the medial "
    "femoral condyle has progressed, with subchondral collapse.\nImpression:\nProgression."
)


def _msh(message_type: str, control_id: str, sent: str = "20260105093000") -> str:
    return f"MSH|^~\\&|RIS|GENHOSP|RADFLAG|GENHOSP|{sent}||{message_type}|{control_id}|P|2.5.1"


def _pid(mrn: str, authority: str) -> str:
    return f"PID|1||{mrn}^^^{authority}^MR||Testpatient^Alex||19700101|U"


def report(
    control_id: str,
    mrn: str,
    text: str,
    *,
    procedure: str = "MRI KNEE LEFT WO CONTRAST",
    at: str = "20260105090000",
    authority: str = "GENHOSP",
    accession: str | None = None,
    section: str = "MR",
) -> bytes:
    """An ORU^R01 report, one TX OBX per line; OBR-7 is the exam time."""
    accession = accession or f"ACC{control_id}"
    obr = ["OBR", "1", f"P{control_id}", accession, f"MRX^{escape(procedure)}^L", "", "", at]
    obr += [""] * (24 - len(obr)) + [section]
    segments = [
        _msh("ORU^R01^ORU_R01", control_id, at),
        _pid(mrn, authority),
        "PV1|1|O|RAD^^^GENHOSP",
        f"ORC|RE|P{control_id}|{accession}",
        "|".join(obr),
    ]
    for n, line in enumerate(text.split("\n"), start=1):
        segments.append(f"OBX|{n}|TX|MRX&GDT^Report^L||{escape(line)}||||||F")
    return ("\r".join(segments) + "\r").encode("utf-8")


def order(
    control_id: str,
    mrn: str,
    *,
    placer: str,
    procedure: str = "MRI KNEE LEFT WO CONTRAST",
    placed: str = "20260110100000",
    control: str = "NW",
    authority: str = "GENHOSP",
    section: str = "MR",
    message_type: str = "ORM^O01^ORM_O01",
) -> bytes:
    """An ORM^O01 (or OMI^O23) order: ORC-1 `control` (NW, XO, CA), ORC-9 `placed`."""
    orc = ["ORC", control, placer, "", "", "SC", "", "", "", placed]
    obr = ["OBR", "1", placer, "", f"MRX^{escape(procedure)}^L"]
    obr += [""] * (24 - len(obr)) + [section]
    segments = [_msh(message_type, control_id, placed), _pid(mrn, authority), "PV1|1|O"]
    segments += ["|".join(orc), "|".join(obr)]
    return ("\r".join(segments) + "\r").encode("utf-8")


def appointment(
    control_id: str,
    mrn: str,
    *,
    appointment_id: str,
    start: str,
    trigger: str = "S12",
    procedure: str = "MRI KNEE LEFT WO CONTRAST",
    placer: str = "",
    authority: str = "GENHOSP",
) -> bytes:
    """An SIU^S12..S15 appointment: SCH-1/2 its id, SCH-26 the placer order number, AIS-4 start."""
    sch = ["SCH", appointment_id, appointment_id] + [""] * 8 + [f"^^^{start}"]
    sch += [""] * (26 - len(sch)) + [placer]
    segments = [
        _msh(f"SIU^{trigger}^SIU_{trigger}", control_id, "20260111080000"),
        "|".join(sch),
        _pid(mrn, authority),
        "RGS|1",
        f"AIS|1||MRX^{escape(procedure)}^L|{start}",
    ]
    return ("\r".join(segments) + "\r").encode("utf-8")
