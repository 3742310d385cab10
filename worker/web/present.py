"""Turning stored annotations into what the pages show: highlighted text, readable labels."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

# Mention statuses the page colours alike: both are "not a current finding".
STATUS_CLASS = {
    "present": "present",
    "possible": "possible",
    "negated": "negated",
    "historical": "historical",
    "hypothetical": "historical",
}
STATUS_LABEL = {
    "present": "present",
    "possible": "possible",
    "negated": "negated",
    "historical": "historical",
    "hypothetical": "hypothetical",
}
# ConText modifier categories -> the cue's colour; anything else (an etiology cue) is "cause".
CUE_CLASS = {
    "negated_existence": "negated",
    "negated": "negated",
    "negation": "negated",
    "possible_existence": "possible",
    "possible": "possible",
    "uncertain": "possible",
    "historical": "historical",
    "hypothetical": "historical",
    "pseudo": "pseudo",
}
LATERALITY_LABEL = {"left": "L", "right": "R", "bilateral": "bilat."}


@dataclass(frozen=True)
class Segment:
    """A run of report text; `mention` is set for a highlighted BME mention.

    `evidence` marks text of a sentence a flag rests on; `cue` a ConText modifier
    (negation, uncertainty, history, cause) that the annotation located.
    """

    text: str
    mention: dict[str, Any] | None = None
    number: int = 0  # 1-based mention number shown beside the highlight
    evidence: bool = False
    cue: dict[str, Any] | None = None

    @property
    def css_class(self) -> str:
        return (
            "mention-" + STATUS_CLASS.get(str(self.mention["status"]), "present")
            if self.mention
            else ""
        )

    @property
    def cue_class(self) -> str:
        """`cue cue-negated` etc. for a ConText modifier (medspaCy or radflag category names)."""
        if not self.cue:
            return ""
        category = str(self.cue.get("category", "")).lower()
        return "cue cue-" + CUE_CLASS.get(category, "cause")


def segments(
    text: str, mentions: list[dict[str, Any]], *, evidence: list[str] | None = None
) -> list[Segment]:
    """Split `text` into plain runs, mention runs, evidence and cue runs, by offsets.

    A mention whose offsets do not match the text, or that overlaps an earlier
    one, is left unhighlighted rather than shown in the wrong place. Evidence
    sentences are found in the text; cues come from each mention's `modifiers`
    (`{"start", "end", "text", "category"}`) when the annotation gives them.
    A mention is never split: evidence and cue edges inside one are dropped.
    """
    ordered = sorted(
        (m for m in mentions if _fits(text, m)), key=lambda m: (int(m["start"]), -int(m["end"]))
    )
    kept: list[dict[str, Any]] = []
    for candidate in ordered:
        if not kept or int(candidate["start"]) >= int(kept[-1]["end"]):
            kept.append(candidate)
    spans = [(int(m["start"]), int(m["end"])) for m in kept]
    evidence_spans = []
    for sentence in evidence or []:
        found = text.find(sentence) if sentence else -1
        if found >= 0:
            evidence_spans.append((found, found + len(sentence)))
    cues = [
        c
        for m in mentions
        for c in m.get("modifiers") or []
        if _fits(text, c) and not any(s < int(c["end"]) and int(c["start"]) < e for s, e in spans)
    ]
    cut = {0, len(text)}
    for start, end in evidence_spans:
        cut.update((start, end))
    for c in cues:
        cut.update((int(c["start"]), int(c["end"])))
    cut = {p for p in cut if not any(s < p < e for s, e in spans)}
    cut.update(p for span in spans for p in span)
    points = sorted(cut)
    out: list[Segment] = []
    numbers = {id(m): n for n, m in enumerate(kept, start=1)}
    for start, end in itertools.pairwise(points):
        if start >= end:
            continue
        mention: dict[str, Any] | None = next((m for m in kept if int(m["start"]) == start), None)
        cue = next((c for c in cues if int(c["start"]) <= start and end <= int(c["end"])), None)
        out.append(
            Segment(
                text[start:end],
                mention,
                numbers[id(mention)] if mention else 0,
                evidence=any(s <= start and end <= e for s, e in evidence_spans),
                cue=cue,
            )
        )
    return out


def _fits(text: str, mention: dict[str, Any]) -> bool:
    try:
        start, end = int(mention["start"]), int(mention["end"])
    except (KeyError, TypeError, ValueError):
        return False
    return 0 <= start < end <= len(text) and text[start:end] == mention.get("text")


def bone_label(bone: str) -> str:
    """`medial_femoral_condyle` -> `medial femoral condyle`."""
    return bone.replace("_", " ")


def site_label(bone: str, laterality: str | None) -> str:
    """A bone with its side, e.g. `medial femoral condyle (R)`."""
    side = LATERALITY_LABEL.get(laterality or "", "")
    return f"{bone_label(bone)} ({side})" if side else bone_label(bone)


def flag_label(code: str) -> str:
    """`OSTEONECROSIS_CONCERN` -> `Osteonecrosis concern`."""
    words = [w if w == "BME" else w.lower() for w in code.split("_")]
    return " ".join(words)[:1].upper() + " ".join(words)[1:]
