"""Loads `nlp/rules/<lang>/recommendations.json`: default recommendations and detection rules.

Strategy: the data sits beside the suggestions it structures (per language, in
the `nlp` package's rule folder), but it is read here, by a typed loader that
rejects unknown keys and bad regexes naming the file, so `nlp/` is untouched.
Patterns are compiled once per language (case-insensitive).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from followup.model import MODALITIES, URGENCIES, Interval

FILE_NAME = "recommendations.json"


class RecommendationRuleError(ValueError):
    """recommendations.json holds something the loader cannot use."""


@dataclass(frozen=True)
class DefaultRecommendation:
    """The structured form of one flag's suggestion."""

    modality: str
    interval: Interval
    urgency: str
    condition: str | None
    text: str


@dataclass(frozen=True)
class DetectionRules:
    """Regexes that find and read a radiologist's own recommendation sentence."""

    triggers: tuple[re.Pattern[str], ...]
    actions: tuple[re.Pattern[str], ...]
    standalone: tuple[re.Pattern[str], ...]
    negations: tuple[re.Pattern[str], ...]
    historical: tuple[re.Pattern[str], ...]
    modalities: tuple[tuple[str, tuple[re.Pattern[str], ...]], ...]  # in order of preference
    follow_up_words: tuple[re.Pattern[str], ...]
    units: tuple[tuple[re.Pattern[str], float], ...]
    number_words: tuple[tuple[re.Pattern[str], int], ...]
    interval_patterns: tuple[re.Pattern[str], ...]
    soft_intervals: tuple[tuple[re.Pattern[str], Interval], ...]
    urgency: tuple[tuple[str, tuple[re.Pattern[str], ...]], ...]
    conditions: tuple[re.Pattern[str], ...]


@dataclass(frozen=True)
class RecommendationRules:
    language: str
    defaults: dict[str, DefaultRecommendation]
    detection: DetectionRules


def _keys(obj: Any, where: str, required: set[str], optional: frozenset[str] = frozenset()) -> Any:
    if not isinstance(obj, dict):
        raise RecommendationRuleError(f"{where}: expected an object")
    missing = required - obj.keys()
    unknown = obj.keys() - required - optional
    if missing or unknown:
        raise RecommendationRuleError(
            f"{where}: missing {sorted(missing)}, unknown {sorted(unknown)}".replace(
                "missing [], ", ""
            ).replace(", unknown []", "")
        )
    return obj


def _compile(pattern: Any, where: str) -> re.Pattern[str]:
    if not isinstance(pattern, str):
        raise RecommendationRuleError(f"{where}: expected a regex string")
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as e:
        raise RecommendationRuleError(f"{where}: bad regex {pattern!r}: {e}") from e


def _patterns(values: Any, where: str) -> tuple[re.Pattern[str], ...]:
    if not isinstance(values, list):
        raise RecommendationRuleError(f"{where}: expected a list")
    return tuple(_compile(v, f"{where}[{i}]") for i, v in enumerate(values))


def _interval(value: Any, where: str) -> Interval:
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value)):
        raise RecommendationRuleError(f"{where}: expected [min_days, max_days]")
    try:
        return Interval(value[0], value[1])
    except ValueError as e:
        raise RecommendationRuleError(f"{where}: {e}") from e


def _default(obj: Any, where: str) -> DefaultRecommendation:
    obj = _keys(obj, where, {"modality", "interval_days", "urgency", "condition", "text"})
    if obj["modality"] not in MODALITIES:
        raise RecommendationRuleError(f"{where}: modality must be one of {MODALITIES}")
    if obj["urgency"] not in URGENCIES:
        raise RecommendationRuleError(f"{where}: urgency must be one of {URGENCIES}")
    return DefaultRecommendation(
        modality=obj["modality"],
        interval=_interval(obj["interval_days"], f"{where}.interval_days"),
        urgency=obj["urgency"],
        condition=obj["condition"],
        text=obj["text"],
    )


_DETECTION_KEYS = {
    "triggers", "actions", "standalone", "negations", "historical", "modalities",
    "follow_up_words", "units", "number_words", "interval_patterns", "soft_intervals",
    "urgency", "conditions",
}  # fmt: skip


def _detection(obj: Any, where: str) -> DetectionRules:
    obj = _keys(obj, where, _DETECTION_KEYS)
    units = tuple((_compile(k, f"{where}.units"), float(v)) for k, v in obj["units"].items())
    numbers = tuple(
        (_compile(k, f"{where}.number_words"), int(v)) for k, v in obj["number_words"].items()
    )
    unit_alt = "|".join(f"(?:{k})" for k in obj["units"])
    number_alt = "|".join(f"(?:{k})" for k in obj["number_words"])
    intervals = tuple(
        _compile(p.replace("{units}", unit_alt).replace("{numbers}", number_alt), where)
        for p in obj["interval_patterns"]
    )
    modalities = []
    for name, patterns in obj["modalities"].items():
        if name not in MODALITIES:
            raise RecommendationRuleError(f"{where}.modalities: unknown modality {name!r}")
        modalities.append((name, _patterns(patterns, f"{where}.modalities.{name}")))
    urgency = []
    for name, patterns in obj["urgency"].items():
        if name not in URGENCIES:
            raise RecommendationRuleError(f"{where}.urgency: unknown urgency {name!r}")
        urgency.append((name, _patterns(patterns, f"{where}.urgency.{name}")))
    return DetectionRules(
        triggers=_patterns(obj["triggers"], f"{where}.triggers"),
        actions=_patterns(obj["actions"], f"{where}.actions"),
        standalone=_patterns(obj["standalone"], f"{where}.standalone"),
        negations=_patterns(obj["negations"], f"{where}.negations"),
        historical=_patterns(obj["historical"], f"{where}.historical"),
        modalities=tuple(modalities),
        follow_up_words=_patterns(obj["follow_up_words"], f"{where}.follow_up_words"),
        units=units,
        number_words=numbers,
        interval_patterns=intervals,
        soft_intervals=tuple(
            (_compile(k, f"{where}.soft_intervals"), _interval(v, f"{where}.soft_intervals"))
            for k, v in obj["soft_intervals"].items()
        ),
        urgency=tuple(urgency),
        conditions=_patterns(obj["conditions"], f"{where}.conditions"),
    )


def parse_rules(language: str, data: Any, where: str) -> RecommendationRules:
    """Check and compile one language's recommendations.json; raises RecommendationRuleError."""
    data = _keys(data, where, {"defaults", "detection"})
    defaults = {
        code: _default(obj, f"{where}.defaults.{code}") for code, obj in data["defaults"].items()
    }
    return RecommendationRules(language, defaults, _detection(data["detection"], where))


@functools.cache
def load_rules(language: str) -> RecommendationRules:
    """The rules of `language` (en, de); raises RecommendationRuleError naming the file."""
    path = resources.files("nlp").joinpath("rules", language, FILE_NAME)
    where = f"nlp/rules/{language}/{FILE_NAME}"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise RecommendationRuleError(f"{where}: no such file") from e
    except json.JSONDecodeError as e:
        raise RecommendationRuleError(f"{where}: not JSON: {e}") from e
    return parse_rules(language, data, where)
