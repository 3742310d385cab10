"""hl7.text: character sets and escape sequences."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hl7.text import Delimiters, codec_for, decode_message, encode_message, escape, unescape


@pytest.mark.parametrize(
    ("declared", "codec"),
    [
        ("8859/1", "iso-8859-1"),
        ("UNICODE UTF-8", "utf-8"),
        ("ASCII", "ascii"),
        ("ISO IR192", "utf-8"),
        ("unicode utf-8", "utf-8"),
        ("", None),
        ("KLINGON", None),
    ],
)
def test_codec_for(declared: str, codec: str | None) -> None:
    """MSH-18 values map to codecs; unknown or empty give None."""
    assert codec_for(declared) == codec


def test_decode_declared_and_fallbacks() -> None:
    """Declared charset first; undeclared UTF-8 as UTF-8; anything else as ISO-8859-1."""
    assert decode_message("Ödem".encode("iso-8859-1"), "8859/1") == "Ödem"
    assert decode_message("Ödem".encode(), "") == "Ödem"
    assert decode_message("Ödem ±".encode("iso-8859-1"), "") == "Ödem ±"
    assert decode_message("Ödem".encode(), "ASCII") == "Ödem"  # wrong declaration, no crash
    assert decode_message(b"\xef\xbb\xbfMSH", "") == "MSH"


@given(
    st.binary(max_size=200), st.sampled_from(["", "ASCII", "8859/1", "UNICODE UTF-8", "nonsense"])
)
def test_decode_never_fails(raw: bytes, declared: str) -> None:
    """Any bytes under any declaration decode to text."""
    assert isinstance(decode_message(raw, declared), str)


def test_encode_message_uses_declared_charset() -> None:
    """Outbound text is encoded in the declared charset, UTF-8 when none."""
    assert encode_message("Ö", "8859/1") == b"\xd6"
    assert encode_message("Ö") == "Ö".encode()


@pytest.mark.parametrize(
    ("escaped", "plain"),
    [
        ("a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f", "a|b^c&d~e\\f"),
        ("line1\\.br\\line2", "line1\nline2"),
        ("\\H\\bold\\N\\ normal", "bold normal"),
        ("\\X4F4B\\", "OK"),
        ("\\XC3B6\\", "ö"),
        ("a\\.sp 2\\b", "a\n\nb"),
        ("\\Zcustom\\x\\.in+4\\", "x"),
        ("unterminated \\F", "unterminated \\F"),
        ("bad hex \\XZZ\\", "bad hex \\XZZ\\"),
        ("\\E\\S\\", "\\S\\"),
    ],
)
def test_unescape(escaped: str, plain: str) -> None:
    """Every HL7 escape the spec names is undone; malformed ones stay literal."""
    assert unescape(escaped) == plain


def test_unescape_hex_in_declared_charset() -> None:
    """\\Xhh\\ bytes are read in the message's character set."""
    assert unescape("\\XD6\\", character_set="8859/1") == "Ö"


def test_unescape_with_other_delimiters() -> None:
    """Escapes use the message's own escape character and delimiters."""
    d = Delimiters.from_msh("*", "$~/&")
    assert unescape("a/F/b/S/c/.br/d", d) == "a*b$c\nd"


@given(st.text(max_size=200))
def test_escape_round_trip(text: str) -> None:
    """unescape(escape(x)) == x with line breaks normalised to LF."""
    expected = text.replace("\r\n", "\n").replace("\r", "\n")
    assert unescape(escape(text)) == expected


@given(st.text(max_size=100))
def test_escape_leaves_no_delimiter(text: str) -> None:
    """Escaped text holds no field, component, repetition or subcomponent separator, no CR."""
    escaped = escape(text)
    assert not set("|^~&\r\n") & set(escaped)
