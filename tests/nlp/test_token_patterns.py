"""LowerPatternMatcher finds what spaCy's Matcher finds, for every LOWER-only rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import spacy
from spacy.matcher import Matcher

from nlp.ruleset import load_ruleset
from nlp.token_patterns import LowerPatternMatcher, compile_pattern

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "reports"


def _patterns(language: str) -> list[list[dict]]:
    rules = load_ruleset(language)
    out = []
    for items in (rules.targets, rules.context, rules.etiology_cues):
        out.extend(list(r.pattern) for r in items if r.pattern and compile_pattern(r.pattern))
    return out


def _texts(name: str) -> list[str]:
    lines = (FIXTURES / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(x)["text"] for x in lines if x.strip()]


@pytest.mark.parametrize(
    ("language", "corpus"), [("de", "voices_de.jsonl"), ("en", "voices_en.jsonl")]
)
def test_same_matches_as_spacy_matcher(language: str, corpus: str) -> None:
    nlp = spacy.blank(language)
    patterns = _patterns(language)
    assert patterns
    ours, theirs = LowerPatternMatcher(), Matcher(nlp.vocab)
    for i, pattern in enumerate(patterns):
        key = nlp.vocab.strings.add(f"P{i}")
        assert ours.add(key, pattern)
        theirs.add(f"P{i}", [pattern])
    compared = 0
    for text in _texts(corpus)[:60]:
        doc = nlp(text)
        expected = sorted(set(theirs(doc)), key=lambda m: (m[1], m[2], m[0]))
        got = ours([t.lower_ for t in doc])
        assert got == expected, text[:80]
        compared += len(got)
    assert compared > 0


def test_operators_and_regex() -> None:
    m = LowerPatternMatcher()
    m.add(
        1,
        [
            {"LOWER": "no"},
            {"LOWER": {"IN": ["bone", "marrow"]}, "OP": "*"},
            {"LOWER": {"REGEX": "^o?edema$"}},
        ],
    )
    m.add(2, [{"LOWER": {"REGEX": "^knochen"}, "OP": "?"}, {"LOWER": "ödem"}])
    words = ["no", "bone", "marrow", "edema", "knochenmark", "ödem", "ödem"]
    assert m(words) == [(1, 0, 4), (2, 4, 6), (2, 5, 6), (2, 6, 7)]
    assert m(words, offset=10)[0] == (1, 10, 14)


def test_patterns_with_other_attributes_are_left_to_spacy() -> None:
    m = LowerPatternMatcher()
    assert not m.add(1, [{"LOWER": "edema", "IS_SENT_START": True}])
    assert not m.add(2, [{"LOWER": "edema", "OP": "{2,3}"}])
    assert not m
