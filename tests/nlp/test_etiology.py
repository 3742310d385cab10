"""Etiology: causes tied to the edema, each within its scope; negated or unrelated causes are left out."""  # noqa: E501

from __future__ import annotations

import pytest

from nlp import annotate

RELATED = [
    ("Bone marrow edema in the femoral head, consistent with avascular necrosis.", "osteonecrosis"),
    ("Extensive bone marrow edema surrounding the lesion, consistent with SONK.", "osteonecrosis"),
    ("Bone marrow edema in the talus. Early osteonecrosis cannot be excluded.", "osteonecrosis"),
    ("Bone marrow edema in the LFC consistent with a pivot-shift injury.", "trauma"),
    ("Non-displaced fracture of the scaphoid waist with bone marrow edema.", "trauma"),
    ("Stress fracture of the second metatarsal with marrow edema.", "overload"),
    (
        "Subchondral insufficiency fracture of the medial tibial plateau with bone marrow edema.",
        "overload",
    ),
    ("Insufficiency compression fracture of L1 with bone marrow edema.", "overload"),
    ("Bone marrow edema, favored to represent a stress reaction.", "overload"),
    (
        "Diffuse bone marrow edema of the femoral head, most consistent with transient osteoporosis.",  # noqa: E501
        "transient",
    ),
    (
        "Patchy bone marrow edema of the foot bones, in keeping with complex regional pain syndrome.",  # noqa: E501
        "transient",
    ),
    ("Migratory transient bone marrow edema of the right femoral head.", "transient"),
    (
        "Subchondral BME in the lateral tibial plateau, in keeping with active osteoarthritis.",
        "degenerative",
    ),
    ("Subchondral BME beneath full-thickness chondral loss.", "degenerative"),
    ("Active sacroiliitis with subchondral bone marrow edema of the ilium.", "inflammatory"),
    (
        "Rheumatoid arthritis with osteitis (bone marrow edema) of the metatarsal heads.",
        "inflammatory",
    ),
    (
        "Marrow edema of the calcaneus with cortical erosion, consistent with osteomyelitis.",
        "infection",
    ),
    ("Questionable marrow edema; early osteomyelitis cannot be excluded.", "infection"),
    (
        "Marrow-replacing lesion with surrounding bone marrow edema, most consistent with metastasis.",  # noqa: E501
        "tumor",
    ),
    ("Perilesional bone marrow edema around an osteoid osteoma.", "tumor"),
    ("Mild reactive bone marrow edema at the tendon origin.", "reactive"),
]


RELATED += [
    (
        "FINDINGS: Bone marrow edema in the medial tibial plateau.\n"
        "IMPRESSION: Subchondral insufficiency fracture of the medial tibial plateau.",
        "overload",
    ),
]


@pytest.mark.parametrize(("text", "category"), RELATED)
def test_cause_related_to_the_edema(text: str, category: str) -> None:
    """A cause in the mention's sentence or the next one is the report's etiology."""
    assert category in annotate(text).etiology


UNRELATED = [
    ("Bone marrow edema in the talus. No evidence of osteonecrosis.", "osteonecrosis"),
    ("Bone marrow edema in the MFC without subchondral fracture.", "trauma"),
    ("Bone marrow edema in the MFC with a fracture line.", "trauma"),
    ("Bone marrow edema in the talus.\nIncidental enchondroma in the distal femur.", "tumor"),
    ("Bone contusion of the LFC.\nDegenerative tear of the medial meniscus.", "degenerative"),
    (
        "Bone marrow edema in the talus. Small effusion. Known osteoarthritis of the knee.",
        "degenerative",
    ),
    ("CLINICAL HISTORY: Evaluate for AVN.\nFINDINGS: Bone bruise of the LFC.", "osteonecrosis"),
    ("Transient lateral patellar dislocation with bone contusions of the patella.", "transient"),
    ("Marrow edema in the talus with elevated inflammatory markers.", "inflammatory"),
    ("Stress fracture of the metatarsal with reactive marrow edema.", "reactive"),
    ("Bone marrow edema in the calcaneus. Fracture line in the cuboid.", "trauma"),
    ("Non-traumatic bone marrow edema of the talus.", "trauma"),
    ("Bone marrow edema of the metatarsal heads, non-inflammatory pattern.", "inflammatory"),
    (
        "FINDINGS: Bone bruise of the lateral femoral condyle.\n"
        "IMPRESSION: Bone bruise.\nEnchondroma of the distal femur.",
        "tumor",
    ),
    (
        "FINDINGS: Increased signal on PD fat-sat images in the lateral femoral condyle.\n"
        "IMPRESSION:\n1. ACL tear with pivot-shift contusions.\n"
        "2. Mild patellofemoral osteoarthritis.",
        "degenerative",
    ),
    (
        "Findings: Marrow edema in the talus, bright on STIR.\n"
        "DDx:\n1. Transient bone marrow edema syndrome.\n2. Osteomyelitis, excluded clinically.",
        "infection",
    ),
]


