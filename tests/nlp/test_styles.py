"""Other dictation styles: hard-wrapped lines, CRLF, all caps, no colons, persistence wording."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nlp import annotate
from nlp.layout import LayoutReader
from nlp.ruleset import load_ruleset

WRAPPED = (
    "MRI LEFT KNEE\n"
    "FINDINGS:\n"
    "Bone marrow: There is bone marrow\n"
    "edema in the lateral femoral\n"
    "condyle and posterolateral tibial plateau, consistent with\n"
    "bone contusions. No fracture.\n"
    "IMPRESSION:\n"
    "1. Bone contusions of the LFC and\n"
    "posterolateral tibial plateau.\n"
)


def test_hard_wrapped_report() -> None:
    """Phrases broken over lines are found, with exact offsets into the original text."""
    annotation = annotate(WRAPPED)
    assert annotation.bme == "present"
    assert {(s.bone, s.laterality) for s in annotation.sites} == {
        ("lateral_femoral_condyle", "left"),
        ("lateral_tibial_plateau", "left"),
    }
    for m in annotation.mentions:
        assert WRAPPED[m.start : m.end] == m.text
    assert annotation.mentions[0].text == "bone marrow\nedema"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("No edema in the talus\nor calcaneus.", "No edema in the talus or calcaneus."),
        ("Findings:\nNormal.", "Findings:\nNormal."),
        ("No fracture.\nBone bruise.", "No fracture.\nBone bruise."),
        ("Bone marrow edema\n1. Effusion.", "Bone marrow edema\n1. Effusion."),
        ("Edema in the talus,\nCalcaneus.", "Edema in the talus, Calcaneus."),
        ("Edema of the\r\nTalus.", "Edema of the  Talus."),
        ("Edema\nBone marrow: normal", "Edema\nBone marrow: normal"),
    ],
)
def test_unwrap_keeps_length_and_hard_breaks(text: str, expected: str) -> None:
    """Soft breaks become spaces (same length); sentence ends, headers and list items stay."""
    unwrapped = LayoutReader(load_ruleset("en")).unwrap(text)
    assert unwrapped == expected
    assert len(unwrapped) == len(text)


@pytest.mark.parametrize(
    "transform",
    [str.upper, str.lower, lambda t: t.replace("\n", "\r\n"), lambda t: t.replace(":", "")],
)
def test_case_line_endings_and_colons_do_not_matter(transform) -> None:
    """The same report in capitals, lower case, CRLF or without colons gives the same result."""
    text = (
        "EXAM: MRI RIGHT HIP\nFINDINGS: There is no fracture. Diffuse bone marrow edema in the "
        "femoral head and neck.\nIMPRESSION: Bone marrow edema of the femoral head and neck, "
        "most consistent with transient osteoporosis."
    )
    annotation = annotate(transform(text))
    assert annotation.bme == "present"
    assert {s.bone for s in annotation.sites} == {"femoral_head", "femoral_neck"}
    assert {s.laterality for s in annotation.sites} == {"right"}
    assert annotation.etiology == ("transient",)


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("The previously noted bone bruise of the MFC has decreased in size.", "present"),
        ("The previously seen bone marrow edema persists.", "present"),
        ("Previously seen bone marrow edema is again seen in the talus.", "present"),
        ("Previously seen bone marrow edema has resolved.", "historical"),
        ("Bone marrow edema in the talus is no longer seen.", "historical"),
        ("Partial resolution of the bone marrow edema in the talus.", "present"),
        ("Bone marrow edema has not completely resolved.", "present"),
    ],
)
def test_persistence_beats_previously(text: str, status: str) -> None:
    """A prior finding said to persist or change is current; one that resolved is not."""
    assert annotate(text).mentions[0].status == status


@pytest.mark.parametrize(
    ("text", "bones"),
    [
        ("Edema in the lateral femoral condyle.", {"lateral_femoral_condyle"}),
        ("Edema within the talar dome.", {"talus"}),
        ("Patchy calcaneal edema.", {"calcaneus"}),
        ("Edema within the bone marrow of the cuboid.", {"cuboid"}),
        ("Bone edema of the navicular.", {"navicular"}),
        (
            "Bone marrow edema in the medial and lateral tibial plateaus.",
            {"medial_tibial_plateau", "lateral_tibial_plateau"},
        ),
    ],
)
def test_edema_named_by_its_bone(text: str, bones: set[str]) -> None:
    """'Edema in the <bone>' and '<bone> edema' count as marrow edema."""
    annotation = annotate(text)
    assert annotation.bme == "present"
    assert {s.bone for s in annotation.sites} == bones


@pytest.mark.parametrize(
    "text",
    [
        "Periosteal edema of the second metatarsal.",
        "Soft tissue edema in the lateral malleolus region.",
        "Edema of the medial head of the gastrocnemius.",
        "Edema in Hoffa's fat pad next to the lateral femoral condyle.",
    ],
)
def test_edema_beside_a_bone_is_not_marrow_edema(text: str) -> None:
    """Edema of soft tissue near a bone is no mention."""
    assert annotate(text).bme == "absent"


# -- the English styles set: reports in styles the dev corpus lacks ------------------------------

STYLES = Path(__file__).resolve().parent.parent / "fixtures" / "reports" / "styles_en.jsonl"
# Reached 1.000 on status, sites and flags and 0.98 on etiology when written;
# the margins leave room for honest rule changes, not for regressions.
STYLE_THRESHOLDS = {
    "status_acc": 0.95,
    "flag_f1": 0.95,
    "site_f1": 0.93,
    "etiology_f1": 0.92,
    "priority_acc": 0.95,
}
_PRIORITY = {"routine": 1, "high": 2, "urgent": 3}
_FLAG_PRIORITY = {
    "BME": "routine",
    "BME_POSSIBLE": "routine",
    "OSTEONECROSIS_CONCERN": "high",
    "INFECTION_CONCERN": "urgent",
    "TUMOR_CONCERN": "high",
    "REACTIVE": "routine",
    "TRAUMA_OVERLOAD": "routine",
    "TRANSIENT_BME": "routine",
}


def _style_reports() -> list[dict[str, Any]]:
    with STYLES.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _f1(pairs: list[tuple[set[Any], set[Any]]]) -> float:
    """Micro F1 over (gold, predicted) sets, as the shared score.py counts it."""
    tp = sum(len(g & p) for g, p in pairs)
    fp = sum(len(p - g) for g, p in pairs)
    fn = sum(len(g - p) for g, p in pairs)
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0


def _top(codes: set[str]) -> int:
    return max((_PRIORITY[_FLAG_PRIORITY[c]] for c in codes), default=0)


def score_styles() -> dict[str, float]:
    """status accuracy, priority accuracy and flag/site/etiology F1 over the styles set."""
    status = priority = 0
    flags, sites, etiology = [], [], []
    reports = _style_reports()
    for report in reports:
        gold = report["gold"]
        annotation = annotate(report["text"], report.get("procedure"))
        for mention in annotation.mentions:
            assert report["text"][mention.start : mention.end] == mention.text, report["id"]
        codes = {f.code for f in annotation.flags}
        assert all(f.suggestion for f in annotation.flags)
        status += annotation.bme == gold["bme"]
        priority += _top(codes) == _top(set(gold["flags"]))
        flags.append((set(gold["flags"]), codes))
        sites.append(
            (
                {(s["bone"], s["laterality"]) for s in gold["sites"]},
                {(s.bone, s.laterality) for s in annotation.sites},
            )
        )
        etiology.append((set(gold["etiology"]), set(annotation.etiology)))
    return {
        "status_acc": status / len(reports),
        "priority_acc": priority / len(reports),
        "flag_f1": _f1(flags),
        "site_f1": _f1(sites),
        "etiology_f1": _f1(etiology),
    }


def test_styles_set_is_varied_and_synthetic() -> None:
    """The set covers every status, every etiology category, spine and both sides."""
    reports = _style_reports()
    assert len(reports) >= 70
    assert len({r["id"] for r in reports}) == len(reports)
    assert {r["gold"]["bme"] for r in reports} == {"present", "possible", "absent"}
    categories = {c for r in reports for c in r["gold"]["etiology"]}
    assert len(categories) == 9
    sides = {s["laterality"] for r in reports for s in r["gold"]["sites"]}
    assert sides == {"left", "right", "bilateral", None}


def test_styles_set_meets_thresholds() -> None:
    """Reports in other styles (no headers, caps, bullets, British, terse, addenda) score well."""
    figures = score_styles()
    failed = {k: round(v, 3) for k, v in figures.items() if v < STYLE_THRESHOLDS[k]}
    assert not failed, f"{failed} (all: {figures})"


@pytest.mark.parametrize(
    ("text", "procedure", "bme", "sites", "etiology"),
    [
        # Post-negation of a cause; technique "without contrast" negates nothing.
        (
            "Marrow edema in the cuboid. Osteomyelitis is not suspected.",
            "MRI FOOT RIGHT",
            "present",
            {("cuboid", "right")},
            set(),
        ),
        (
            "mri of the left knee without contrast there is a bone bruise of the lateral "
            "femoral condyle",
            None,
            "present",
            {("lateral_femoral_condyle", "left")},
            {"trauma"},
        ),
        # Adjective bone forms.
        (
            "Impression: Questionable subtle patellar marrow edema.",
            "MRI KNEE RIGHT",
            "possible",
            {("patella", "right")},
            set(),
        ),
        # "Both sides of the joint" is two articular surfaces, not both sides of the body.
        (
            "Subchondral bone marrow oedema in the talar dome on both sides of the joint.",
            "MRI ANKLE LEFT",
            "present",
            {("talus", "left")},
            set(),
        ),
        # Sacrum on the right joint and on the sacral side of the left joint: bilateral.
        (
            "Bone marrow oedema on both sides of the right sacroiliac joint (sacral and iliac) "
            "and on the sacral side of the left SI joint.\nConclusion: Active sacroiliitis.",
            None,
            "present",
            {("sacrum", "bilateral"), ("ilium", "right")},
            {"inflammatory"},
        ),
        # Bones after "with edema in" win over the other finding's bones.
        (
            "Cartilage loss over the medial femoral condyle and medial tibial plateau with "
            "subchondral bone marrow edema in the medial femoral condyle.",
            "MRI KNEE LEFT",
            "present",
            {("medial_femoral_condyle", "left")},
            {"degenerative"},
        ),
        # A weak cue (bare fracture) gives way to a named cause at the same bone.
        (
            "Findings: Compression fracture of L1 with bone marrow edema in the vertebral body.\n"
            "Impression: Osteoporotic insufficiency fracture of L1 with marrow edema.",
            None,
            "present",
            {("vertebral_body", None)},
            {"overload"},
        ),
        # A summary sentence relates its cause to the edema before it.
        (
            "there is edema of the lunate with cysts. the tfcc is perforated. findings most "
            "consistent with ulnar impaction.",
            "MRI WRIST LEFT",
            "present",
            {("lunate", "left")},
            {"degenerative"},  # ulnar impaction: chondral wear with subchondral edema
        ),
        # A cause in a neighbouring sentence about another bone is not this edema's.
        (
            "Bone bruise of the lateral tibial plateau. Incidental enchondroma in the distal "
            "femoral metaphysis.",
            "MRI KNEE RIGHT",
            "present",
            {("lateral_tibial_plateau", "right")},
            {"trauma"},
        ),
        # Degeneration of a joint outside the vocabulary is no cause of humeral edema.
        (
            "Reactive marrow edema at the greater tuberosity. AC joint degenerative changes.",
            "MRI SHOULDER LEFT",
            "present",
            {("humeral_head", "left")},
            {"reactive"},
        ),
        # A short finding line after prose is no title line.
        (
            "MRI LEFT HIP. 38M, acute pain.\nDiffuse BME femoral head/neck.\nImpression: TOH.",
            "MRI HIP LEFT",
            "present",
            {("femoral_head", "left"), ("femoral_neck", "left")},
            {"transient"},
        ),
        # A generic "tibial plateau" is the plateau the findings named.
        (
            "Findings: BML in the medial tibial plateau.\n"
            "Impression: Osteoarthritis with bone marrow lesion of the tibial plateau.",
            "MRI KNEE LEFT",
            "present",
            {("medial_tibial_plateau", "left")},
            {"degenerative"},
        ),
        # Post-negated fracture does not make the edema traumatic.
        (
            "Bone marrow edema in the medial tibial plateau. A fracture was excluded. "
            "Impression: Marrow edema with medial compartment degenerative change.",
            "MRI KNEE RIGHT",
            "present",
            {("medial_tibial_plateau", "right")},
            {"degenerative"},
        ),
        # "Unlikely" denies a cause; "of uncertain etiology" doubts the cause, not the edema.
        (
            "Impression: Subchondral insufficiency fracture with bone marrow edema of the femoral "
            "head. Osteonecrosis is considered unlikely.",
            "MRI HIP LEFT",
            "present",
            {("femoral_head", "left")},
            {"overload"},
        ),
        (
            "Bone marrow edema in the right iliac bone of uncertain etiology.",
            None,
            "present",
            {("ilium", "right")},
            set(),
        ),
        # A bare fracture named at the site in the impression, when nothing else is named.
        (
            "Findings: Low signal line in the femoral neck with surrounding bone marrow edema.\n"
            "Impression: Nondisplaced subcapital femoral neck fracture.",
            "MRI HIP RIGHT",
            "present",
            {("femoral_neck", "right")},
            {"trauma"},
        ),
        # "versus" between causes after a comma doubts the cause, not the edema.
        (
            "Impression: Small medial tibial plateau marrow edema, contusion versus stress "
            "reaction.",
            "MRI KNEE LEFT",
            "present",
            {("medial_tibial_plateau", "left")},
            {"trauma", "overload"},
        ),
        # Nearly resolved is still there; a distal tibial metaphysis is no proximal tibia.
        (
            "The bone marrow edema of the lateral femoral condyle seen on the prior study has "
            "nearly resolved, with only a small residual area.",
            "MRI KNEE RIGHT",
            "present",
            {("lateral_femoral_condyle", "right")},
            set(),
        ),
        (
            "Moderate marrow edema in the distal tibial metaphysis without fracture line.",
            "MRI ANKLE RIGHT",
            "present",
            {("distal_tibia", "right")},
            set(),
        ),
        # "Reactive" is for edema with no named cause; a location adjective names the bone.
        (
            "Full-thickness chondral defect of the MFC with underlying reactive subchondral edema.",
            "MRI KNEE LEFT",
            "present",
            {("medial_femoral_condyle", "left")},
            {"degenerative"},
        ),
        (
            "Anterior corner edema at L2 and L3, in keeping with ankylosing spondylitis.",
            None,
            "present",
            {("vertebral_body", None)},
            {"inflammatory"},
        ),
        (
            "Hyperintense marrow signal in the posterior calcaneus consistent with edema.",
            "MRI ANKLE RIGHT",
            "present",
            {("calcaneus", "right")},
            set(),
        ),
    ],
)
def test_general_rules_for_other_styles(
    text: str, procedure: str | None, bme: str, sites: set[Any], etiology: set[str]
) -> None:
    """Rule families behind the styles set, one sentence each."""
    annotation = annotate(text, procedure)
    assert annotation.bme == bme
    assert {(s.bone, s.laterality) for s in annotation.sites} == sites
    assert set(annotation.etiology) == etiology


def test_a_named_cause_outside_the_categories_keeps_weak_cues_out() -> None:
    """Charcot neuroarthropathy explains the edema; its subluxation is not trauma."""
    text = (
        "Marrow edema in the cuboid with joint subluxation at the Lisfranc joint, consistent "
        "with active Charcot neuroarthropathy."
    )
    assert annotate(text, "MRI FOOT RIGHT").etiology == ()
    assert annotate("Marrow edema in the cuboid after a subluxation.").etiology == ("trauma",)
