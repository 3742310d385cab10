"""Turning stored annotations into what the pages show: highlighted text, readable labels."""

from __future__ import annotations

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
LATERALITY_LABEL = {"left": "L", "right": "R", "bilateral": "bilat."}


@dataclass(frozen=True)
class Segment:
    """A run of report text; `mention` is set for a highlighted BME mention."""

    text: str
    mention: dict[str, Any] | None = None
    number: int = 0  # 1-based mention number shown beside the highlight

    @property
    def css_class(self) -> str:
        return (
            "mention-" + STATUS_CLASS.get(str(self.mention["status"]), "present")
            if self.mention
            else ""
        )


def segments(text: str, mentions: list[dict[str, Any]]) -> list[Segment]:
    """Split `text` into plain runs and mention runs, using the mentions' offsets.

    A mention whose offsets do not match the text, or that overlaps an earlier
    one, is left unhighlighted rather than shown in the wrong place.
    """
    ordered = sorted(
        (m for m in mentions if _fits(text, m)), key=lambda m: (int(m["start"]), -int(m["end"]))
    )
    out: list[Segment] = []
    position = 0
    for number, mention in enumerate(ordered, start=1):
        start, end = int(mention["start"]), int(mention["end"])
        if start < position:
            continue
        if start > position:
            out.append(Segment(text[position:start]))
        out.append(Segment(text[start:end], mention, number))
        position = end
    if position < len(text):
        out.append(Segment(text[position:]))
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