@pytest.mark.parametrize(("text", "category"), UNRELATED)
def test_cause_left_out(text: str, category: str) -> None:
    """Negated, out-of-scope, look-alike or weaker causes are not the report's etiology."""
    assert category not in annotate(text).etiology


def test_absent_report_has_no_etiology() -> None:
    """Causes named in a report without BME give no etiology and no flags."""
    annotation = annotate("Osteonecrosis of the femoral head. No bone marrow edema.")
    assert annotation.bme == "absent"
    assert annotation.etiology == () and annotation.flags == ()


@pytest.mark.parametrize(
    ("text", "etiology"),
    [
        (
            "Findings: New edema-like signal throughout the left talar dome. The right femoral"
            " head is normal. Findings fit regional migratory osteoporosis.",
            ("transient",),
        ),
        (
            "Findings: A cavity in the distal tibial metaphysis. Around the cavity, edema-like"
            " signal extends through the metaphyseal marrow. The physis is crossed. This is a"
            " Brodie abscess, a form of subacute osteomyelitis.",
            ("infection",),
        ),
        (
            "Findings: Patchy marrow oedema in the talus and cuboid. Diffuse subcutaneous oedema."
            " The fracture has united. In this clinical setting the multifocal pattern favours"
            " complex regional pain syndrome.",
            ("transient",),
        ),
        (
            "Findings: Faint fracture line in the distal right tibial diaphysis with increased IR"
            " signal in the surrounding marrow. Fibula intact. Toddler's fracture.",
            ("trauma",),
        ),
    ],
)
def test_a_summary_at_the_end_of_the_findings_names_the_cause(text: str, etiology: tuple) -> None:
    """Teaching cases state the diagnosis last: "Findings fit ...", "This is a ...", a label."""
    assert annotate(text).etiology == etiology


@pytest.mark.parametrize(
    "text",
    [
        # an impression's numbered item
        "Findings: Degenerative marrow edema in the acromion.\nImpression:\n1. Degenerative"
        " marrow edema of the acromion.\n2. Incidental enchondroma.",
        # an answer option after its marker
        "Findings: Bone marrow edema in the scaphoid waist with a fracture line.\nA. Bone bruise"
        "\nB. Kienböck disease",
    ],
)
def test_short_sentences_that_are_no_summary(text: str) -> None:
    """A short numbered item or an answer option is not the edema's diagnosis."""
    assert not {"tumor", "osteonecrosis"} & set(annotate(text).etiology)


@pytest.mark.parametrize(
    ("text", "etiology"),
    [
        # degenerative change named at other levels than the edema's
        (
            "FINDINGS:\nL1: 30% loss of height with a band of T1 hypointense, STIR hyperintense"
            " signal below the superior endplate.\nL4-L5: Disc bulge and facet arthropathy.\n"
            "IMPRESSION:\n1. Acute osteoporotic insufficiency fracture of L1 with marrow edema.\n"
            "2. Mild L4-L5 degenerative change.",
            ("overload",),
        ),
        # ... and at the edema's own level
        (
            "FINDINGS:\nL4-5: Modic type 1 endplate marrow edema.\nIMPRESSION:\n"
            "1. Marrow edema at L4-5.\n2. Advanced degenerative disc disease at L4-5.",
            ("degenerative",),
        ),
    ],
)
def test_a_cause_at_other_spine_levels_is_not_the_edema_s(
    text: str, etiology: tuple[str, ...]
) -> None:
    """etiology.json `spine_levels`: "L4-L5" beside edema at L1 is another vertebra."""
    assert annotate(text).etiology == etiology


def test_a_misspelt_brodie_abscess_is_an_infection() -> None:
    text = (
        "Findings: Metaphyseal lesion of the distal tibia with a penumbra sign; the surrounding"
        " marrow is oedematous with ill-defined STIR brightness.\nDiagnosis: Brodie abcess."
    )
    assert annotate(text).etiology == ("infection",)


def test_an_abbreviated_insufficiency_fracture_is_overload() -> None:
    text = (
        "Findings:\n* MFC weight bearing surface: subchondral low T1 band w extensive surounding"
        " edema on PD FS\nDx: SONK / subchondral insuff fx of MFC"
    )
    assert set(annotate(text).etiology) == {"osteonecrosis", "overload"}


def test_a_misspelt_osteomyelitis_is_an_infection() -> None:
    text = (
        "Findings: MRI: Confluent low T1 signal in the posterior calcaneus w/ corresponding high"
        " STIR signal.\nDx: Calcaneal osteomyelits from contiguous spread of heel ulcer."
    )
    assert annotate(text).etiology == ("infection",)


