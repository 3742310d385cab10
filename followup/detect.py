"""A radiologist's own follow-up recommendations, found in the report text (English, German).

Strategy: rules, sentence by sentence. A sentence recommends a follow-up when
it holds a recommending word ("recommended", "consider", "empfohlen",
"sollte") and a follow-up action (imaging, a control study, labs, a referral,
an interval), or when it is a bare order line such as "Follow-up MRI in 6
weeks." / "MRT-Kontrolle in 6 Wochen."; a negated ("no follow-up needed") or
past ("was recommended on the prior study") one does not. "Clinical
correlation" alone is not a follow-up (nothing can be tracked). Each found
sentence is read for modality, interval, urgency, condition, region and side,
and keeps its character offsets as evidence. The rules are data, in
`nlp/rules/<lang>/recommendations.json`.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

from followup.model import Interval
from followup.regex_union import any_search
from followup.regions import region_of, side_of
from followup.rules import DetectionRules, load_rules

# Abbreviations whose full stop does not end a sentence (English and German).
_ABBREVIATIONS = frozenset([
    "e", "g", "i", "z", "b", "ca", "approx", "dr", "vs", "bzw", "ggf", "ggfs", "evtl", "etc",
    "sog", "inkl", "mind", "max", "min", "li", "re", "bds", "st", "std", "mo", "wo", "nr", "no",
    "fig", "pt", "pts", "u", "a", "s", "v", "dd", "jr", "sr", "med", "lat", "ant", "post",
])  # fmt: skip
_LAST_WORD = re.compile(r"([\wäöüÄÖÜß]+)$")
_WORD_WINDOW = 1 + max(len(word) for word in _ABBREVIATIONS)
_SENTENCE_END = re.compile(r"[.!?]+(?=\s+|$)")
_WITHIN = re.compile(r"\b(?:within|innerhalb|binnen)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class FoundRecommendation:
    """One recommendation sentence and what it says; fields None where it says nothing."""

    start: int
    end: int
    text: str
    modality: str | None
    interval: Interval | None
    urgency: str | None
    condition: str | None
    region: str | None
    side: str | None


# An annotate batch's reports (64 by default), with room for a larger cap.
REMEMBERED_TEXTS = 128


@functools.lru_cache(maxsize=REMEMBERED_TEXTS)
def sentences(text: str) -> tuple[Sentence, ...]:
    """Sentences with offsets: lines split at full stops that end a sentence.

    Remembered for the last `REMEMBERED_TEXTS` texts: a batch's reports are read
    for their course, then all of them again for their recommendations.
    """
    found: list[Sentence] = []
    offset = 0
    for line in text.split("\n"):
        start = 0
        for match in _SENTENCE_END.finditer(line):
            stop = match.start()
            # The word before the stop; a longer word than any abbreviation is cut but stays
            # unlike all of them, so a short window is enough.
            word = _LAST_WORD.search(line, max(start, stop - _WORD_WINDOW), stop)
            if (word and word.group(1).lower() in _ABBREVIATIONS) or _list_number(line[start:stop]):
                continue  # "e.g.", "z. B.", a list number "1."
            _add_sentence(found, line, offset, start, match.end())
            start = match.end()
        _add_sentence(found, line, offset, start, len(line))
        offset += len(line) + 1
    return tuple(found)


def _list_number(before: str) -> bool:
    """Only a number so far on the line ("1." of a numbered list)."""
    return before.strip(" -*•\t").isdigit()


def _add_sentence(found: list[Sentence], line: str, offset: int, start: int, end: int) -> None:
    piece = line[start:end]
    stripped = piece.strip()
    if stripped:
        lead = len(piece) - len(piece.lstrip())
        begin = offset + start + lead
        found.append(Sentence(begin, begin + len(stripped), stripped))


def is_recommendation(sentence: str, rules: DetectionRules) -> bool:
    """Whether one sentence recommends a follow-up (see the module docstring)."""
    # The same test as "not negated, not historical, then standalone or trigger and
    # action", asked in the order that lets most sentences (no trigger) go soonest.
    recommends = any_search(rules.standalone, sentence) or (
        any_search(rules.triggers, sentence) and any_search(rules.actions, sentence)
    )
    return (
        recommends
        and not any_search(rules.negations, sentence)
        and not any_search(rules.historical, sentence)
    )


def find_recommendations(text: str, language: str = "en") -> list[FoundRecommendation]:
    """Every recommendation sentence of a report, read into its parts, in text order."""
    rules = load_rules(language).detection
    found = []
    for sentence in sentences(text):
        if is_recommendation(sentence.text, rules):
            found.append(read_sentence(sentence, rules))
    return found


def read_sentence(sentence: Sentence, rules: DetectionRules) -> FoundRecommendation:
    """Modality, interval, urgency, condition, region and side of a recommendation sentence."""
    text = sentence.text
    interval = _interval(text, rules)
    return FoundRecommendation(
        start=sentence.start,
        end=sentence.end,
        text=text,
        modality=_modality(text, rules),
        interval=interval,
        urgency=_urgency(text, rules, interval),
        condition=_condition(text, rules),
        region=region_of(text),
        side=side_of(text),
    )


def _modality(text: str, rules: DetectionRules) -> str | None:
    for name, patterns in rules.modalities:  # in order of preference: imaging first
        if any(p.search(text) for p in patterns):
            return name
    return None


def _number(value: str | None, rules: DetectionRules) -> float | None:
    if value is None:
        return None
    if value.isdigit():
        return float(value)
    for pattern, number in rules.number_words:
        if pattern.fullmatch(value):
            return float(number)
    return None


def _unit_days(unit: str, rules: DetectionRules) -> float:
    for pattern, days in rules.units:
        if pattern.fullmatch(unit):
            return days
    return 1.0


def _interval(text: str, rules: DetectionRules) -> Interval | None:
    for pattern in rules.interval_patterns:
        match = pattern.search(text)
        if not match:
            continue
        low = _number(match.group("low"), rules)
        high = _number(match.group("high"), rules)
        if low is None:
            continue
        days = _unit_days(match.group("unit"), rules)
        within = bool(_WITHIN.search(match.group(0)))
        return window(low * days, None if high is None else high * days, within=within)
    for pattern, soft in rules.soft_intervals:
        if pattern.search(text):
            return soft
    return None


def window(low: float, high: float | None = None, *, within: bool = False) -> Interval:
    """The due window in days for "in X", "in X-Y" or "within X".

    "within X": [0, X]; "in X-Y": [X, Y]; "in X": [X - X/6, X + X/3] (six weeks
    is due from day 35 to day 56), at least one day either side. Hours round up
    to a day.
    """
    low_days = math.ceil(low - 1e-9) if low < 1 else round(low)
    if high is not None:
        high_days = max(low_days, math.ceil(high - 1e-9) if high < 1 else round(high))
        return Interval(0 if within else low_days, high_days)
    if within:
        return Interval(0, max(1, low_days))
    slack_before = max(1, math.ceil(low_days / 6))
    slack_after = max(1, math.ceil(low_days / 3))
    return Interval(max(0, low_days - slack_before), low_days + slack_after)


def _urgency(text: str, rules: DetectionRules, interval: Interval | None) -> str | None:
    for name, patterns in rules.urgency:
        if any(p.search(text) for p in patterns):
            return name
    if interval is None:
        return None
    if interval.max_days <= 2:
        return "urgent"
    if interval.max_days <= 21:
        return "high"
    return "routine"


def _condition(text: str, rules: DetectionRules) -> str | None:
    best: re.Match[str] | None = None
    for pattern in rules.conditions:
        match = pattern.search(text)
        if match and (best is None or match.start() < best.start()):
            best = match
    return best.group(0).strip(" ,;") if best else None
