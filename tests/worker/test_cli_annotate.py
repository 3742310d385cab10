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
