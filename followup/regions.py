"""Body region, side and modality: from a procedure (OBR-4, AIS-3), a sentence, or the findings.

Strategy: one vocabulary for English and German (procedures arrive in either
language whatever the report's language), in `followup/data/regions.json`.
Regions are the joints `nlp` files its bones under (knee, hip, ankle, shoulder,
wrist, spine) plus elbow, so a recommendation read from the findings and an
order read from its procedure name the same region.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class Vocabulary:
    regions: tuple[tuple[str, tuple[re.Pattern[str], ...]], ...]
    sides: tuple[tuple[str, tuple[re.Pattern[str], ...]], ...]
    modalities: tuple[tuple[str, tuple[re.Pattern[str], ...]], ...]
    service_sections: dict[str, str]


def _compiled(table: dict[str, list[str]]) -> tuple[tuple[str, tuple[re.Pattern[str], ...]], ...]:
    return tuple(
        (name, tuple(re.compile(p, re.IGNORECASE) for p in patterns))
        for name, patterns in table.items()
    )


@functools.cache
def vocabulary() -> Vocabulary:
    """The region, side and modality words (loaded once)."""
    data: dict[str, Any] = json.loads(
        resources.files("followup").joinpath("data", "regions.json").read_text(encoding="utf-8")
    )
    return Vocabulary(
        regions=_compiled(data["regions"]),
        sides=_compiled(data["sides"]),
        modalities=_compiled(data["modalities"]),
        service_sections={k.upper(): v for k, v in data["service_sections"].items()},
    )


def _first_hit(text: str, table: tuple[tuple[str, tuple[re.Pattern[str], ...]], ...]) -> str | None:
    """The name whose pattern matches earliest in `text`."""
    best: tuple[int, str] | None = None
    for name, patterns in table:
        for pattern in patterns:
            match = pattern.search(text)
            if match and (best is None or match.start() < best[0]):
                best = (match.start(), name)
    return best[1] if best else None


# A site's many readers ask about the same procedure names (a hospital has a few hundred)
# and the same sentences several times per report: the answers are kept for the latest.
_REMEMBERED = 1024


@functools.lru_cache(maxsize=_REMEMBERED)
def region_of(text: str | None) -> str | None:
    """The body region a procedure or sentence names first, or None."""
    return _first_hit(text, vocabulary().regions) if text else None


@functools.lru_cache(maxsize=_REMEMBERED)
def side_of(text: str | None) -> str | None:
    """left, right or bilateral as named in a procedure or sentence; both sides named: bilateral."""
    if not text:
        return None
    found = {
        name
        for name, patterns in vocabulary().sides
        if any(pattern.search(text) for pattern in patterns)
    }
    if "bilateral" in found or {"left", "right"} <= found:
        return "bilateral"
    return next(iter(found), None)


def modality_of(procedure: str | None, service_section: str = "") -> str | None:
    """MRI, CT or radiograph from OBR-24 (MR, CT, CR, ...) or else the procedure text."""
    section = vocabulary().service_sections.get(service_section.strip().upper())
    if section:
        return section
    return _first_hit(procedure, vocabulary().modalities) if procedure else None


def sides_compatible(wanted: str | None, seen: str | None) -> bool:
    """Whether an exam of side `seen` covers a recommendation for side `wanted`.

    Unknown on either side is compatible (many procedures do not say); bilateral
    covers left and right; left never covers right.
    """
    if wanted is None or seen is None or wanted == seen:
        return True
    return seen == "bilateral"
