"""An annotated report -> its structured follow-up recommendations.

Strategy: each flag's suggestion has a structured default (per language, in
`nlp/rules/<lang>/recommendations.json`); a report with several flags gets one
default per modality, the one due soonest (BME with osteonecrosis concern: one
MRI in 2-4 weeks, not two MRIs). A radiologist's own recommendation in the
text wins over the default of its modality (its interval, condition and
wording), and keeps its sentence as evidence; defaults of other modalities
stay (an infection work-up is still due when the report asks for an MRI).
Only flagged reports get recommendations: radflag tracks the follow-up of
bone marrow edema, not every sentence that mentions imaging.
"""

from __future__ import annotations

from collections import Counter

from followup.detect import FoundRecommendation, find_recommendations
from followup.model import Interval, Recommendation
from followup.regions import region_of, side_of
from followup.rules import DefaultRecommendation, load_rules
from nlp.model import PRIORITY_RANK, Annotation

ESCALATION_FLAG = "OSTEONECROSIS_CONCERN"
_FALLBACK_INTERVAL = Interval(42, 56)


def finding_site(annotation: Annotation, procedure: str | None) -> tuple[str | None, str | None]:
    """The region and side of the edema: its bones' joint (most sites), else the procedure's."""
    from nlp.ruleset import joint_of_bones

    joint_of = joint_of_bones(annotation.language)
    regions = Counter(joint_of[s.bone] for s in annotation.sites if joint_of.get(s.bone))
    region = regions.most_common(1)[0][0] if regions else region_of(procedure)
    sides = {s.laterality for s in annotation.sites if joint_of.get(s.bone) == region}
    sides.discard(None)
    if "bilateral" in sides or {"left", "right"} <= sides:
        side: str | None = "bilateral"
    elif sides:
        side = sides.pop()
    else:
        side = side_of(procedure)
    return region, side


def recommend(
    annotation: Annotation,
    text: str,
    procedure: str | None = None,
    *,
    escalate: bool = False,
) -> list[Recommendation]:
    """The report's recommendations: its own first, then the defaults of other modalities.

    `escalate` (the edema progressed, or collapse appeared) adds the
    osteonecrosis default even when the annotator did not raise that flag.
    """
    codes = [f.code for f in sorted(annotation.flags, key=lambda f: -PRIORITY_RANK[f.priority])]
    if escalate and ESCALATION_FLAG not in codes:
        codes.insert(0, ESCALATION_FLAG)
    if not codes:
        return []
    language = annotation.language
    rules = load_rules(language)
    region, side = finding_site(annotation, procedure)
    defaults = _defaults_by_modality(codes, rules.defaults)
    own = _own(find_recommendations(text, language), defaults, codes, region, side, language)
    covered = {r.modality for r in own}
    for modality, (code, default) in defaults.items():
        if modality in covered:
            continue
        own.append(
            Recommendation(
                modality=default.modality,  # type: ignore[arg-type]
                region=region,
                side=side,
                interval=default.interval,
                urgency=default.urgency,  # type: ignore[arg-type]
                condition=default.condition,
                text=default.text,
                source="default",
                flag=code,
                language=language,
            )
        )
    return own


def _defaults_by_modality(
    codes: list[str], defaults: dict[str, DefaultRecommendation]
) -> dict[str, tuple[str, DefaultRecommendation]]:
    chosen: dict[str, tuple[str, DefaultRecommendation]] = {}
    for code in codes:
        default = defaults.get(code)
        if default is None:
            continue
        held = chosen.get(default.modality)
        if held is None or default.interval.max_days < held[1].interval.max_days:
            chosen[default.modality] = (code, default)
    return chosen


def _own(
    found: list[FoundRecommendation],
    defaults: dict[str, tuple[str, DefaultRecommendation]],
    codes: list[str],
    region: str | None,
    side: str | None,
    language: str,
) -> list[Recommendation]:
    by_modality: dict[str, Recommendation] = {}
    for item in found:
        modality = item.modality or "MRI"  # "follow-up in 6 weeks" after an MRI: an MRI
        held = by_modality.get(modality)
        if held is not None:  # a second sentence on the same follow-up: more evidence
            by_modality[modality] = _with_evidence(held, (item.start, item.end))
            continue
        code, default = defaults.get(modality, (codes[0], None))
        interval = item.interval or (default.interval if default else _FALLBACK_INTERVAL)
        by_modality[modality] = Recommendation(
            modality=modality,  # type: ignore[arg-type]
            region=item.region or region,
            side=item.side or side,
            interval=interval,
            urgency=(item.urgency or (default.urgency if default else "routine")),  # type: ignore[arg-type]
            condition=item.condition,
            text=item.text,
            source="report",
            evidence=((item.start, item.end),),
            flag=code,
            language=language,
        )
    return list(by_modality.values())


def _with_evidence(held: Recommendation, span: tuple[int, int]) -> Recommendation:
    from dataclasses import replace

    return replace(held, evidence=(*held.evidence, span))
