"""The full read: one radiology report out of an ORU^R01 or MDM^T02/T04 message.

Strategy: MSH through `parse_header`, the rest through `hl7.segments` (a
positional split, no hl7apy: its full parse costs 10 to 90 ms per report and
refuses much of what real senders do; see bench/hl7.py). The report text is
the text-bearing OBX values (TX, FT, ST, CE/CWE text, and an empty OBX-2) plus
NTE text under an OBR, in message order, each OBX repetition or `\\.br\\`
one line, joined with "\\n" and otherwise kept verbatim: a report wrapped one
line per OBX, as `~` repetitions or as one FT reads back character for
character.

Sections: OBX-3 suffixes `&GDT`, `&IMP`, `&ADT` mark findings, impression and
addendum. Each run of lines under one suffix becomes a ReportSection. The
annotator finds sections by their header lines, so when a run has no header of
its own ("IMPRESSION:" etc.), one is inserted as the run's first line; senders
that write their headers (the usual case) get their text unchanged.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from hl7.errors import NoReportText, ReportTooLong, UnsupportedMessageType
from hl7.header import check_supported, parse_header
from hl7.model import MessageHeader, Report, ReportSection
from hl7.segments import Segment, message_segments
from hl7.text import split_lines

TEXT_TYPES = ("TX", "FT", "ST", "TEXT", "")
CODED_TYPES = ("CE", "CWE")
# Result status: D deletes the OBX, W marks it wrong; neither is report text.
_SKIPPED_STATUSES = ("D", "W")
_SUFFIX_SECTIONS = {"GDT": "findings", "IMP": "impression", "ADT": "addendum"}
_INSERTED_HEADERS = {"findings": "FINDINGS:", "impression": "IMPRESSION:", "addendum": "ADDENDUM:"}
_HEADER_WORDS = {
    "findings": r"findings?|befunde?|report|description",
    "impression": r"impressions?|conclusions?|summary|assessment|opinion|beurteilung",
    "addendum": r"addend(?:um|a)|amendment|nachtrag",
}
# The longest report text radflag takes: spaCy's default `max_length` (the annotator
# cannot read more); a longer one is refused before the ACK.
MAX_REPORT_CHARS = 1_000_000
# A DICOM UID carried as ST (study, series or SR instance UID) is an identifier, not text.
_DICOM_UID = re.compile(r"^[0-9]+(?:\.[0-9]+){3,}$")


@dataclass(frozen=True)
class _Line:
    text: str
    section: str  # "" when the OBX-3 has no suffix (or for NTE lines)


def extract_report(message: bytes) -> Report:
    """Read the report of an ORU^R01 or MDM^T02/T04 message.

    Raises an InboundMessageError: UnsupportedMessageType for other messages and
    for results without report text (a lab panel), NoReportText for a report
    that is only an encapsulated document (ED, e.g. PDF), plus what
    `parse_header` raises.
    """
    header = parse_header(message)
    check_supported(header)
    segments = message_segments(message, header)
    lines = _report_lines(segments)
    if not any(line.text.strip() for line in lines):
        raise _no_text_error(header, segments)
    report_text, sections = _assemble(lines)
    if len(report_text) > MAX_REPORT_CHARS:
        raise ReportTooLong(
            f"report text of {len(report_text):,} characters exceeds the maximum of "
            f"{MAX_REPORT_CHARS:,}"
        )
    return Report(
        header=header,
        patient_id=_patient_id(segments),
        accession=_accession(segments),
        procedure=_procedure(segments),
        text=report_text,
        sections=sections,
        patient_language=_first(segments, "PID").component(15) if _has(segments, "PID") else "",
        order_segments=_order_segments(segments),
        result_status=_result_status(segments),
    )


def screen(message: bytes, header: MessageHeader) -> None:
    """Before the ACK: raise what `extract_report` raises for a message it can never read.

    Cheap for an ordinary report: a message with an OBX of a text type (TX, FT,
    ST, CE, CWE, or none given) and none of an encapsulated one (ED, RP) passes
    on a byte scan.
    Any other message gets the full read (about 0.1 ms), so the listener and the
    worker never disagree about an ED/PDF-only report or a lab panel; so does one
    whose text OBX values look empty, and one long enough that its text could
    exceed MAX_REPORT_CHARS (text is never longer than its message, give or take
    the section headers the read inserts).
    """
    check_supported(header)
    if len(message) < MAX_REPORT_CHARS - _HEADER_ALLOWANCE and _plain_text_report(
        message, header.field_separator
    ):
        return
    extract_report(message)


def _plain_text_report(message: bytes, separator: str) -> bool:
    """An OBX of a text type with a value, and none of an encapsulated type (a byte scan).

    The OBX segments are found with `bytes.find` and each is matched where it
    starts: a regex searched from every byte of the message cost the listener a
    fifth of its CPU.
    """
    text_obx, encapsulated_obx, filled_text_obx = _obx_type_patterns(separator)
    sep = separator.encode("latin-1")
    # No "|ED|" or "|RP|" anywhere: no OBX can be encapsulated, the first filled text OBX decides.
    maybe_encapsulated = sep + b"ED" + sep in message or sep + b"RP" + sep in message
    text = filled = False
    for start in _obx_starts(message, sep):
        if maybe_encapsulated and encapsulated_obx.match(message, start):
            return False
        if not filled and text_obx.match(message, start):
            text = True
            filled = filled_text_obx.match(message, start) is not None
            if filled and not maybe_encapsulated:
                return True
    return text and filled


def _obx_starts(message: bytes, separator: bytes) -> Iterator[int]:
    """Where each OBX segment starts: at the message's start or after CR or LF."""
    if message.startswith(b"OBX" + separator):
        yield 0
    for marker in (b"\rOBX" + separator, b"\nOBX" + separator):
        found = message.find(marker)
        while found != -1:
            yield found + 1
            found = message.find(marker, found + 1)


