"""The course of the edema between two exams of the same patient and site.

Strategy: the report's own comparison language decides when it speaks about
the edema ("the marrow edema has progressed", "Ödem rückläufig"): it is read in
the sentences that hold an edema mention (the annotator gives their spans).
Otherwise the two annotations are compared: edema then and not now is
resolved, not then and now is new, both is progressed or improved by the
severity and the number of bones, else persistent. Progression, or a collapse
or crescent that the earlier exam did not have (affirmed, not "no collapse"),
escalates the osteonecrosis concern. Word lists, English and German, are in
`followup/data/course.json`.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from followup.detect import sentences
from followup.model import Course
from followup.regex_union import any_search
from followup.regions import sides_compatible
from nlp.model import Annotation

SEVERITY_RANK = {"mild": 1, "moderate": 2, "severe": 3, "extensive": 4}
# Sentences that speak of the past or the question, not of this exam's findings.
_NOT_FINDINGS = re.compile(
    r"^\W*(?:history|clinical|indication|comparison|reason|anamnese|fragestellung|vergleich|"
    r"klinische|voruntersuchung)",
    re.IGNORECASE,
)
# Strongest first: "persistent but increased" is progression, "resolving" improvement.
_ORDER = ("resolved", "progressed", "improved", "persistent", "new")


@dataclass(frozen=True)
class SiteFindings:
    """What one exam says about the edema at one region and side."""

    edema: bool  # present or possible edema there
    bones: frozenset[str] = frozenset()
    severity: int = 0  # SEVERITY_RANK of the strongest mention, 0 when unknown
    collapse: bool = False  # an affirmed collapse, crescent or subchondral fracture

    def to_dict(self) -> dict[str, Any]:
        return {
            "edema": self.edema,
            "bones": sorted(self.bones),
            "severity": self.severity,
            "collapse": self.collapse,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SiteFindings:
        return cls(
            edema=bool(data["edema"]),
            bones=frozenset(data.get("bones", ())),
            severity=int(data.get("severity", 0)),
            collapse=bool(data.get("collapse", False)),
        )


@functools.cache
def _words() -> dict[str, tuple[re.Pattern[str], ...]]:
    data = json.loads(
        resources.files("followup").joinpath("data", "course.json").read_text(encoding="utf-8")
    )
    return {
        name: tuple(re.compile(p, re.IGNORECASE) for p in patterns)
        for name, patterns in data.items()
    }


def _affirmed(pattern: re.Pattern[str], sentence: str) -> re.Match[str] | None:
    negation = _words()["negation"]
    for match in pattern.finditer(sentence):
        if not any(n.search(sentence[: match.start()]) for n in negation):
            return match
    return None


def stated_course(sentences: list[tuple[int, int, str]]) -> tuple[str, tuple[int, int]] | None:
    """The course a report states about its edema, and the sentence span that says it."""
    words = _words()
    for course in _ORDER:
        for start, end, sentence in sentences:
            if not any_search(words[course], sentence):  # most sentences: one search
                continue
            if any(_affirmed(p, sentence) for p in words[course]):
                return course, (start, end)
    return None


def has_collapse(sentences: list[tuple[int, int, str]]) -> tuple[int, int] | None:
    """The span of a sentence that affirms collapse, a crescent or a subchondral fracture."""
    collapse = _words()["collapse"]
    for start, end, sentence in sentences:
        if not any_search(collapse, sentence):  # most sentences: one search
            continue
        if any(_affirmed(p, sentence) for p in collapse):
            return start, end
    return None


def course_of(
    prior: SiteFindings, current: SiteFindings, stated: tuple[str, tuple[int, int]] | None
) -> Course:
    """The course from `prior` to `current`, the report's own statement first."""
    evidence: tuple[tuple[int, int], ...]
    if stated is not None:
        course, span = stated
        basis, evidence = "comparison", (span,)
    else:
        course, basis, evidence = _compared(prior, current), "annotations", ()
    reasons = []
    if course == "progressed":
        reasons.append("the edema progressed")
    if current.collapse and not prior.collapse and (prior.edema or current.edema):
        reasons.append("new collapse, crescent or subchondral fracture after bone marrow edema")
    return Course(
        course=course,
        basis=basis,
        escalate_osteonecrosis=bool(reasons),
        evidence=evidence,
        reason="; ".join(reasons),
    )


def _compared(prior: SiteFindings, current: SiteFindings) -> str:
    if prior.edema and not current.edema:
        return "resolved"
    if not prior.edema:
        return "new"  # course_since never asks when neither exam has edema
    if current.severity and prior.severity and current.severity != prior.severity:
        return "progressed" if current.severity > prior.severity else "improved"
    if len(current.bones) != len(prior.bones) and (current.bones and prior.bones):
        return "progressed" if len(current.bones) > len(prior.bones) else "improved"
    return "persistent"


def site_findings(
    annotation: Annotation, text: str, region: str | None, side: str | None
) -> SiteFindings:
    """What one report says about the edema at `region` and `side` (bones by their joint)."""
    from nlp.ruleset import joint_of_bones

    joint_of = joint_of_bones(annotation.language)
    bones = frozenset(
        s.bone
        for s in annotation.sites
        if joint_of.get(s.bone) == region and sides_compatible(side, s.laterality)
    )
    severity = max(
        (
            SEVERITY_RANK.get(m.severity or "", 0)
            for m in annotation.mentions
            if m.status in ("present", "possible") and set(m.bones) & bones
        ),
        default=0,
    )
    current = [(s.start, s.end, s.text) for s in sentences(text) if not _NOT_FINDINGS.match(s.text)]
    return SiteFindings(
        edema=bool(bones),
        bones=bones,
        severity=severity,
        collapse=has_collapse(current) is not None,
    )


def course_since(
    prior: SiteFindings | None, current: SiteFindings, annotation: Annotation, text: str
) -> Course | None:
    """The course against the earlier exam, from the edema sentences; None without one.

    None too when neither exam has edema there (nothing has a course).
    """
    if prior is None or not (prior.edema or current.edema):
        return None
    spans = sorted(
        {(m.sentence_start, m.sentence_end) for m in annotation.mentions if m.sentence_end}
    )
    return course_of(prior, current, stated_course([(s, e, text[s:e]) for s, e in spans]))
