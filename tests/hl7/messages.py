"""Wrap plain report text as HL7 messages, the ways senders do (for tests; others may import).

`wrap_oru` styles:
- "lines": one TX OBX per line;
- "ft": one FT OBX, lines joined with `\\.br\\`;
- "repetitions": one TX OBX, lines as `~` repetitions;
- "sections": one TX OBX per line with OBX-3 suffixes `&GDT` (up to the
  impression header), `&IMP` (from it) and `&ADT` (from an addendum header).
"""

from __future__ import annotations

import re

from hl7.text import escape

STYLES = ("lines", "ft", "repetitions", "sections")
_IMPRESSION = re.compile(r"^\s*(impression|conclusion|beurteilung)\b", re.IGNORECASE)
_ADDENDUM = re.compile(r"^\s*(addendum|nachtrag)\b", re.IGNORECASE)


def _msh(message_type: str, control_id: str, version: str, extra: str = "") -> str:
    return (
        f"MSH|^~\\&|RIS|GENHOSP|RADFLAG|GENHOSP|20260101120000||{message_type}|"
        f"{escape(control_id)}|P|{version}{extra}"
    )


_PID = "PID|1||MRN0001^^^GENHOSP^MR||Testpatient^Alex||19700101|U"
_PV1 = "PV1|1|O|RAD^^^GENHOSP"


def _lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _obx(set_id: int, value_type: str, identifier: str, value: str) -> str:
    return f"OBX|{set_id}|{value_type}|{identifier}||{value}||||||F"


def _sectioned(lines: list[str]) -> list[tuple[str, str]]:
    suffix, out = "GDT", []
    for line in lines:
        if _IMPRESSION.match(line):
            suffix = "IMP"
        elif _ADDENDUM.match(line):
            suffix = "ADT"
        out.append((suffix, line))
    return out


def report_obx(text: str, style: str) -> list[str]:
    """The OBX segments holding `text` in a given style."""
    lines = _lines(text)
    if style == "lines":
        return [_obx(i, "TX", "RPT^Report^L", escape(line)) for i, line in enumerate(lines, 1)]
    if style == "ft":
        return [_obx(1, "FT", "RPT^Report^L", "\\.br\\".join(escape(line) for line in lines))]
    if style == "repetitions":
        return [_obx(1, "TX", "RPT^Report^L", "~".join(escape(line) for line in lines))]
    if style == "sections":
        return [
            _obx(i, "TX", f"RPT&{suffix}^Report^L", escape(line))
            for i, (suffix, line) in enumerate(_sectioned(lines), 1)
        ]
    raise ValueError(f"style must be one of {STYLES}, got {style!r}")


def wrap_oru(
    text: str,
    procedure: str | None = None,
    style: str = "lines",
    control_id: str = "MSG00001",
    *,
    version: str = "2.5.1",
    accession: str = "ACC0001",
) -> bytes:
    """An ORU^R01 whose report is `text` and whose OBR-4 text is `procedure`."""
    obr4 = "MRPROC" if procedure is None else f"MRPROC^{escape(procedure)}^L"
    segments = [
        _msh("ORU^R01^ORU_R01", control_id, version),
        _PID,
        _PV1,
        f"ORC|RE|ORD0001|{escape(accession)}",
        f"OBR|1|ORD0001|{escape(accession)}|{obr4}|||20260101110000|||||||||||||||||MR|F",
        *report_obx(text, style),
    ]
    return ("\r".join(segments) + "\r").encode("utf-8")


def wrap_mdm(
    text: str,
    control_id: str = "MSG00002",
    *,
    version: str = "2.5.1",
    document_number: str = "DOC0001",
) -> bytes:
    """An MDM^T02 (TXA, then one TX OBX per line, no OBR) whose report is `text`."""
    segments = [
        _msh("MDM^T02^MDM_T02", control_id, version, "||||||UNICODE UTF-8"),
        "EVN|T02|20260101120000",
        _PID,
        _PV1,
        f"TXA|1|RAD|TX|20260101120000||||||||{escape(document_number)}||||||AU",
        *report_obx(text, "lines"),
    ]
    return ("\r".join(segments) + "\r").encode("utf-8")