_HEADER_ALLOWANCE = 1000  # room for the section headers `_assemble` may insert


@functools.cache
def _obx_type_patterns(
    separator: str,
) -> tuple[re.Pattern[bytes], re.Pattern[bytes], re.Pattern[bytes]]:
    """(an OBX of a text type, an OBX of an encapsulated type, a text OBX with a value)."""
    sep = re.escape(separator.encode("latin-1"))
    field = rb"[^\r\n" + sep + rb"]*"
    head = rb"OBX" + sep + field + sep  # matched where a segment starts
    text_type = rb"(?:TX|FT|ST|TEXT|CE|CWE|)" + sep
    # OBX-5 (after OBX-3 and OBX-4) holding something other than blanks and repetition marks.
    filled = field + sep + field + sep + rb"[ ~]*[^ ~\r\n" + sep + rb"]"
    return (
        re.compile(head + text_type),
        re.compile(head + rb"(?:ED|RP)" + sep),
        re.compile(head + text_type + filled),
    )


def _report_lines(segments: list[Segment]) -> list[_Line]:
    lines: list[_Line] = []
    seen_order = False  # NTE before the first OBR/TXA is a patient comment, not the report
    for segment in segments:
        if segment.name in ("OBR", "TXA"):
            seen_order = True
        elif segment.name == "OBX":
            lines.extend(_obx_lines(segment))
        elif segment.name == "NTE" and seen_order:
            lines.extend(_Line(t, "") for t in _text_lines(segment, 3))
    return lines


def _obx_lines(obx: Segment) -> list[_Line]:
    value_type = obx.component(2).upper()
    if obx.component(11).upper() in _SKIPPED_STATUSES:
        return []
    section = _section(obx)
    if value_type in CODED_TYPES:
        texts = [_coded_text(obx, rep) for rep in obx.repetitions(5)]
        return [_Line(t, section) for t in texts if t]
    if value_type not in TEXT_TYPES:
        return []
    texts = _text_lines(obx, 5)
    if len(texts) == 1 and _DICOM_UID.match(texts[0].strip()):
        return []
    return [_Line(t, section) for t in texts]


def _text_lines(segment: Segment, number: int) -> list[str]:
    """A text field's lines: one per repetition, each split again at `\\.br\\` and raw breaks."""
    lines: list[str] = []
    for repetition in segment.repetitions(number):
        lines.extend(split_lines(segment.unescape(repetition)))
    return lines


def _coded_text(obx: Segment, repetition: str) -> str:
    parts = repetition.split(obx.delimiters.component)
    for index in (1, 8):  # CE/CWE-2 text, CWE-9 original text
        if index < len(parts) and parts[index].strip():
            return obx.unescape(parts[index]).strip()
    return ""


def _section(obx: Segment) -> str:
    identifier = obx.field(3).split(obx.delimiters.component, 1)[0]
    for part in identifier.split(obx.delimiters.subcomponent)[1:]:
        name = _SUFFIX_SECTIONS.get(part.strip().upper())
        if name:
            return name
    return ""


