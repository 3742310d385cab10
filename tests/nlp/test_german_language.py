"""Language detection: from the text first, then MSH-19 / PID-15 hints, then the default."""

from __future__ import annotations

from typing import Any

import pytest

from nlp import annotate
from nlp.language import (
    detect_language,
    language_of_hint,
    language_of_text,
    language_table,
    parse_language_table,
    resolve_language,
)
from nlp.ruleset import RuleFileError, available_languages

GERMAN = [
    "KMÖ Talus rechts",
    "Kein KMÖ.",
    "Befund: Kein Knochenmarködem. Keine Fraktur.",
    "Beurteilung: Ausgedehntes KMÖ im Hüftkopf rechts bei transienter Osteoporose.",
    "MRT Knie links\nBefund: Menisken intakt, kein Erguss, regelrechtes Knochenmarksignal.",
    "Diskretes Ödem im medialen Femurkondylus, DD Artefakt.",
]
ENGLISH = [
    "Findings: No bone marrow edema. No fracture.",
    "Impression: Extensive bone marrow edema in the right femoral head.",
    "MRI LEFT KNEE\nFindings: The menisci are intact. There is no effusion.",
    "Subtle edema in the medial femoral condyle versus artifact.",
]
HINTS = [
    ("de", "de"),
    ("DE", "de"),
    ("ger", "de"),
    ("GER", "de"),
    ("deu", "de"),
    ("German", "de"),
    ("de-DE", "de"),
    ("de^German^ISO639", "de"),
    ("en", "en"),
    ("ENG", "en"),
    ("English", "en"),
    ("en^English^ISO639", "en"),
    ("fr", None),
    ("", None),
    (None, None),
]


@pytest.mark.parametrize("text", GERMAN)
def test_german_text_is_german(text: str) -> None:
    """German report text is detected as German, whatever the hints say."""
    assert language_of_text(text) == "de"
    assert detect_language(text, hints=("en", "en")) == "de"


@pytest.mark.parametrize("text", ENGLISH)
def test_english_text_is_english(text: str) -> None:
    """English report text is detected as English, whatever the hints say."""
    assert language_of_text(text) == "en"
    assert detect_language(text, hints=("ger",)) == "en"


@pytest.mark.parametrize(("hint", "language"), HINTS)
def test_hint_values(hint: str | None, language: str | None) -> None:
    """MSH-19 / PID-15 values in the spellings senders use name a language or nothing."""
    assert language_of_hint(hint) == language


@pytest.mark.parametrize("text", ["", "12 x 8 mm", "T1 STIR PD"])
def test_undecided_text_takes_first_usable_hint(text: str) -> None:
    """Text without decisive words falls back to the first hint that names a language."""
    assert language_of_text(text) is None
    assert detect_language(text, hints=(None, "fr", "GER", "en")) == "de"
    assert detect_language(text, hints=("English",)) == "en"
    assert detect_language(text) == language_table().default


def test_annotation_records_detected_language() -> None:
    """nlp.annotate without a language reads German text with the German rules."""
    annotation = annotate("Beurteilung: Ausgedehntes Knochenmarködem im Talus links.")
    assert annotation.language == "de"
    assert annotation.bme == "present"
    assert annotation.to_json_dict()["language"] == "de"
    english = annotate("Impression: Extensive bone marrow edema in the left talus.")
    assert english.language == "en"
    assert english.bme == "present"


def test_explicit_language_wins() -> None:
    """An explicit language is used as given, even against the text."""
    annotation = annotate("Beurteilung: Knochenmarködem im Talus.", language="en")
    assert annotation.language == "en"
    assert annotation.bme == "absent"


def test_table_covers_every_rule_language() -> None:
    """Every language with rule files has codes and markers in the table."""
    table = language_table()
    assert set(table.markers) == set(available_languages())
    assert set(table.codes.values()) == set(available_languages())


VALID: dict[str, Any] = {
    "default": "en",
    "min_margin": 2,
    "languages": {"en": {"codes": ["en"], "markers": ["the"]}},
}


@pytest.mark.parametrize(
    "broken",
    [
        {**VALID, "extra": 1},
        {k: v for k, v in VALID.items() if k != "min_margin"},
        {**VALID, "default": "xx"},
        {**VALID, "min_margin": 0},
        {**VALID, "languages": {"xx": {"codes": ["xx"], "markers": ["a"]}}},
        {**VALID, "languages": {"en": {"codes": ["en"], "markers": ["the"], "more": []}}},
        {**VALID, "languages": {"en": {"codes": "en", "markers": ["the"]}}},
    ],
)
def test_table_schema_rejects_bad_files(broken: dict[str, Any]) -> None:
    """Unknown or missing keys, unknown languages and bad values are RuleFileErrors."""
    with pytest.raises(RuleFileError):
        parse_language_table(broken, ["en", "de"])
    assert parse_language_table(VALID, ["en", "de"]).default == "en"


@pytest.mark.parametrize(
    ("text", "given", "expected"),
    [
        (GERMAN[0], None, "de"),
        (ENGLISH[0], None, "en"),
        (GERMAN[0], "en", "en"),
        (GERMAN[0], "GER", "de"),
        (ENGLISH[0], "GER", "en"),
        ("12 x 8 mm", "German", "de"),
        ("12 x 8 mm", "eng", "en"),
        (GERMAN[0], "xx", "xx"),
    ],
)
def test_resolve_language(text: str, given: str | None, expected: str) -> None:
    """None is detected, a rule language is kept, an HL7 code is a hint, the unknown passes."""
    assert resolve_language(text, given) == expected


def test_annotate_takes_hl7_codes_as_hints() -> None:
    """nlp.annotate(language="GER") reads German text in German; unknown codes raise."""
    assert annotate("Befund: Knochenmarködem im Talus.", language="GER").language == "de"
    with pytest.raises(RuleFileError):
        annotate("Befund: Knochenmarködem im Talus.", language="xx")


@pytest.mark.parametrize(
    "text",
    [
        "Knochenmarködem im medialen Femurkondylus, re. > li.",
        "x²y cm³ ½ über_alles 3rd e\u0301t\u00e9 \u0663\u0664 \u216b naïve ß-Straße",
        "MRI R knee: BME (2.3 cm) in the MFC; no fx.\tT2/STIR-hyperintense.",
    ],
)
def test_marker_words_are_split_as_the_word_regex_splits(text: str) -> None:
    """The translate-table split that language detection uses gives the regex's words."""
    from nlp.language import _LETTERS_ONLY, _WORD

    lowered = text.lower()
    assert lowered.translate(_LETTERS_ONLY).split() == _WORD.findall(lowered)
