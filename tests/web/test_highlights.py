"""Report highlights: mentions, evidence sentences and ConText cues, by offsets."""

from __future__ import annotations

from worker.web.present import segments

TEXT = "Findings: No bone marrow edema of the talus. Bone bruise of the tibia after a fall."


def _span(part: str, **extra: object) -> dict:
    start = TEXT.index(part)
    return {"start": start, "end": start + len(part), "text": part, **extra}


def test_mentions_evidence_and_cues() -> None:
    negated = _span("bone marrow edema", status="negated",
                    modifiers=[_span("No", category="NEGATED_EXISTENCE")])  # fmt: skip
    bruise = _span("Bone bruise", status="present",
                   modifiers=[_span("after a fall", category="trauma")])  # fmt: skip
    evidence = ["Bone bruise of the tibia after a fall."]
    parts = segments(TEXT, [negated, bruise], evidence=evidence)
    assert "".join(p.text for p in parts) == TEXT  # nothing lost or doubled
    marks = [(p.text, p.number, p.evidence) for p in parts if p.mention]
    assert marks == [("bone marrow edema", 1, False), ("Bone bruise", 2, True)]
    cues = [(p.text, p.cue_class) for p in parts if p.cue]
    assert cues == [("No", "cue cue-negated"), ("after a fall", "cue cue-cause")]
    assert "".join(p.text for p in parts if p.evidence) == evidence[0]


def test_misplaced_cues_and_unknown_evidence_are_left_out() -> None:
    bad_cue = _span("Bone bruise", status="present",
                    modifiers=[{"start": 0, "end": 3, "text": "xyz", "category": "HISTORICAL"},
                               _span("bruise", category="HISTORICAL")])  # fmt: skip
    parts = segments(TEXT, [bad_cue], evidence=["Not in the report."])
    assert not any(p.cue for p in parts)  # wrong text, or inside the mention: not shown
    assert not any(p.evidence for p in parts)
    assert [p.text for p in parts if p.mention] == ["Bone bruise"]
