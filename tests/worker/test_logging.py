"""worker.logging: text and JSON lines, stray output put in format, the rotating log file."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from worker.logging import LogFile, OutputLines, make_formatter


def _record(message: str) -> logging.LogRecord:
    return logging.LogRecord("worker.listener", logging.WARNING, "", 0, message, None, None)


def test_json_lines_carry_component_and_level() -> None:
    """A JSON line parses, with the component, level, logger and message."""
    line = json.loads(make_formatter("listen", "json").format(_record("rejected control_id=1")))
    assert line["component"] == "listen" and line["level"] == "WARNING"
    assert line["logger"] == "worker.listener" and line["message"] == "rejected control_id=1"


def test_text_continuation_lines_are_indented() -> None:
    """A message's newline is escaped (issue 15, item 9: no forged lines); a traceback's
    lines are indented under the record's one head line."""
    text = make_formatter("web", "text").format(_record("first\nsecond"))
    assert "\n" not in text and text.endswith("first\\nsecond")
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = _record("failed")
        record.exc_info = sys.exc_info()
    head, *rest = make_formatter("web", "text").format(record).split("\n")
    assert " WARNING [web " in head and rest and all(line.startswith("  ") for line in rest)


def test_stray_output_is_put_in_format() -> None:
    """A print from a child becomes a record of its component; its own log lines pass."""
    wrap = OutputLines("worker", 1234, "json")
    stray = json.loads(wrap("worker: Warm shutdown (MainProcess)"))
    assert stray["component"] == "worker" and stray["pid"] == 1234
    formatted = make_formatter("worker", "json").format(_record("x"))
    assert wrap(formatted) == formatted


def test_log_file_rotates_and_keeps_backups(tmp_path: Path) -> None:
    """Past max_bytes the file rotates; only `backups` old files are kept."""
    log_file = LogFile(tmp_path / "logs" / "radflag.log", max_bytes=300, backups=2)
    for n in range(100):
        log_file.write(f"line {n:03d} " + "x" * 20)
    log_file.close()
    names = sorted(p.name for p in (tmp_path / "logs").iterdir())
    assert names == ["radflag.log", "radflag.log.1", "radflag.log.2"]
    assert (tmp_path / "logs" / "radflag.log").read_text().splitlines()[-1].startswith("line 099")
    assert all(p.stat().st_size <= 300 for p in (tmp_path / "logs").iterdir())


def test_escape_changes_only_what_the_table_names() -> None:
    """`escape` skips the table for a printable line without a backslash: that is exact
    only while every other character the table names is not printable."""
    from worker.logging import _ESCAPES, escape

    assert {chr(code) for code in _ESCAPES if chr(code).isprintable()} == {"\\"}
    for code in range(0x3000):
        text = f"control_id=A{chr(code)}B"
        assert escape(text) == text.translate(_ESCAPES), hex(code)


def test_text_time_is_the_standard_formatters() -> None:
    """The time text made once per second reads as `logging.Formatter.formatTime`'s,
    within a second, across seconds and back."""
    import logging

    from worker.logging import make_formatter

    ours, standard = make_formatter("test"), logging.Formatter()
    for created in (1_700_000_000.001, 1_700_000_000.999, 1_700_000_001.5, 1_600_000_000.25):
        record = logging.LogRecord("t", logging.INFO, "", 0, "m", None, None)
        record.created, record.msecs = created, int((created - int(created)) * 1000) + 0.0
        assert ours.formatTime(record) == standard.formatTime(record)
        assert ours.formatTime(record, "%H") == standard.formatTime(record, "%H")