@pytest.mark.parametrize(
    ("text", "etiology"),
    [
        # a cause named in a letter's diagnosis line, by a joint or a bone's disease
        (
            "Diagnose: aktivierte Gonathrose links\n"
            "MRT Knie li: subchondrales Knochenmarködem im medialen Tibiakopf.",
            {"degenerative"},
        ),
        (
            "Diag: Lunatummalazie (M. Kienböck) Stad. I, links\n"
            "MRT Handgelenk li: diffuses Knochenmarködem im Os lunatum.",
            {"osteonecrosis"},
        ),
        # a department is no cause
        (
            "Konsil Orthopädie für die Rheumatologie\n"
            "MRT OSG re.: fragliche ödematöse Signalanhebung im Taluskörper.",
            set(),
        ),
    ],
)
def test_german_letters_causes(text: str, etiology: set[str]) -> None:
    assert set(annotate(text).etiology) == etiology


def test_chronic_nonbacterial_osteomyelitis_is_inflammatory() -> None:
    text = (
        "Findings: metaphyseal marrow edema in both distal tibiae.\n"
        "Diagnosis: Chronic non-bacterial osteomyelitis (CNO/CRMO)."
    )
    result = annotate(text)
    assert set(result.etiology) == {"inflammatory"}
    assert {(s.bone, s.laterality) for s in result.sites} == {("distal_tibia", "bilateral")}


_CASE = (
    "History: 44M, right hip pain for two months, on steroids for asthma.\n"
    "Findings: Diffuse STIR hyperintense marrow in the right femoral head and neck; "
    "no subchondral line.\n"
    "Differential Diagnosis: transient osteoporosis of the hip; early osteonecrosis; "
    "stress fracture\n"
)


def test_a_diagnosis_after_the_differential_rules_out_the_other_candidates() -> None:
    settled = annotate(_CASE + "Case Diagnosis: Transient osteoporosis of the hip\n")
    assert settled.bme == "present"
    assert settled.etiology == ("transient",)


def test_a_differential_that_nothing_answers_keeps_its_candidates() -> None:
    standing = annotate(_CASE)
    assert set(standing.etiology) == {"transient", "osteonecrosis", "overload"}


def test_edema_named_as_a_candidate_is_no_finding_once_settled() -> None:
    text = (
        "History: 30F runner, heel pain on the left.\n"
        "Findings: Plantar fascia thickened to 7 mm with surrounding soft-tissue edema. "
        "Calcaneal marrow normal on STIR.\n"
        "Differential Diagnosis: plantar fasciitis, calcaneal stress fracture, "
        "bone marrow edema syndrome\n"
        "Diagnosis: Plantar fasciitis\n"
    )
    assert annotate(text).bme == "absent"


@pytest.mark.parametrize(
    ("text", "etiology"),
    [
        (
            "Kienbock disease\n41F, left wrist ache for months.\n"
            "MRI: lunate T1 dark and STIR bright throughout, no collapse.",
            ("osteonecrosis",),
        ),
        (
            "Cuboid stress reaction in a gymnast\n\n"
            "17F, right lateral midfoot pain.\n\n"
            "MRI: the cuboid marrow is bright on STIR, no fracture line.",
            ("overload",),
        ),
    ],
)
def test_a_case_titled_by_its_diagnosis_names_the_cause(text: str, etiology: tuple) -> None:
    assert annotate(text).etiology == etiology


def test_an_exam_label_with_a_question_is_no_case_title() -> None:
    text = "MRI RIGHT HIP ? AVN\nFindings: STIR bright marrow in the femoral neck, right."
    assert annotate(text).etiology == ()


def test_a_trauma_surgery_department_is_no_trauma() -> None:
    text = (
        "Entlassbrief – Klinik für Orthopädie und Unfallchirurgie\n\n"
        "MRT Becken: Knochenmarködem im Os sacrum beidseits mit Frakturlinien. "
        "Beurteilung: Insuffizienzfraktur des Sakrums beidseits."
    )
    assert annotate(text).etiology == ("overload",)


@pytest.mark.parametrize(
    ("text", "etiology"),
    [
        # a diagnosis label with its gloss in brackets ends the findings
        (
            "History: 12M, right knee pain.\nFindings: STIR hyperintensity in the tibial tubercle. "
            "Patellar tendon thickened. Sinding-Larsen disease (traction apophysitis).",
            ("overload",),
        ),
        # the next item of a findings list goes on about the one before
        (
            "History: 15M, left buttock pain.\nFindings:\n"
            "- Ischial apophysis: questionable slightly increased STIR signal.\n"
            "- Could be physiological or early stress reaction from overuse.\n",
            ("overload",),
        ),
        (
            "History: 50M on chemotherapy.\nFindings: faint STIR hyperintensity in the T8 body. "
            "Lymphomatous involvement is the first concern.",
            ("tumor",),
        ),
    ],
)
def test_causes_said_after_the_finding(text: str, etiology: tuple) -> None:
    assert annotate(text).etiology == etiology


def test_an_impressions_items_are_each_their_own() -> None:
    text = (
        "MRI LEFT KNEE\nFindings: Bone bruise of the lateral tibial plateau.\n"
        "Impression:\n- Lateral tibial plateau bone bruise.\n- Incidental enchondroma.\n"
    )
    assert annotate(text).etiology == ("trauma",)
