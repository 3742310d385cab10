"""Follow-up recommendations for the Bundle: structured dicts, or the flags' suggestions.

A recommendation is a mapping with these keys (all but `text` optional):

- `text`: the recommendation for people ("Consider MRI of the left knee in 6 weeks");
- `modality`, `region`, `side` (left | right | bilateral), `condition`: free terms;
- `due_window_days`: [min, max] days after the report, or `interval_days`: one number
  (the window is then [interval, interval]);
- `urgency` / `priority`: routine | high | urgent;
- `source`: "default" (radflag's rule table) or "report" (the radiologist wrote it);
- `evidence`: character spans in the report text, as [start, end] pairs or
  {"start", "end"} objects;
- `flag`: the radflag flag code it follows from.

Without recommendations the Bundle gets one per flag, from the flag's suggestion,
with no due window (the annotation has none).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nlp.model import Annotation

PRIORITIES = ("routine", "high", "urgent")
SIDES = ("left", "right", "bilateral")


class RecommendationError(ValueError):
    """A recommendation dict that cannot be mapped; the message names the key."""


@dataclass(frozen=True)
class FollowUp:
    """One follow-up recommendation, checked."""

    text: str
    priority: str = "routine"
    modality: str | None = None
    region: str | None = None
    side: str | None = None
    condition: str | None = None
    due_window_days: tuple[int, int] | None = None
    source: str = "default"
    evidence: tuple[tuple[int, int], ...] = ()
    flag: str | None = None


def from_flags(annotation: Annotation, text: str) -> list[FollowUp]:
    """One follow-up per flag: its suggestion, its priority, its evidence sentences' spans."""
    return [
        FollowUp(
            text=flag.suggestion,
            priority=flag.priority,
            evidence=tuple(span for s in flag.evidence if (span := find_span(text, s))),
            flag=flag.code,
        )
        for flag in annotation.flags
    ]


def find_span(text: str, fragment: str) -> tuple[int, int] | None:
    """Where `fragment` first stands in `text`, or None."""
    start = text.find(fragment) if fragment else -1
    return None if start < 0 else (start, start + len(fragment))


def normalise(items: Sequence[Mapping[str, Any]], text_length: int) -> list[FollowUp]:
    """Check recommendation dicts; raise RecommendationError naming the first bad key."""
    return [_one(number, item, text_length) for number, item in enumerate(items, 1)]


def _one(number: int, item: Mapping[str, Any], text_length: int) -> FollowUp:
    where = f"recommendation {number}"
    if not isinstance(item, Mapping):
        raise RecommendationError(f"{where}: expected an object")
    text = item.get("text")
    if not isinstance(text, str) or not text.strip():
        raise RecommendationError(f"{where}: needs a non-empty string 'text'")
    priority = item.get("urgency", item.get("priority", "routine")) or "routine"
    if priority not in PRIORITIES:
        raise RecommendationError(f"{where}: urgency must be one of {', '.join(PRIORITIES)}")
    side = item.get("side")
    if side is not None and side not in SIDES:
        raise RecommendationError(f"{where}: side must be one of {', '.join(SIDES)}")
    strings = {}
    for key in ("modality", "region", "condition", "flag"):
        value = item.get(key)
        if value is not None and not isinstance(value, str):
            raise RecommendationError(f"{where}: {key} must be a string")
        strings[key] = value or None
    source = item.get("source") or "default"
    if source not in ("default", "report"):
        raise RecommendationError(f"{where}: source must be default or report")
    return FollowUp(
        text=text.strip(),
        priority=priority,
        side=side,
        due_window_days=_window(where, item),
        source=source,
        evidence=_evidence(where, item.get("evidence") or (), text_length),
        **strings,
    )


def _window(where: str, item: Mapping[str, Any]) -> tuple[int, int] | None:
    window = item.get("due_window_days")
    if window is None and item.get("interval_days") is not None:
        window = (item["interval_days"], item["interval_days"])
    if window is None:
        return None
    if isinstance(window, Mapping):
        window = (window.get("min"), window.get("max"))
    if (
        not isinstance(window, Sequence)
        or len(window) != 2
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in window)
        or window[0] > window[1]
    ):
        raise RecommendationError(f"{where}: due window must be [min, max] days, 0 <= min <= max")
    return int(window[0]), int(window[1])


def _evidence(where: str, spans: Any, text_length: int) -> tuple[tuple[int, int], ...]:
    out = []
    for span in spans:
        pair = (span.get("start"), span.get("end")) if isinstance(span, Mapping) else span
        if (
            not isinstance(pair, Sequence)
            or len(pair) != 2
            or not all(isinstance(p, int) and not isinstance(p, bool) for p in pair)
            or not 0 <= pair[0] < pair[1] <= text_length
        ):
            raise RecommendationError(f"{where}: evidence spans must lie inside the report text")
        out.append((int(pair[0]), int(pair[1])))
    return tuple(out)
