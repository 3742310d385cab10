"""Twenty-second round: what a parenthesis, a figure caption, an exam's label line and a
few words between "both" and its bone tell the annotator (tests/fixtures/reports/VOICES.md).

Every text here is written for this test.
"""

from __future__ import annotations

import pytest

from nlp import annotate
from tests.nlp.sites import sites

# -- a short parenthesis inside a clause is a gloss: it ends no ConText scope ----------


@pytest.mark.parametrize(
    ("text", "bme"),
    [
        # a negation before the gloss reaches the target inside it
        (
            "L4-L5 shows fatty Modic type 2 endplate change, without any edema-type (Modic 1)"
            " signal.",
            "absent",
        ),
        ("There is no oedema-like (STIR bright) signal in the talus.", "absent"),
        # a hedge after the gloss reaches back over it
        (
            "Marrow oedema of the cuboid (lateral column) cannot be excluded on these images.",
            "possible",
        ),
    ],
)
def test_a_gloss_in_parentheses_ends_no_scope(text: str, bme: str) -> None:
    assert annotate(text, "MRI").bme == bme


@pytest.mark.parametrize(
    "text",
    [
        # a parenthesis at the clause's end is a statement of its own
        "No fracture of the talus (bone marrow edema in the talar dome).",
        # one that does not close within the clause
        "No fracture (bone marrow edema in the talar dome, medial more than lateral",
        # one that says something of its own
        "Coronal STIR shows no fracture line (the cortex is smooth) and marked bone marrow edema"
        " in the talar dome.",
        # one that opens a clause
        "No fracture; (bone marrow edema in the talar dome) on STIR.",
    ],
)
def test_a_parenthesis_that_is_no_gloss_still_ends_the_scope(text: str) -> None:
    assert annotate(text, "MRI LEFT ANKLE").bme == "present"


def test_a_negation_that_opens_a_sentence_reaches_its_own_phrase_only() -> None:
    """ "In the absence of prior trauma, ... necrosis of the scaphoid (Preiser disease) is a
    consideration": the cause after the comma is not negated."""
    text = (
        "Findings: The proximal pole of the scaphoid is possibly faintly bright on STIR; this may"
        " represent early oedema. In the absence of any prior injury, idiopathic necrosis of the"
        " proximal pole (Preiser disease) is a consideration."
    )
    result = annotate(text)
    assert (result.bme, result.etiology) == ("possible", ("osteonecrosis",))


# -- "both" and its bone, with position words between ------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Both medial clavicles show marrow oedema with hyperostosis, worse on the right.",
        "Marrow oedema in both posterior calcanei.",
        "Oedema in both anterior acetabula.",
    ],
)
def test_both_with_position_words_before_the_bone_is_bilateral(text: str) -> None:
    assert {side for _, side in sites(text)} == {"bilateral"}


def test_both_before_other_words_attaches_to_no_bone() -> None:
    """ "both" that speaks of something else than the bone gives it no side."""
    text = "Both menisci are intact. Marrow edema in the medial femoral condyle."
    assert sites(text, "MRI KNEE RIGHT") == {("medial_femoral_condyle", "right")}


# -- a figure caption's side --------------------------------------------------------------


def test_a_captions_side_comes_before_a_history_of_both_sides() -> None:
    text = (
        "History: 61-year-old man with pain in both knees, the left worse this winter.\n"
        "Findings: Image 2: sagittal STIR, left knee. The subchondral marrow of the lateral"
        " tibial plateau holds a poorly defined area of high signal."
    )
    assert sites(text) == {("lateral_tibial_plateau", "left")}


def test_a_side_in_the_mentions_own_words_comes_before_its_caption() -> None:
    text = (
        "Findings: Image 3: coronal STIR of both knees. High signal in the marrow of the right"
        " medial femoral condyle; the left knee is normal."
    )
    assert sites(text) == {("medial_femoral_condyle", "right")}


# -- an earlier exam's label on a line of its own ----------------------------------------


def test_findings_listed_under_an_earlier_exams_label_line_are_history() -> None:
    text = (
        "Case: 15-year-old goalkeeper, left knee.\n\n"
        "Initial MRI (3 days after the fall):\n"
        "- Bone bruise: medial femoral condyle\n"
        "- Cartilage intact\n\n"
        "Follow-up MRI (5 months):\n"
        "- Previously seen bruise no longer visible, normal marrow signal\n"
    )
    assert annotate(text).bme == "absent"


def test_edema_the_later_exam_lists_under_its_own_label_is_current() -> None:
    text = (
        "Initial MRI (day 3):\n"
        "- Bone bruise: medial femoral condyle\n\n"
        "Follow-up MRI (5 months):\n"
        "- Marrow edema persists in the medial femoral condyle, smaller\n"
    )
    result = annotate(text, "MRI KNEE LEFT")
    assert (result.bme, {(s.bone, s.laterality) for s in result.sites}) == (
        "present",
        {("medial_femoral_condyle", "left")},
    )


