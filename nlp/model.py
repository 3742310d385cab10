"""The annotator's output: small frozen dataclasses, serialised to the contract's JSON.

The JSON shape is spec/annotation.md's, key for key; `to_json_dict` is the one
place that knows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

BmeStatus = Literal["present", "possible", "absent"]
MentionStatus = Literal["present", "possible", "negated", "historical", "hypothetical"]
Laterality = Literal["left", "right", "bilateral"] | None
Priority = Literal["routine", "high", "urgent"]

BME_STATUSES: tuple[str, ...] = ("present", "possible", "absent")
MENTION_STATUSES: tuple[str, ...] = ("present", "possible", "negated", "historical", "hypothetical")
SECTIONS: tuple[str, ...] = (
    "history",
    "technique",
    "comparison",
    "findings",
    "impression",
    "addendum",
)
ETIOLOGIES: tuple[str, ...] = (
    "osteonecrosis",
    "trauma",
    "overload",
    "transient",
    "degenerative",
    "inflammatory",
    "infection",
    "tumor",
    "reactive",
)
BONES: tuple[str, ...] = (
    "medial_femoral_condyle",
    "lateral_femoral_condyle",
    "femoral_trochlea",
    "medial_tibial_plateau",
    "lateral_tibial_plateau",
    "patella",
    "fibular_head",
    "distal_femur",
    "proximal_tibia",
    "femoral_head",
    "femoral_neck",
    "acetabulum",
    "greater_trochanter",
    "lesser_trochanter",
    "ilium",
    "pubis",
    "ischium",
    "femoral_shaft",
    "tibial_shaft",
    "fibular_shaft",
    "humeral_shaft",
    "talus",
    "calcaneus",
    "navicular",
    "cuboid",
    "cuneiform",
    "metatarsal",
    "toe_phalanx",
    "sesamoid",
    "distal_tibia",
    "distal_fibula",
    "humeral_head",
    "glenoid",
    "acromion",
    "clavicle",
    "scapula",
    "distal_humerus",
    "capitellum",
    "radial_head",
    "proximal_ulna",
    "distal_radius",
    "distal_ulna",
    "scaphoid",
    "lunate",
    "triquetrum",
    "pisiform",
    "trapezium",
    "trapezoid",
    "capitate",
    "hamate",
    "metacarpal",
    "finger_phalanx",
    "vertebral_body",
    "posterior_elements",
    "sacrum",
    "coccyx",
    "rib",
    "sternum",
)
PRIORITY_RANK: dict[str, int] = {"routine": 1, "high": 2, "urgent": 3}


@dataclass(frozen=True)
class Modifier:
    """A cue word of a mention with its offsets: a ConText category, or a cause category."""

    start: int
    end: int
    text: str
    category: str  # NEGATED_EXISTENCE, POSSIBLE_EXISTENCE, ... or an etiology ("trauma")

    def to_json_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "text": self.text, "category": self.category}


@dataclass(frozen=True)
class Mention:
    """One bone marrow edema mention with its context."""

    start: int
    end: int
    text: str
    status: MentionStatus
    section: str | None
    bones: tuple[str, ...] = ()
    laterality: Laterality = None
    severity: str | None = None
    # Character span of the sentence the mention stands in (evidence for flags).
    sentence_start: int = 0
    sentence_end: int = 0
    # Joints of the bones (knee, hip, ankle, ...); not part of the contract's JSON.
    joints: tuple[str, ...] = ()
    # The words that gave it its status or cause ("no", "possible", "stress
    # fracture"), for people to see: an addition to the contract's keys.
    modifiers: tuple[Modifier, ...] = ()

    def to_json_dict(self, modifiers: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "status": self.status,
            "section": self.section,
            "bones": list(self.bones),
            "laterality": self.laterality,
            "severity": self.severity,
        }
        if modifiers:
            out["modifiers"] = [m.to_json_dict() for m in self.modifiers]
        return out


@dataclass(frozen=True)
class Site:
    """A bone with present or possible edema."""

    bone: str
    laterality: Laterality = None

    def to_json_dict(self) -> dict[str, Any]:
        return {"bone": self.bone, "laterality": self.laterality}


@dataclass(frozen=True)
class Flag:
    """A flag for the sender, with its follow-up suggestion and the sentences it rests on."""

    code: str
    priority: Priority
    suggestion: str
    evidence: tuple[str, ...] = ()

    def to_json_dict(self) -> dict[str, Any]:
        return {"code": self.code, "priority": self.priority, "suggestion": self.suggestion}


@dataclass(frozen=True)
class Annotation:
    """What the annotator says about one report (spec/annotation.md)."""

    bme: BmeStatus
    sites: tuple[Site, ...] = ()
    etiology: tuple[str, ...] = ()
    flags: tuple[Flag, ...] = ()
    mentions: tuple[Mention, ...] = ()
    language: str = "en"

    @property
    def top_priority(self) -> str | None:
        """The highest flag priority, or None without flags."""
        if not self.flags:
            return None
        return max((f.priority for f in self.flags), key=PRIORITY_RANK.__getitem__)

    def to_json_dict(self, report_id: str | None = None, modifiers: bool = True) -> dict[str, Any]:
        """The contract's JSON object; `id` first when given.

        `modifiers` adds each mention's cue words with their offsets (for the
        page); the result message leaves them out and carries the contract's keys.
        """
        out: dict[str, Any] = {} if report_id is None else {"id": report_id}
        out.update(
            bme=self.bme,
            sites=[s.to_json_dict() for s in self.sites],
            etiology=list(self.etiology),
            flags=[f.to_json_dict() for f in self.flags],
            mentions=[m.to_json_dict(modifiers) for m in self.mentions],
            language=self.language,
        )
        return out


__all__ = [
    "BME_STATUSES",
    "BONES",
    "ETIOLOGIES",
    "MENTION_STATUSES",
    "PRIORITY_RANK",
    "SECTIONS",
    "Annotation",
    "Flag",
    "Mention",
    "Modifier",
    "Site",
]
