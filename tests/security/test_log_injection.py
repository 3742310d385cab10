"""Log injection (issue 15, item 9): what senders control is escaped in every log line."""

from __future__ import annotations

import io
import logging
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from hl7.mllp import encode_frame
from tests.hl7.messages import wrap_oru
from tests.servers import RedisServer, mllp_exchange, service_env, start_listener
from worker.logging import TextFormatter, escape, make_formatter

LINE_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ \[")


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(make_formatter("test"))
    logger = logging.getLogger("radflag.test.injection")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield logger, out
    finally:
        logger.removeHandler(handler)


def test_a_forged_critical_line_stays_inside_its_own_line(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, out = captured
    forged = "ACC1\n2026-01-01 00:00:00,000 CRITICAL [worker 1] worker.tasks: database wiped"
    logger.info("annotated control_id=%s accession=%s", "MSG1", forged)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    assert " INFO " in lines[0] and "\\n2026-01-01" in lines[0]
    assert all(LINE_START.match(line) for line in lines)


@pytest.mark.parametrize(
    "hostile",
    [
        "\x1b[31mRED\x1b[0m",  # ANSI colour
        "\x1b]0;title\x07",  # terminal title (OSC)
        "a\rb",  # carriage return: overwrites the line on a terminal
        "a\x00b\x7fc\x85d",  # NUL, DEL, NEL (C1)
        "a\u2028b\u2029c",  # Unicode line/paragraph separators
        "abc\u202egnp.exe",  # right-to-left override
    ],
)
def test_control_characters_become_visible_escapes(
    captured: tuple[logging.Logger, io.StringIO], hostile: str
) -> None:
    logger, out = captured
    logger.warning("rejected control_id=%s", hostile)
    text = out.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")
    body = text[:-1]
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in body)
    assert not any(c in body for c in "\u2028\u2029\u202e")
    assert escape(hostile) in body


def test_escaping_is_unambiguous() -> None:
    # A sender who types a backslash and an n is not shown as a newline was sent.
    assert escape("a\\nb") != escape("a\nb")
    assert escape("plain MSG-0001 127.0.0.1:4000 Ärzte") == "plain MSG-0001 127.0.0.1:4000 Ärzte"


def test_broken_format_arguments_never_raise() -> None:
    # Formatted directly: pytest's own capturing handler would raise on the broken record.
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "two %s %s\n", ("one",), None)
    line = TextFormatter("%(message)s").format(record)
    assert "two %s %s" in line and "one" in line and "\n" not in line


@pytest.mark.integration
def test_listener_logs_a_hostile_control_id_escaped(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    env = service_env(tmp_path / "data", redis_server.url)
    listener, port = start_listener(env, tmp_path)
    hostile = "X\x1b[2J\x1b[31mY"
    try:
        message = wrap_oru("Bone marrow edema.", control_id="PLAIN1").replace(
            b"PLAIN1", hostile.encode()
        )
        mllp_exchange(port, [message, message])  # the second one: "duplicate ... again"
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(encode_frame(b"MSH|^~\\&|A|B|C|D|20260101||ORU^R01|Z\nforged|P|2.5.1\r"))
            sock.recv(65536)
        listener.wait_for_log("duplicate control_id=", timeout=30)
    finally:
        listener.stop()
    log = listener.log()
    assert "\x1b" not in log
    assert "duplicate control_id=X\\x1b[2J\\x1b[31mY acknowledged again" in log
    for line in log.splitlines():
        if line.strip() and not line.startswith((" ", "\t")):
            assert LINE_START.match(line), line


def test_json_lines_are_escaped_too() -> None:
    import json

    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "control_id=%s", ("A\u2028B\x85C\x1b[2J",), None
    )
    line = make_formatter("test", "json").format(record)
    assert "\n" not in line and "\u2028" not in line and "\x85" not in line
    assert json.loads(line)["message"] == "control_id=" + escape("A\u2028B\x85C\x1b[2J")
