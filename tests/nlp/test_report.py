"""Report-level logic: the later word stands, history is not current, flags follow the contract."""

from __future__ import annotations

import pytest

from nlp import annotate
from nlp.ruleset import load_ruleset

REPORTS = [
    ("FINDINGS: Bone marrow edema in the talus.\nIMPRESSION: No bone marrow edema.", "absent"),
    (
        "FINDINGS: Possible marrow edema in the talus.\nIMPRESSION: Bone contusion of the talus.",
        "present",
    ),
    (
        "FINDINGS: Bone marrow edema in the talus.\nIMPRESSION: Questionable bone marrow edema of the talus.",  # noqa: E501
        "possible",
    ),
    ("FINDINGS: Bone marrow edema in the talus.\nIMPRESSION: Ankle sprain.", "present"),
    (
        "FINDINGS: No marrow edema.\nIMPRESSION: Normal.\nADDENDUM: Small bone contusion of the talus.",  # noqa: E501
        "present",
    ),
    (
        "FINDINGS: Bone bruise of the talus.\nIMPRESSION: Bone bruise.\nADDENDUM: On review, no bone marrow edema.",  # noqa: E501
        "absent",
    ),
    (
        "CLINICAL HISTORY: Bone marrow edema of the knee, follow-up.\nFINDINGS: Normal marrow signal.",  # noqa: E501
        "absent",
    ),
    ("COMPARISON: Prior MRI showed bone marrow edema.\nFINDINGS: Normal marrow.", "absent"),
    ("HISTORY: follow-up.\nFINDINGS: Bone marrow edema in the talus.", "present"),
    ("Bone marrow edema in the talus. No fracture.", "present"),
    ("FINDINGS: Bone bruise of the talus.\nIMPRESSION: No bone marrow edema elsewhere.", "present"),
    ("FINDINGS: Bone bruise of the talus.\nIMPRESSION: No other bone marrow edema.", "present"),
    ("FINDINGS: Stable bone marrow edema of the MFC.\nIMPRESSION: No new marrow edema.", "present"),
    (
        "Right knee MRI.\nThere is a bone bruise of the LFC. No fracture.\nIMPRESSION: ACL tear.",
        "present",
    ),
    ("", "absent"),
    ("Normal MRI of the knee.", "absent"),
]


@pytest.mark.parametrize(("text", "status"), REPORTS)
def test_report_status(text: str, status: str) -> None:
    """Impression over findings, addendum over both; history and comparison are not current."""
    assert annotate(text).bme == status


def test_history_mention_is_reported_as_historical() -> None:
    """A history-section mention is kept as evidence with status historical."""
    annotation = annotate("CLINICAL HISTORY: Bone marrow edema of the knee.\nFINDINGS: Normal.")
    assert [(m.status, m.section) for m in annotation.mentions] == [("historical", "history")]


@pytest.mark.parametrize(
    ("text", "codes", "priority"),
    [
        ("Bone marrow edema in the talus.", {"BME"}, "routine"),
        ("Possible bone marrow edema in the talus.", {"BME_POSSIBLE"}, "routine"),
        (
            "Bone marrow edema of the femoral head, consistent with osteonecrosis.",
            {"BME", "OSTEONECROSIS_CONCERN"},
            "high",
        ),
        (
            "Marrow edema of the calcaneus, consistent with osteomyelitis.",
            {"BME", "INFECTION_CONCERN", "REACTIVE"},
            "urgent",
        ),
        (
            "Marrow edema around a metastasis in the femoral neck.",
            {"BME", "TUMOR_CONCERN", "REACTIVE"},
            "high",
        ),
        (
            "Bone marrow edema, consistent with a stress reaction.",
            {"BME", "TRAUMA_OVERLOAD"},
            "routine",
        ),
        (
            "Bone marrow edema, most consistent with transient osteoporosis.",
            {"BME", "TRANSIENT_BME"},
            "routine",
        ),
        ("No bone marrow edema.", set(), None),
    ],
)
def test_flags_and_priority(text: str, codes: set[str], priority: str | None) -> None:
    """Flags follow the contract's table, each with its suggestion and evidence."""
    annotation = annotate(text)
    assert {f.code for f in annotation.flags} == codes
    assert annotation.top_priority == priority
    suggestions = load_ruleset("en").suggestions
    for flag in annotation.flags:
        assert flag.suggestion == suggestions[flag.code]
        assert flag.evidence and all(sentence in text for sentence in flag.evidence)


def test_json_shape_is_the_contract() -> None:
    """to_json_dict(modifiers=False) gives exactly the contract's keys plus language."""
    data = annotate("Bone bruise of the left talus.").to_json_dict("r1", modifiers=False)
    assert list(data) == ["id", "bme", "sites", "etiology", "flags", "mentions", "language"]
    assert data["sites"] == [{"bone": "talus", "laterality": "left"}]
    assert set(data["flags"][0]) == {"code", "priority", "suggestion"}
    assert set(data["mentions"][0]) == {
        "start",
        "end",
        "text",
        "status",
        "section",
        "bones",
        "laterality",
        "severity",
    }


