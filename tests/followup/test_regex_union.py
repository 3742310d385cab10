"""The follow-up rules' "does any pattern match" shortcut: the union and the word screen."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from followup import course
from followup.detect import sentences
from followup.regex_union import any_search, could_match, required_words
from followup.rules import load_rules

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"


def _rule_lists() -> list[tuple[str, tuple[re.Pattern[str], ...]]]:
    lists = []
    for language in ("en", "de"):
        rules = load_rules(language).detection
        for name in ("standalone", "triggers", "actions", "negations", "historical"):
            lists.append((f"{language}.{name}", getattr(rules, name)))
    lists += [(f"course.{name}", patterns) for name, patterns in course._words().items()]
    return lists


RULE_LISTS = _rule_lists()


@pytest.mark.parametrize(
    ("pattern", "flags", "words"),
    [
        (r"\brecommend(?:ed|s)?\b", re.IGNORECASE, {"recommend"}),
        (r"(?<!\bno )\bnew(?:ly)?\b(?! (?:fracture|tear))", re.IGNORECASE, {"new"}),
        (r"\b(?:follow[- ]?up|repeat|control)\b", re.IGNORECASE, {"follow", "repeat", "control"}),
        (r"^\W*(?:\d+[.)]\s*)?further (?:evaluation|imaging)", 0, {"further "}),
        (r"x?yz", 0, {"yz"}),
        (r"\br(?:ö|oe)ntgen\w*", re.IGNORECASE, {"ntgen"}),  # ö is never a word's letter
        (r"\b(?:a|bc)\b", 0, None),  # "a" is too short to screen with
        (r"[abc]+d", 0, None),
        (r"(?:abc)?d", 0, None),
        (r"(?i:abc)", 0, None),  # a flag group: left to the regex
        (r"ab|", 0, None),  # the empty alternative matches anything
    ],
)
def test_required_words(pattern: str, flags: int, words: set[str] | None) -> None:
    """Only words that every match contains; None when no word is certain."""
    found = required_words(re.compile(pattern, flags))
    assert (set(found) if found is not None else None) == words


def test_every_rule_list_is_screened() -> None:
    """Each list of the shipped rules has words to screen with (else no time is saved):
    an empty ASCII text holds none of them."""
    missing = [name for name, patterns in RULE_LISTS if could_match(patterns, "")]
    assert missing == []


def _agrees(text: str) -> list[str]:
    return [
        name
        for name, patterns in RULE_LISTS
        if any_search(patterns, text) != any(p.search(text) for p in patterns)
    ]


# The rules' own words and pieces, and non-ASCII letters that match ASCII ones.
PIECES = [
    "follow", "-up", " up ", "MRI", "mr", "CT", "in", " 6 ", "weeks", "recommended", "consider",
    "no ", "new", "collapse", "Kontrolle", "MRT", "empfohlen", "kein ", "rückläufig",
    "rueckläufig", "progredient", "unchanged", "re-imaging", ". ", "\n", "\u212a", "\u017f",
    "ß", "İ", "x", " ", "1.", "further ", "evaluation",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=16).map("".join))
def test_the_screen_never_changes_an_answer(text: str) -> None:
    """Sentences built from the rules' own words, non-ASCII look-alikes among them."""
    assert _agrees(text) == []


@pytest.mark.parametrize(
    "text",
    ["Please con\u017fider a follow-up MRI in 6 weeks.", "MRT-\u212aontrolle in 6 Wochen.",
     "Collap\u017fe of the dome.", "No new collapse.", "Ödem rückläufig."],
)  # fmt: skip
def test_letters_that_match_ascii_ones_are_not_screened_out(text: str) -> None:
    """re's case-insensitive matching takes ſ for s and the Kelvin sign for k; lower() does
    not, so a text with any non-ASCII letter goes to the regex itself."""
    assert _agrees(text) == []


def test_the_screen_agrees_on_every_corpus_sentence() -> None:
    """Every sentence of the project's fixtures and, where it is there, ../shared's corpora."""
    texts = _fixture_texts()
    for name in ("dev.jsonl", "dev_de.jsonl", "real_dev.jsonl"):
        if (SHARED / name).exists():
            lines = (SHARED / name).read_text(encoding="utf-8").splitlines()
            texts += [json.loads(line)["text"] for line in lines if line.strip()]
    assert len(texts) > 5
    disagreements = [(s.text, _agrees(s.text)) for t in texts for s in sentences(t)]
    assert [d for d in disagreements if d[1]] == []


def _fixture_texts() -> list[str]:
    from tests.followup import messages

    return [value for value in vars(messages).values() if isinstance(value, str) and "\n" in value]
