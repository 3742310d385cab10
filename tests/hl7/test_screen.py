"""hl7.extract.screen: the listener's check before its ACK agrees with the full read."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hl7.errors import InboundMessageError
from hl7.extract import extract_report, screen
from hl7.header import parse_header
from tests.conftest import FIXTURES, SHARED
from tests.hl7.messages import wrap_mdm, wrap_oru

OWN = sorted((FIXTURES / "hl7").glob("*.hl7"))
PUBLIC = sorted((SHARED / "samples" / "hl7" / "public").glob("*.hl7"))
TEXT = "FINDINGS:\nBone marrow edema in the talus.\nIMPRESSION:\nTalar bone marrow edema."


def _outcome(action: Callable[[bytes], object], message: bytes) -> tuple[str, int] | None:
    try:
        action(message)
    except InboundMessageError as e:
        return type(e).__name__, e.hl7_error_code
    return None


def _screen(message: bytes) -> None:
    screen(message, parse_header(message))


def _assert_agrees(message: bytes) -> None:
    try:
        parse_header(message)
    except InboundMessageError:
        return  # the listener answers these before screening
    assert _outcome(_screen, message) == _outcome(extract_report, message)


@pytest.mark.parametrize("path", OWN, ids=[p.name for p in OWN])
def test_screen_agrees_with_extract_on_fixtures(path: Path) -> None:
    """Every own fixture: screen refuses exactly what extract_report refuses, with its code."""
    _assert_agrees(path.read_bytes())


@pytest.mark.shared
@pytest.mark.parametrize("path", PUBLIC, ids=[p.name for p in PUBLIC])
def test_screen_agrees_with_extract_on_public_samples(path: Path) -> None:
    """Every public sample: the same outcome from screen as from the full read."""
    _assert_agrees(path.read_bytes())


@pytest.mark.parametrize("style", ["lines", "ft", "repetitions"])
def test_ordinary_reports_pass_without_the_full_read(
    style: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ORU with text OBX, or an MDM, passes on the byte scan alone."""
    import hl7.extract

    def no_full_read(message: bytes) -> None:
        raise AssertionError("full read")

    monkeypatch.setattr(hl7.extract, "extract_report", no_full_read)
    for message in (wrap_oru(TEXT, "MRI ANKLE LEFT", style), wrap_mdm(TEXT)):
        screen(message, parse_header(message))


def test_other_field_separator() -> None:
    """The scan follows MSH-1: a message written with '#' as field separator passes too."""
    message = wrap_oru(TEXT, "MRI ANKLE LEFT").replace(b"|", b"#")
    assert _outcome(_screen, message) is None
    assert extract_report(message).text == TEXT


EMPTY_TEXT_OBX = (
    "OBX|1|TX|RPT^Report^L||||||||F",
    "OBX|1|TX|RPT^Report^L||~ ~||||||F",
    "OBX|1|FT|RPT^Report^L|1|   ||||||F",
)


@pytest.mark.parametrize("obx", EMPTY_TEXT_OBX)
def test_an_oru_whose_only_text_obx_is_empty_is_refused_before_the_ack(obx: str) -> None:
    """Before: it passed the byte scan, got AA, and was dead-lettered later."""
    full = wrap_oru(TEXT, "MRI ANKLE LEFT")
    head = full.split(b"\rOBX|")[0]
    message = head + b"\r" + obx.encode() + b"\r"
    assert _outcome(_screen, message) == ("NoReportText", 200)
    with pytest.raises(InboundMessageError, match="all empty"):
        extract_report(message)


def test_a_report_text_over_the_annotators_limit_is_refused_before_the_ack() -> None:
    """spaCy's max_length is 1,000,000 characters; the sender learns it at once (AR)."""
    from hl7.extract import MAX_REPORT_CHARS

    line = "Bone marrow edema in the talus. " * 31 + "\n"  # ~1 kB per OBX line
    lines = MAX_REPORT_CHARS // len(line) + 1
    too_long = wrap_oru(line * lines, "MRI ANKLE LEFT")
    assert _outcome(_screen, too_long) == ("ReportTooLong", 207)
    fits = wrap_oru(line * (lines - 2), "MRI ANKLE LEFT")
    assert len(fits) > MAX_REPORT_CHARS  # the full read decides, and lets it through
    assert _outcome(_screen, fits) is None
    assert len(extract_report(fits).text) <= MAX_REPORT_CHARS