def test_mentions_carry_their_cue_words_with_offsets() -> None:
    """By default each mention also lists the words that gave it its status and cause."""
    text = "Findings: No bone marrow edema in the talus. Possible bone bruise after a fall."
    data = annotate(text).to_json_dict("r1")
    negated, possible = data["mentions"]
    assert negated["modifiers"] == [
        {"start": 10, "end": 12, "text": "No", "category": "NEGATED_EXISTENCE"}
    ]
    cues = {(c["text"], c["category"]) for c in possible["modifiers"]}
    assert ("Possible", "POSSIBLE_EXISTENCE") in cues
    for c in possible["modifiers"]:
        assert text[c["start"] : c["end"]] == c["text"]


def test_sites_are_empty_when_absent() -> None:
    """An absent report lists no sites even when negated mentions name bones."""
    assert annotate("No bone marrow edema in the talus.").sites == ()


def test_unknown_language_is_an_error() -> None:
    """Asking for a language without rules raises RuleFileError."""
    from nlp.ruleset import RuleFileError

    with pytest.raises(RuleFileError):
        annotate("Knochenmarködem.", language="xx")


def test_an_impression_denying_edema_at_other_bones_does_not_take_back_the_findings() -> None:
    text = (
        "Findings: New subchondral bone marrow edema in the left ilium.\n"
        "Impression: Resolution of the previous sacral edema."
    )
    assert annotate(text).bme == "present"
    same_bone = (
        "Findings: Bone marrow edema in the left ilium.\nImpression: The iliac edema has resolved."
    )
    assert annotate(same_bone).bme == "absent"
    no_bone = "Findings: Bone marrow edema in the left ilium.\nImpression: No bone marrow edema."
    assert annotate(no_bone).bme == "absent"


def test_an_emergency_indication_is_history() -> None:
    text = (
        "ED indication: an outside MRI 2 years ago reported a bone bruise of the humeral head.\n"
        "Findings: Normal marrow signal."
    )
    assert annotate(text).bme == "absent"


def test_a_teaching_text_s_discussion_is_not_the_patient_s_findings() -> None:
    text = (
        "History: 30-year-old tennis player with lateral elbow pain.\n"
        "Findings: Thickened common extensor tendon. The capitellum shows normal marrow signal.\n"
        "Diagnosis: Lateral epicondylitis.\n"
        "Discussion: In severe cases, reactive bone marrow edema may be seen in the lateral "
        "epicondyle."
    )
    annotation = annotate(text)
    assert annotation.bme == "absent"
    assert [m.section for m in annotation.mentions] == [None]
    causes = (
        "Findings: Bone marrow edema in the medial femoral condyle with a subchondral "
        "insufficiency fracture.\n"
        "Discussion: Marrow edema of the knee is also seen in osteoarthritis and after bone "
        "bruises."
    )
    assert annotate(causes).etiology == ("overload",)


def test_a_differential_list_relates_its_causes_to_the_edema() -> None:
    text = (
        "Findings: Ill-defined marrow edema throughout the talus, bright on STIR.\n"
        "DDx:\n1. Transient bone marrow edema syndrome.\n"
        "2. Early stress reaction after more running.\n"
        "3. Osteonecrosis, unlikely without a serpiginous line."
    )
    assert set(annotate(text).etiology) == {"transient", "overload"}


def test_a_conclusion_within_a_line_and_a_past_tense_summary_sum_up() -> None:
    inline = (
        "MRI 10/2021: New bone marrow edema in the medial femoral condyle. Medial plateau "
        "normal. Conclusion: subchondral insufficiency fracture."
    )
    assert annotate(inline).etiology == ("overload",)
    past = (
        "MRI showed marrow edema in the first metatarsal head. A sinus tract reached the "
        "bone. The appearances were consistent with osteomyelitis."
    )
    assert annotate(past).etiology == ("infection",)


def test_teaching_archive_headers() -> None:
    text = (
        "Case presentation: 41-year-old man with left hip pain, no fall.\n"
        "Imaging findings: Diffuse marrow edema extends from the femoral head into the femoral "
        "neck.\n"
        "Diagnosis: Transient osteoporosis of the hip.\n"
        "Pitfalls: early osteonecrosis may show bone marrow edema with a subchondral band."
    )
    annotation = annotate(text)
    assert annotation.bme == "present"
    assert sorted(s.bone for s in annotation.sites) == ["femoral_head", "femoral_neck"]
    assert annotation.etiology == ("transient",)


def test_the_attending_s_read_is_the_later_word() -> None:
    text = (
        "Resident: Bone marrow edema in the medial femoral condyle.\n"
        "Attending: The signal is a subchondral cyst; no bone marrow edema."
    )
    assert annotate(text).bme == "absent"
