"""Which language a report is written in: from its text, with optional HL7 hints.

Strategy: count each language's marker words (function words and report
words from `nlp/rules/languages.json`) in the text; the language with the most
wins when it leads by at least `min_margin`. Only when the text does not
decide (too short, mixed, numbers only) are the hints used, in the order
given: HL7 MSH-19 (principal language of message) before PID-15 (the
patient's language), each a code such as "de", "ger", "deu", "German" or a
coded element "de^German^ISO639". The text wins over a hint because the
rules must match the words actually written, and PID-15 describes the
patient, not the report. No hint and no decision: the configured default.
Only languages that have a rule folder are ever returned.
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

from nlp.ruleset import RuleFileError, available_languages

_WORD = re.compile(r"[^\W\d_]+")


class _LettersOnly(dict[int, str]):
    """A str.translate table: letters stay, every other character becomes a space.

    "Letter" as in `_WORD`: alphanumeric but not a decimal digit. So
    `text.translate(table).split()` gives `_WORD.findall(text)` at under half
    its cost. Characters are classified on first sight and remembered (a
    report's alphabet is small; the table stays bounded by the characters seen).
    """

    def __missing__(self, key: int) -> str:
        ch = chr(key)
        value = ch if ch.isalnum() and not ch.isdecimal() else " "
        if len(self) < _MAX_TABLE:
            self[key] = value
        return value


_MAX_TABLE = 65_536
_LETTERS_ONLY = _LettersOnly()
_WHERE = "rules/languages.json"


@dataclass(frozen=True)
class LanguageTable:
    """Codes and marker words per language, and how decisive the text must be."""

    default: str
    min_margin: int
    codes: dict[str, str]  # lower-case code or name -> language
    markers: dict[str, frozenset[str]]  # language -> lower-case marker words


def _strings(value: object, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise RuleFileError(f"{where}: expected a list of non-empty strings")
    return value


def _keys(obj: object, where: str, allowed: set[str]) -> dict[str, object]:
    if not isinstance(obj, dict):
        raise RuleFileError(f"{where}: expected an object")
    if set(obj) != allowed:
        raise RuleFileError(f"{where}: keys must be exactly {sorted(allowed)}, got {sorted(obj)}")
    return obj


def parse_language_table(obj: object, languages: Iterable[str]) -> LanguageTable:
    """The table from the parsed JSON; raises RuleFileError on any schema error."""
    known = set(languages)
    top = _keys(obj, _WHERE, {"default", "min_margin", "languages"})
    default, margin, entries = top["default"], top["min_margin"], top["languages"]
    if default not in known:
        raise RuleFileError(f"{_WHERE}: default {default!r} has no rule folder")
    if not isinstance(margin, int) or isinstance(margin, bool) or margin < 1:
        raise RuleFileError(f"{_WHERE}: min_margin must be a positive integer")
    if not isinstance(entries, dict):
        raise RuleFileError(f"{_WHERE}: languages must be an object")
    codes: dict[str, str] = {}
    markers: dict[str, frozenset[str]] = {}
    for language, entry in entries.items():
        where = f"{_WHERE}: languages.{language}"
        if language not in known:
            raise RuleFileError(f"{where}: no rule folder for this language")
        entry = _keys(entry, where, {"codes", "markers"})
        for code in _strings(entry["codes"], f"{where}.codes"):
            codes[code.lower()] = language
        markers[language] = frozenset(m.lower() for m in _strings(entry["markers"], where))
    return LanguageTable(str(default), margin, codes, markers)


@functools.cache
def language_table() -> LanguageTable:
    """The package's language table, loaded once per process."""
    path = resources.files("nlp") / "rules" / "languages.json"
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise RuleFileError(f"{_WHERE}: missing") from e
    except json.JSONDecodeError as e:
        raise RuleFileError(f"{_WHERE}: not JSON ({e})") from e
    return parse_language_table(obj, available_languages())


def language_of_hint(value: str | None) -> str | None:
    """The language an HL7 language field names ("de", "GER", "German", "de^German^ISO639")."""
    if not value:
        return None
    code = value.split("^", 1)[0].strip().lower()
    return language_table().codes.get(code)


_BARE_HEADER = re.compile(r"(?m)^[ \t]*[A-Z][A-Z /&]{2,30}:[ \t]*$")


def language_of_text(text: str) -> str | None:
    """The language the text's words clearly belong to, or None when they do not decide."""
    table = language_table()
    counts = dict.fromkeys(table.markers, 0)
    # A bare upper-case header line ("FINDINGS:") is often added by the sending
    # system (an HL7 &GDT block), not written in the report's language.
    text = _BARE_HEADER.sub("", text)
    words = Counter(text.lower().translate(_LETTERS_ONLY).split())
    for language, markers in table.markers.items():
        counts[language] = sum(words[word] for word in markers & words.keys())
    ranked = sorted(counts.items(), key=lambda item: item[1], reverse=True)
    if not ranked:
        return None
    best, best_count = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0
    return best if best_count - runner_up >= table.min_margin else None


def detect_language(text: str, hints: Iterable[str | None] = ()) -> str:
    """The report's language: its text, else the first usable hint, else the default."""
    found = language_of_text(text)
    if found is not None:
        return found
    for hint in hints:
        language = language_of_hint(hint)
        if language is not None:
            return language
    return language_table().default


def resolve_language(text: str, language: str | None = None) -> str:
    """The rule language for `nlp.annotate`'s `language` argument.

    None: detected from the text. A rule language ("de", "en"): as given. An
    HL7 code for one ("GER", "German", "de-DE", as PID-15 or MSH-19 carry it):
    a hint, so the text still decides first. Anything else is returned as
    given, and loading its rules raises RuleFileError naming it.
    """
    if language is None:
        return detect_language(text)
    if language in language_table().markers:
        return language
    hinted = language_of_hint(language)
    return language if hinted is None else detect_language(text, hints=(hinted,))


__all__ = [
    "LanguageTable",
    "detect_language",
    "language_of_hint",
    "language_of_text",
    "language_table",
    "parse_language_table",
    "resolve_language",
]