def test_an_earlier_exams_label_line_without_a_later_exam_is_the_exam() -> None:
    """With no later exam named, "Initial MRI:" is the one exam the case has."""
    text = "Initial MRI (day 3):\n- Bone bruise: medial femoral condyle\n- Cartilage intact\n"
    assert annotate(text, "MRI KNEE LEFT").bme == "present"


# -- labels, causes and targets ------------------------------------------------------------


def test_hx_is_a_history_label() -> None:
    assert annotate("Hx: known BME R talus 2024, f/u.\nTalus normal on STIR now.").bme == "absent"


def test_edema_called_reactive_stays_reactive_beside_a_cause_outside_the_categories() -> None:
    """The contract: "reactive" unless a category is named; a postoperative change is none."""
    text = "Diagnosis: Reactive marrow edema at the patellar harvest site, a post-operative change."
    assert annotate(text, "MRI KNEE RIGHT").etiology == ("reactive",)
    # a weak cue of a category still gives way to the named explanation
    text = "Marrow edema in the cuboid with subluxation, a post-operative change."
    assert annotate(text, "MRI FOOT RIGHT").etiology == ()


@pytest.mark.parametrize(
    "text",
    [
        "Medial compartment osteoarthritis with a bone marrow lesion of the medial tibial"
        " plateau. Incidental enchondroma.",
        "Bone marrow edema in the medial tibial plateau beneath the cartilage defect, with an"
        " incidentally noted haemangioma.",
    ],
)
def test_an_incidental_tumour_is_no_cause(text: str) -> None:
    assert "tumor" not in annotate(text, "MRI KNEE RIGHT").etiology


def test_a_tumour_beside_the_edema_is_still_its_cause() -> None:
    text = "Marrow edema around an enchondroma in the distal femur."
    assert annotate(text, "MRI KNEE RIGHT").etiology == ("tumor",)


@pytest.mark.parametrize("word", ["matching", "corresponding", "analogous"])
def test_a_matching_area_in_another_bone_is_a_second_site(word: str) -> None:
    text = (
        "Sagittal PD fat-sat: a focus of high signal in the lateral femoral condyle, and a"
        f" {word} area at the posterior margin of the lateral tibial plateau."
    )
    assert sites(text, "MRI KNEE RIGHT") == {
        ("lateral_femoral_condyle", "right"),
        ("lateral_tibial_plateau", "right"),
    }


# -- German -------------------------------------------------------------------------------


def test_german_contusional_edema_is_trauma() -> None:
    text = (
        "Nachtrag: Umschriebenes Knochenmarködem im medialen Femurkondylus links, am ehesten"
        " kontusionell."
    )
    assert annotate(text, language="de").etiology == ("trauma",)


@pytest.mark.parametrize(
    ("text", "bme"),
    [
        # verb first: the signal "corresponds to an artefact"
        (
            "Beurteilung: Nach Korrelation mit der axialen T2 entspricht die Signalanhebung in"
            " der sakralen Ala links einem Pulsationsartefakt.",
            "absent",
        ),
        # "not to be told from an artefact" is a hedge, not an artefact
        (
            "Befund: Fragliche T2-Signalanhebung im Markraum des Os cuboideum, nicht sicher von"
            " einem Partialvolumeneffekt abgrenzbar.",
            "possible",
        ),
    ],
)
def test_german_signal_that_is_an_artefact(text: str, bme: str) -> None:
    assert annotate(text, language="de").bme == bme


# -- a teaching discussion's word about this case --------------------------------------


@pytest.mark.parametrize(
    ("discussion", "etiology"),
    [
        (
            "Discussion: This kissing pattern is the classic footprint of a pivot-shift"
            " injury of the knee.",
            ("trauma",),
        ),
        (
            "Take-home message: in an osteoporotic pelvis this pattern indicates insufficiency"
            " fractures, not metastases.",
            ("overload",),
        ),
        # a general teaching sentence names no cause of this case
        (
            "Teaching point: Osteonecrosis typically shows a serpiginous line on T1.",
            (),
        ),
        # a differential the discussion rules out
        (
            "Discussion: With this pattern and intact skin, osteomyelitis is not a consideration.",
            (),
        ),
    ],
)
def test_a_discussions_word_about_this_case_names_its_cause(
    discussion: str, etiology: tuple[str, ...]
) -> None:
    text = (
        "History: 40-year-old with pain.\n"
        "Findings: Ill-defined high signal on STIR in the lateral femoral condyle and the"
        " posterior lateral tibial plateau, low on T1.\n" + discussion
    )
    assert annotate(text, "MRI KNEE RIGHT").etiology == etiology
