"""Character sets and HL7 escape sequences: bytes to text and back.

Strategy: decoding never fails. A message is decoded with the codec its MSH-18
declares; when there is none, or the bytes do not fit it, UTF-8 is tried and
ISO-8859-1 (which maps every byte) is the last resort, so a sender's wrong
declaration costs at worst a few odd characters, never a crash.

Escapes are undone after the message has been split into fields, components
and repetitions (they exist to hide those delimiters), and `escape` is applied
to every value radflag writes.
"""

from __future__ import annotations

import codecs
import functools
import re
from dataclasses import dataclass

DEFAULT_ENCODING_CHARACTERS = "^~\\&"

# MSH-18 values (HL7 table 0211 and the spellings senders use) -> Python codec.
_CHARSETS: dict[str, str] = {
    "ASCII": "ascii",
    "US-ASCII": "ascii",
    "ISO IR6": "ascii",
    "8859/1": "iso-8859-1",
    "ISO IR100": "iso-8859-1",
    "ISO-8859-1": "iso-8859-1",
    "8859/2": "iso-8859-2",
    "8859/3": "iso-8859-3",
    "8859/4": "iso-8859-4",
    "8859/5": "iso-8859-5",
    "8859/6": "iso-8859-6",
    "8859/7": "iso-8859-7",
    "8859/8": "iso-8859-8",
    "8859/9": "iso-8859-9",
    "8859/15": "iso-8859-15",
    "UNICODE": "utf-8",
    "UNICODE UTF-8": "utf-8",
    "UTF-8": "utf-8",
    "ISO IR192": "utf-8",
    "WINDOWS-1252": "cp1252",
    "CP1252": "cp1252",
}

_UTF8_BOM = codecs.BOM_UTF8


@functools.lru_cache(maxsize=64)
def codec_for(character_set: str) -> str | None:
    """The Python codec for an MSH-18 value, or None when it is empty or unknown."""
    key = " ".join(character_set.strip().upper().replace("_", " ").split())
    return _CHARSETS.get(key) or _CHARSETS.get(key.replace(" ", ""))


def decode_message(message: bytes, character_set: str = "") -> str:
    """Decode message bytes per MSH-18; undeclared non-UTF-8 bytes are read as ISO-8859-1."""
    if message.startswith(_UTF8_BOM):
        message = message[len(_UTF8_BOM) :]
    declared = codec_for(character_set)
    for codec in (declared, "utf-8"):
        if codec is None:
            continue
        try:
            return message.decode(codec)
        except UnicodeDecodeError:
            continue
    return message.decode("iso-8859-1")


def encode_message(text: str, character_set: str = "") -> bytes:
    """Encode an outbound message in the declared character set (UTF-8 when none or unknown)."""
    codec = codec_for(character_set) or "utf-8"
    return text.encode(codec, errors="replace")


@dataclass(frozen=True)
class Delimiters:
    """The separators of one message: MSH-1 and the MSH-2 encoding characters."""

    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"
    truncation: str = ""  # v2.7+: "#"

    @classmethod
    @functools.lru_cache(maxsize=64)  # frozen, so shared; senders keep their delimiters
    def from_msh(cls, field_separator: str, encoding_characters: str) -> Delimiters:
        """Delimiters from MSH-1 and MSH-2 (missing encoding characters take their defaults)."""
        chars = encoding_characters + DEFAULT_ENCODING_CHARACTERS[len(encoding_characters) :]
        return cls(
            field=field_separator,
            component=chars[0],
            repetition=chars[1],
            escape=chars[2],
            subcomponent=chars[3],
            truncation=chars[4] if len(chars) > 4 else "",
        )

    @functools.cached_property  # kept on the instance: hashing it per value cost more
    def needs_escape(self) -> re.Pattern[str]:
        """A character `escape` would change: a delimiter, CR or LF."""
        special = {
            self.escape, self.field, self.component, self.subcomponent, self.repetition,
            self.truncation, "\r", "\n",
        }  # fmt: skip
        special.discard("")
        return re.compile("[" + "".join(re.escape(c) for c in sorted(special)) + "]")

    @property
    def encoding_characters(self) -> str:
        return f"{self.component}{self.repetition}{self.escape}{self.subcomponent}{self.truncation}"


STANDARD = Delimiters()


def escape(value: str, delimiters: Delimiters = STANDARD) -> str:
    """Escape delimiters in a value and turn line breaks into `\\.br\\` (for FT/TX text)."""
    if not delimiters.needs_escape.search(value):  # most values: as they are
        return value
    e = delimiters.escape
    replacements = {
        delimiters.escape: f"{e}E{e}",
        delimiters.field: f"{e}F{e}",
        delimiters.component: f"{e}S{e}",
        delimiters.subcomponent: f"{e}T{e}",
        delimiters.repetition: f"{e}R{e}",
    }
    if delimiters.truncation:
        replacements[delimiters.truncation] = f"{e}P{e}"
    out: list[str] = []
    text = value.replace("\r\n", "\n")
    for char in text:
        if char in replacements:
            out.append(replacements[char])
        elif char in "\r\n":
            out.append(f"{e}.br{e}")
        else:
            out.append(char)
    return "".join(out)


def unescape(value: str, delimiters: Delimiters = STANDARD, character_set: str = "") -> str:
    """Undo HL7 escapes: \\F\\ \\S\\ \\T\\ \\R\\ \\E\\ \\P\\, \\.br\\ and \\.sp\\ as line
    breaks, \\Xhh\\ as bytes in the message's character set; \\H\\ \\N\\ and other
    formatting or character-set switches are dropped. A malformed escape stays literal."""
    e = delimiters.escape
    if e not in value:
        return value
    pattern = re.compile(re.escape(e) + r"([^" + re.escape(e) + r"\r\n]{1,64})" + re.escape(e))
    return pattern.sub(lambda m: _expand(m.group(1), m.group(0), delimiters, character_set), value)


def _expand(code: str, literal: str, d: Delimiters, character_set: str) -> str:
    simple = {
        "F": d.field,
        "S": d.component,
        "T": d.subcomponent,
        "R": d.repetition,
        "E": d.escape,
        "P": d.truncation or "#",
        "H": "",
        "N": "",
    }
    if code in simple:
        return simple[code]
    if code == ".br":
        return "\n"
    if code.startswith(".sp"):
        count = code[3:].strip().lstrip("+")
        return "\n" * (int(count) if count.isdigit() and int(count) < 100 else 1)
    if code.startswith(".") or code[0] in "CMZ":
        return ""  # formatting commands and character-set switches carry no text
    if code[0] == "X" and len(code) > 1:
        return _hex_text(code[1:], character_set) or literal
    return literal


def _hex_text(digits: str, character_set: str) -> str | None:
    if len(digits) % 2:
        return None
    try:
        raw = bytes.fromhex(digits)
    except ValueError:
        return None
    return decode_message(raw, character_set)


def split_lines(text: str) -> list[str]:
    """Lines of a report text, whatever the line break (CR, LF, CRLF)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
