"""`radflag annotate`: .txt and .jsonl in, one contract JSON object per report out, exit 2 on bad input."""  # noqa: E501

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import FIXTURES
from worker.cli import main

REPORTS = FIXTURES / "reports"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["annotate", *args])
    return result.exit_code, result.stdout, result.stderr


def test_txt_report_id_is_the_file_stem() -> None:
    """A .txt report gives one compact JSON line with the file stem as id."""
    code, out, _ = run(str(REPORTS / "knee-left.txt"))
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 1
    obj = json.loads(lines[0])
    assert obj["id"] == "knee-left" and obj["bme"] == "present"
    assert obj["sites"] == [{"bone": "lateral_femoral_condyle", "laterality": "left"}]


def test_jsonl_gives_one_object_per_report_in_order() -> None:
    """Each JSON line (blank lines skipped) gives one object, procedure used for laterality."""
    code, out, _ = run(str(REPORTS / "reports.jsonl"))
    assert code == 0
    objs = [json.loads(line) for line in out.splitlines()]
    assert [o["id"] for o in objs] == ["fx-1", "fx-2", "fx-3"]
    assert [o["bme"] for o in objs] == ["absent", "possible", "present"]
    assert objs[1]["sites"] == [{"bone": "navicular", "laterality": "left"}]
    assert objs[2]["etiology"] == ["overload"]


def test_several_paths_and_pretty() -> None:
    """--pretty indents; several paths are read in order."""
    code, out, _ = run("--pretty", str(REPORTS / "knee-left.txt"), str(REPORTS / "reports.jsonl"))
    assert code == 0
    assert out.startswith('{\n  "id": "knee-left"')
    decoder = json.JSONDecoder()
    ids, pos = [], 0
    while pos < len(out.rstrip()):
        obj, pos = decoder.raw_decode(out, pos)
        ids.append(obj["id"])
        while pos < len(out) and out[pos].isspace():
            pos += 1
    assert ids == ["knee-left", "fx-1", "fx-2", "fx-3"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("missing.txt", "missing.txt: no such file"),
        ("missing.jsonl", "missing.jsonl: no such file"),
        ("bad-line.jsonl", "bad-line.jsonl:2: not JSON"),
        ("report.pdf", "report.pdf: unsupported file type"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(name: str, message: str) -> None:
    """A missing file, a bad JSON line or an unknown suffix: one line naming file (and line), exit 2."""  # noqa: E501
    code, _, err = run(str(REPORTS / name))
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "line",
    [
        '["a list"]',
        '{"id": 1, "text": "x"}',
        '{"id": "a"}',
        '{"id": "a", "text": "x", "procedure": 3}',
    ],
)
def test_jsonl_line_without_id_and_text_is_rejected(tmp_path: Path, line: str) -> None:
    """A JSON line that is not {"id": str, "text": str, "procedure"?: str} is an error with its line."""  # noqa: E501
    path = tmp_path / "in.jsonl"
    path.write_text('{"id": "a", "text": "x"}\n' + line + "\n", encoding="utf-8")
    code, _, err = run(str(path))
    assert code == 2
    assert f"{path}:2:" in err


def test_unreadable_file_is_exit_2(tmp_path: Path) -> None:
    """A file that is not UTF-8 text is an error naming the file."""
    path = tmp_path / "latin.txt"
    path.write_bytes(b"Knochenmark\xf6dem\xff\xfe")
    code, _, err = run(str(path))
    assert code == 2 and "latin.txt: cannot read" in err


def test_unknown_language_is_exit_2() -> None:
    """A language without rule files is a one-line error and exit 2."""
    code, _, err = run("--language", "xx", str(REPORTS / "knee-left.txt"))
    assert code == 2
    assert "unknown language 'xx'; supported: de, en" in err and len(err.splitlines()) == 1


def run_stdin(data: bytes, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["annotate", *args, "-"], input=data)
    return result.exit_code, result.stdout, result.stderr


def test_stdin_plain_text_is_one_report_with_id_stdin() -> None:
    """`-` reads standard input; text that is neither HL7 nor JSON is one report."""
    text = (REPORTS / "knee-left.txt").read_bytes()
    code, out, _ = run_stdin(text)
    assert code == 0
    (obj,) = [json.loads(line) for line in out.splitlines()]
    assert obj["id"] == "stdin"
    assert obj["sites"] == [{"bone": "lateral_femoral_condyle", "laterality": "left"}]


def test_stdin_json_lines_read_as_a_jsonl_file() -> None:
    """JSON Lines on standard input give the same objects as the file."""
    data = (REPORTS / "reports.jsonl").read_bytes()
    code, out, _ = run_stdin(data)
    assert code == 0
    assert out == run(str(REPORTS / "reports.jsonl"))[1]


def test_stdin_hl7_messages_read_as_an_hl7_file(tmp_path: Path) -> None:
    """HL7 on standard input (MLLP-framed too) gives what the .hl7 file gives: MSH-10 as id."""
    report = (REPORTS / "knee-left.txt").read_text(encoding="utf-8").strip().replace("\n", " ")
    message = (
        "MSH|^~\\&|RIS|GENHOSP|RADFLAG|GENHOSP|20260301120000||ORU^R01|CTRL77|P|2.5.1\r"
        "PID|1||MRN0001^^^GENHOSP^MR||Test^Synthetic\r"
        "OBR|1||ACC77|MRKNEE^MRI knee\r"
        f"OBX|1|TX|IMP^Impression||{report}||||||F\r"
    ).encode()
    path = tmp_path / "one.hl7"
    path.write_bytes(message)
    code, out, _ = run_stdin(b"\x0b" + message + b"\x1c\r")
    assert code == 0
    assert json.loads(out)["id"] == "CTRL77"
    assert out == run(str(path))[1]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"id": "a"}\n', "-:1: needs string fields id and text"),
        (b"MSH|^\r", "-: message 1: not annotated"),
        (b"Knochenmark\xf6dem\xff", "-: cannot read"),
    ],
)
def test_bad_stdin_is_one_line_and_exit_2(data: bytes, message: str) -> None:
    """Bad input on standard input is named `-`, one line, exit 2."""
    code, _, err = run_stdin(data)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1


def test_stdin_given_twice_is_exit_2() -> None:
    """Standard input can be read once: `- -` is refused, not annotated as nothing."""
    code, _, err = run_stdin(b"text", "-")
    assert code == 2 and "can be given once" in err
