"""One report of a backfill: the HL7 message it is processed as, and keys stable across runs.

The dedupe key is a hash of what kind of input the report came from and its
content (the message bytes in wire form, or a JSON Lines item's fields), not of
the file's name: the same archive read again (resumed, repeated, moved or
copied elsewhere) gives the same keys, so the store recognises what it already
has. The key is the store's unique key of the message (`backfill:` + 40 hex
digits), beside the listener's MSH-3|MSH-4|MSH-10 keys.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hl7.report_message import TextReport, build_report_message

KEY_PREFIX = "backfill:"
JSON_FIELDS = ("id", "text", "procedure", "language", "accession", "patient_id", "patient_name")
OPTIONAL_FIELDS = JSON_FIELDS[2:]


@dataclass(frozen=True)
class Item:
    """A report to process: where it came from (file and line or message), key, message."""

    source: str
    dedupe_key: str
    control_id: str
    raw: bytes


def content_key(kind: str, content: bytes) -> str:
    digest = hashlib.sha256(kind.encode("ascii") + b"\0" + content).hexdigest()
    return KEY_PREFIX + digest[:40]


def hl7_item(source: str, message: bytes, control_id: str) -> Item:
    """A message read from an HL7 file (CR segment ends), line ends left at segment ends dropped.

    A file with LF segment ends leaves an LF at the end of its last segment
    (hl7.batch.split_messages keeps an LF that no segment name follows): without
    it, the message and its key are the same as from a CR or MLLP-framed file.
    """
    segments = (segment.rstrip(b"\r\n") for segment in message.split(b"\r"))
    wire = b"".join(segment + b"\r" for segment in segments if segment.strip())
    return Item(source, content_key("hl7", wire), control_id, wire)


def json_item(source: str, fields: dict[str, Any], *, timestamp: datetime) -> Item:
    """A JSON Lines report (checked by `backfill.inputs`) as an ORU^R01 built around its text.

    The accession is the item's `accession`, else its `id`; the MSH-10 is derived
    from the key (20 characters), so the same item always gets the same one.
    """
    chosen = {name: fields[name] for name in JSON_FIELDS if fields.get(name) is not None}
    key = content_key("jsonl", json.dumps(chosen, sort_keys=True, ensure_ascii=False).encode())
    control_id = "BF" + key[len(KEY_PREFIX) :][:18].upper()
    report = TextReport(
        text=chosen["text"],
        accession=chosen.get("accession") or chosen["id"],
        control_id=control_id,
        procedure=chosen.get("procedure"),
        language=chosen.get("language"),
        patient_id=chosen.get("patient_id"),
        patient_name=chosen.get("patient_name"),
    )
    return Item(source, key, control_id, build_report_message(report, timestamp=timestamp))
