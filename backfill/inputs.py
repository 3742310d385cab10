"""The reports in the PATHs of `radflag backfill`: HL7 files, directories of them, JSON Lines.

- `.hl7`: one or more messages, MLLP-framed or plain segments separated by CR
  or LF, FHS/BHS batches (hl7.batch.split_messages); each message must have a
  readable MSH (its MSH-10 names it in logs); what else it holds is the
  annotating worker's concern (an ADT, an ORU without text: counted as
  unprocessable with the reason, not a stop).
- `.jsonl`: one object per line, `id` and `text` strings, optionally
  `procedure`, `language` (a hint), `accession` (default: the id),
  `patient_id` and `patient_name` (`FAMILY^GIVEN`), all strings; other keys
  (gold labels, say) are ignored. Read line by line, so a file of a million
  reports is never held at once.
- a directory: its `.hl7` and `.jsonl` files, recursively, in name order (other
  files there are left alone); a file named explicitly must have one of those
  suffixes.

Input that cannot be read raises InputError naming the file and line (or
message number): `radflag backfill` reads everything once before it submits
anything, so a bad line stops it with one line and exit status 2, with nothing
half-done.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from backfill.items import OPTIONAL_FIELDS, Item, hl7_item, json_item
from hl7.batch import split_messages
from hl7.errors import InboundMessageError
from hl7.header import parse_header

SUFFIXES = (".hl7", ".jsonl")


class InputError(Exception):
    """A PATH cannot be read as reports; the message names the file (and line)."""


def input_files(paths: Iterable[Path]) -> list[Path]:
    """The files to read, in a stable order (directories expanded recursively)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in SUFFIXES)
            files.extend(p for p in found if p.is_file())
        elif not path.exists():
            raise InputError(f"{path}: no such file or directory")
        elif path.suffix.lower() not in SUFFIXES:
            raise InputError(
                f"{path}: unsupported file type (expected .hl7, .jsonl or a directory)"
            )
        else:
            files.append(path)
    return list(dict.fromkeys(files))  # a file named twice is read once


def read_items(files: Iterable[Path], *, timestamp: datetime) -> Iterator[Item]:
    """Every report of `files`, in order; `timestamp` is MSH-7 of messages built from JSON."""
    for path in files:
        if path.suffix.lower() == ".jsonl":
            for source, fields in _jsonl_records(path):
                yield json_item(source, fields, timestamp=timestamp)
        else:
            for source, message, control_id in _hl7_records(path):
                yield hl7_item(source, message, control_id)


def count_items(files: Iterable[Path]) -> int:
    """How many reports `files` hold, every one checked as `read_items` checks it.

    Cheaper than `read_items` (no message built, nothing hashed): the command's
    first pass over the input, before anything is submitted.
    """
    count = 0
    for path in files:
        records = _jsonl_records(path) if path.suffix.lower() == ".jsonl" else _hl7_records(path)
        count += sum(1 for _ in records)
    return count


def _hl7_records(path: Path) -> Iterator[tuple[str, bytes, str]]:
    """(source, message, MSH-10) of each message of an HL7 file."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(f"{path}: cannot read ({type(e).__name__}: {e.strerror})") from e
    messages = split_messages(data)
    if not messages and data.strip():
        raise InputError(f"{path}: no HL7 message (no MSH segment)")
    for number, message in enumerate(messages, 1):
        source = f"{path}: message {number}"
        try:
            control_id = parse_header(message).control_id
        except InboundMessageError as e:
            raise InputError(f"{source}: unreadable MSH (HL7 error {e.hl7_error_code}: {e})") from e
        yield source, message, control_id


def _jsonl_records(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(source, checked fields) of each non-blank line of a JSON Lines file."""
    try:
        with path.open("rb") as lines:
            for number, line in enumerate(lines, 1):
                if line.strip():
                    yield f"{path}:{number}", _fields(path, number, line)
    except OSError as e:
        raise InputError(f"{path}: cannot read ({type(e).__name__}: {e.strerror})") from e


def _fields(path: Path, number: int, line: bytes) -> dict[str, Any]:
    where = f"{path}:{number}"
    try:
        obj = json.loads(line)
    except UnicodeDecodeError as e:
        raise InputError(f"{where}: not UTF-8 ({e.reason})") from e
    except json.JSONDecodeError as e:
        raise InputError(f"{where}: not JSON ({e.msg})") from e
    if not isinstance(obj, dict):
        raise InputError(f"{where}: expected an object with id and text")
    if not isinstance(obj.get("id"), str) or not isinstance(obj.get("text"), str):
        raise InputError(f"{where}: needs string fields id and text")
    if not obj["id"].strip():
        raise InputError(f"{where}: id is empty")
    for name in OPTIONAL_FIELDS:
        if obj.get(name) is not None and not isinstance(obj[name], str):
            raise InputError(f"{where}: {name} must be a string")
    return obj
