"""backfill.inputs and backfill.items: what a backfill reads, its keys, messages built from JSON."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hl7apy.parser import parse_message

from backfill.inputs import InputError, count_items, input_files, read_items
from backfill.items import KEY_PREFIX
from hl7.extract import extract_report
from hl7.header import parse_header
from hl7.mllp import encode_frame
from tests.conftest import FIXTURES
from tests.hl7.messages import wrap_oru
from tests.hl7.result_validation import validate_result

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KNEE = FIXTURES / "hl7" / "oru_v251_knee_sections.hl7"


def _items(*paths: Path, at: datetime = NOW) -> list:
    return list(read_items(input_files(paths), timestamp=at))


def _jsonl(path: Path, *objects: object) -> Path:
    path.write_text("".join(json.dumps(o) + "\n" for o in objects), encoding="utf-8")
    return path


def test_hl7_files_framed_plain_lf_and_a_directory(tmp_path: Path) -> None:
    one = wrap_oru("FINDINGS: Bone marrow edema.", control_id="C1", accession="A1")
    two = wrap_oru("FINDINGS: No edema.", control_id="C2", accession="A2")
    archive = tmp_path / "archive" / "2019"
    archive.mkdir(parents=True)
    (archive / "framed.hl7").write_bytes(encode_frame(one) + encode_frame(two))
    (archive / "lf.HL7").write_bytes(
        one.replace(b"\r", b"\n") + b"\n\n" + two.replace(b"\r", b"\n")
    )
    (archive / "README.md").write_text("not read")
    items = _items(tmp_path / "archive")
    assert [i.control_id for i in items] == ["C1", "C2", "C1", "C2"]
    assert count_items(input_files([tmp_path / "archive"])) == 4
    sources = [i.source.split("/")[-1] for i in items]
    assert sources == [
        "framed.hl7: message 1", "framed.hl7: message 2", "lf.HL7: message 1", "lf.HL7: message 2",
    ]  # fmt: skip
    # The same message framed or with LF segment ends: the same wire form, the same key.
    assert items[0].dedupe_key == items[2].dedupe_key != items[1].dedupe_key
    assert items[0].raw == one and items[3].raw == two
    assert all(i.dedupe_key.startswith(KEY_PREFIX) for i in items)


def test_keys_do_not_depend_on_the_file_name_or_place(tmp_path: Path) -> None:
    copy = tmp_path / "elsewhere" / "renamed.hl7"
    copy.parent.mkdir()
    shutil.copy(KNEE, copy)
    (first,), (second,) = _items(KNEE), _items(copy)
    assert first.dedupe_key == second.dedupe_key and first.source != second.source


def test_a_file_named_twice_is_read_once(tmp_path: Path) -> None:
    assert len(_items(KNEE, KNEE, KNEE.parent / KNEE.name)) == 1


def test_jsonl_items_become_oru_messages_the_service_reads(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path / "r.jsonl",
        {"id": "rep-1", "text": "MRI LEFT KNEE\nFINDINGS: Bone marrow edema | medial.\n",
         "procedure": "MRI knee left", "language": "en", "patient_id": "P77", "labels": {"x": 1},
         "patient_name": "Testperson^Kim"},
        {"id": "rep-2", "text": "Kein Knochenmarködem.", "accession": "ACC-9"},
    )  # fmt: skip
    first, second = _items(path)
    assert first.source.endswith("r.jsonl:1") and second.source.endswith("r.jsonl:2")
    report = extract_report(first.raw)
    assert report.accession == "rep-1" and report.procedure == "MRI knee left"
    assert report.text == "MRI LEFT KNEE\nFINDINGS: Bone marrow edema | medial.\n"
    assert report.header.language == "en" and report.control_id == first.control_id
    assert len(first.control_id) == 20
    parsed = parse_message(first.raw.decode("utf-8"), find_groups=False)
    assert parsed.msh.msh_9.value == "ORU^R01^ORU_R01" and parsed.msh.msh_12.value == "2.5.1"
    assert parsed.pid.pid_3.value.startswith("P77^") and parsed.pid.pid_5.value == "Testperson^Kim"
    for item in (first, second):  # a valid ORU^R01 v2.5.1 (PID-3 and PID-5 required: "" if none)
        validate_result(item.raw)
    assert parsed.obr.obr_24.value == "MR" and parsed.obr.obr_25.value == "F"
    other = extract_report(second.raw)
    assert other.accession == "ACC-9" and other.text == "Kein Knochenmarködem."
    assert other.patient_id == "" and "ö".encode() in second.raw


def test_jsonl_keys_are_stable_across_runs_and_follow_the_content(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "r.jsonl", {"id": "rep-1", "text": "Edema."})
    (today,), (tomorrow,) = _items(path), _items(path, at=NOW + timedelta(days=1))
    assert today.dedupe_key == tomorrow.dedupe_key and today.control_id == tomorrow.control_id
    assert today.raw != tomorrow.raw  # MSH-7 is the run's time
    _jsonl(path, {"id": "rep-1", "text": "Edema!"})
    (changed,) = _items(path)
    assert changed.dedupe_key != today.dedupe_key


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "r.jsonl:2: not JSON"),
        ("[1, 2]", "r.jsonl:2: expected an object"),
        ('{"id": "x"}', "r.jsonl:2: needs string fields id and text"),
        ('{"id": 5, "text": "t"}', "r.jsonl:2: needs string fields id and text"),
        ('{"id": " ", "text": "t"}', "r.jsonl:2: id is empty"),
        ('{"id": "x", "text": "t", "procedure": 3}', "r.jsonl:2: procedure must be a string"),
    ],
)
def test_bad_jsonl_names_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('{"id": "ok", "text": "fine"}\n' + line + "\n", encoding="utf-8")
    items = read_items([path], timestamp=NOW)
    assert next(items).control_id  # read line by line: the first item comes before the error
    with pytest.raises(InputError) as caught:
        next(items)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    with pytest.raises(InputError, match=message.split(": ", 1)[1]):
        count_items([path])  # the first pass checks as much as the reading does


def test_bad_hl7_and_paths(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or directory"):
        input_files([tmp_path / "missing.hl7"])
    with pytest.raises(InputError, match="unsupported file type"):
        input_files([FIXTURES / "hl7" / "not_hl7.txt"])
    not_hl7 = tmp_path / "web.hl7"
    shutil.copy(FIXTURES / "hl7" / "not_hl7.txt", not_hl7)
    with pytest.raises(InputError, match=r"web.hl7: no HL7 message"):
        _items(not_hl7)
    broken = tmp_path / "two.hl7"
    broken.write_bytes(
        wrap_oru("x") + (FIXTURES / "hl7" / "oru_v23_missing_control_id.hl7").read_bytes()
    )
    with pytest.raises(InputError, match=r"two.hl7: message 2: unreadable MSH \(HL7 error"):
        _items(broken)
    with pytest.raises(InputError, match=r"two.hl7: message 2: unreadable MSH"):
        count_items([broken])
    assert parse_header(wrap_oru("x")).control_id  # the first one was fine