def _assemble(lines: list[_Line]) -> tuple[str, tuple[ReportSection, ...]]:
    runs: list[tuple[str, list[str]]] = []
    for line in lines:
        if runs and runs[-1][0] == line.section:
            runs[-1][1].append(line.text)
        else:
            runs.append((line.section, [line.text]))
    if not any(section for section, _ in runs):
        return "\n".join(line.text for line in lines), ()
    parts: list[str] = []
    sections: list[ReportSection] = []
    offset = 0
    for name, run in runs:
        if name and not _has_header(name, run):
            run = [_INSERTED_HEADERS[name], *run]
        chunk = "\n".join(run)
        sections.append(ReportSection(name=name, start=offset, end=offset + len(chunk)))
        parts.append(chunk)
        offset += len(chunk) + 1
    return "\n".join(parts), tuple(sections)


def _has_header(section: str, lines: list[str]) -> bool:
    # "IMPRESSION:" or "Impression" alone on its line; "Findings are ..." is prose.
    header = re.compile(rf"^\s*(?:{_HEADER_WORDS[section]})\s*(?::|$)", re.IGNORECASE)
    return any(header.match(line) for line in lines)


def _no_text_error(header: MessageHeader, segments: list[Segment]) -> Exception:
    kind = f"{header.message_type}^{header.trigger_event}".rstrip("^")
    types = sorted({s.component(2).upper() or "(empty)" for s in segments if s.name == "OBX"})
    if "ED" in types or "RP" in types:
        return NoReportText(
            f"{kind} carries the report only as an encapsulated document or reference "
            f"(OBX types {', '.join(types)}), no report text to read"
        )
    if types and set(types) <= {*TEXT_TYPES, *CODED_TYPES, "(empty)"}:
        return NoReportText(f"{kind} has report text segments, but they are all empty")
    if types:
        return UnsupportedMessageType(
            f"{kind} is not a report: its OBX values are {', '.join(types)} "
            "(e.g. a lab panel), no report text to read"
        )
    return NoReportText(f"{kind} has no OBX or NTE report text")


def _has(segments: list[Segment], name: str) -> bool:
    return any(s.name == name for s in segments)


def _first(segments: list[Segment], name: str) -> Segment:
    return next(s for s in segments if s.name == name)


def _patient_id(segments: list[Segment]) -> str:
    if not _has(segments, "PID"):
        return ""
    pid = _first(segments, "PID")
    return pid.component(3) or pid.component(2) or pid.component(4)


def _accession(segments: list[Segment]) -> str:
    for name, number in (("OBR", 3), ("OBR", 18), ("TXA", 12)):
        if _has(segments, name):
            value = _first(segments, name).component(number)
            if value:
                return value
    return ""


def _procedure(segments: list[Segment]) -> str | None:
    if not _has(segments, "OBR"):
        return None
    obr = _first(segments, "OBR")
    # OBR-4 text, else its alternate text; a bare code says nothing about laterality.
    return obr.component(4, 2) or obr.component(4, 5) or None


# TXA-17 document completion status (table 0271) as a result status (table 0123).
_DOCUMENT_STATUS = {"AU": "F", "LA": "F", "DI": "P", "DO": "P", "IP": "P", "IN": "P", "PA": "P"}


def _result_status(segments: list[Segment]) -> str:
    """OBR-25 of the first OBR, else the MDM's TXA-17 as a result status; "" if neither."""
    if _has(segments, "OBR"):
        return _first(segments, "OBR").component(25).strip().upper()
    if _has(segments, "TXA"):
        return _DOCUMENT_STATUS.get(_first(segments, "TXA").component(17).strip().upper(), "")
    return ""


def _order_segments(segments: list[Segment]) -> tuple[str, ...]:
    """First PID and PV1, then the first OBR with the ORC before it, as received."""
    chosen: list[str] = []
    for name in ("PID", "PV1"):
        if _has(segments, name):
            chosen.append(_first(segments, name).raw)
    orc: Segment | None = None
    for segment in segments:
        if segment.name == "ORC":
            orc = segment
        elif segment.name == "OBR":
            chosen.extend([orc.raw, segment.raw] if orc is not None else [segment.raw])
            break
    else:
        if orc is not None:
            chosen.append(orc.raw)
    return tuple(chosen)
