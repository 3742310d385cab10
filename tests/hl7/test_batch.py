"""hl7.batch: splitting files into messages."""

from __future__ import annotations

from hl7.batch import looks_like_hl7, split_messages
from hl7.extract import extract_report
from hl7.mllp import encode_frame
from tests.hl7.golden import fixture


def test_split_concatenated_framed_and_batched() -> None:
    """Plain, MLLP-framed and FHS/BHS-wrapped messages all split into wire-form messages."""
    knee = fixture("oru_v251_knee_sections.hl7")
    mdm = fixture("mdm_v24_t04_utf8_de.hl7")
    batch = b"FHS|^~\\&\rBHS|^~\\&\r" + knee + mdm.replace(b"\r", b"\n") + b"BTS|2\rFTS|1\r"
    assert split_messages(batch) == [knee, mdm]
    assert split_messages(encode_frame(knee) + b"\r\n" + encode_frame(mdm)) == [knee, mdm]


def test_raw_line_feed_inside_a_value_stays() -> None:
    """An LF that is not followed by a segment name is part of the value."""
    message = b"MSH|^~\\&|A|B|C|D|2026||ORU^R01|1|P|2.5\rOBR|1||A|^MRI\rOBX|1|TX|||line 1\nline 2\r"
    (only,) = split_messages(message)
    assert extract_report(only).text == "line 1\nline 2"


def test_looks_like_hl7() -> None:
    """MSH, FHS or BHS at the start (after framing) is HL7; JSON or text is not."""
    assert looks_like_hl7(b"\x0bMSH|^~\\&|")
    assert looks_like_hl7(b"\r\nFHS|^~\\&")
    assert not looks_like_hl7(b'{"id": "x", "text": "MSH"}')
