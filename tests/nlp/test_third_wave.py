"""Twenty-second round, third wave: an earlier exam in a relative clause or under a year,
the side a report gives a bone elsewhere, sides said to be normal, edema around a tumour,
and German dates, joint lines and words (tests/fixtures/reports/VOICES.md).

Every text here is written for this test.
"""

from __future__ import annotations

import pytest

from nlp import annotate
from tests.nlp.sites import sites

# -- earlier exams -----------------------------------------------------------------------


def test_edema_that_resolved_in_a_relative_clause_is_history() -> None:
    text = (
        "A 51-year-old woman, who three years earlier had a bone marrow edema syndrome of the"
        " right hip that resolved completely with iloprost, presented after an ankle sprain."
        " MRI of the left ankle showed a torn ATFL and normal marrow signal without contusion."
    )
    assert annotate(text).bme == "absent"


def test_findings_under_a_year_label_are_the_earlier_exams() -> None:
    text = (
        "Shoulder clinic - left shoulder, recurrent instability\n"
        "- MRI today compared with the MRI of 2021\n"
        "- 2021: bone bruise of the posterolateral humeral head and the anterior glenoid rim\n"
        "- Today: the earlier marrow oedema has gone, no fresh bruising\n"
    )
    assert annotate(text).bme == "absent"


def test_edema_under_a_year_label_without_a_later_exam_is_current() -> None:
    text = "Left shoulder.\n- 2025: bone bruise of the posterolateral humeral head\n"
    assert annotate(text).bme == "present"


# -- sides --------------------------------------------------------------------------------


def test_a_bone_takes_the_side_a_current_sentence_gives_it_right_beside_it() -> None:
    text = (
        "Diagnosen:\n1. Osteomyelitis Metatarsale-I-Köpfchen links\n2. pAVK bds.\n"
        "Verlauf: Die MRT zeigte ein STIR-hyperintenses Markraumsignal im Köpfchen des Os"
        " metatarsale I, vereinbar mit Osteomyelitis."
    )
    assert sites(text, language="de") == {("metatarsal", "left")}


def test_a_side_beside_another_bone_is_not_this_bones() -> None:
    text = (
        "History: new right-sided buttock pain.\n"
        "Findings: Two deposits: one in the posterior blade of the ilium, and one in the roof"
        " of the left acetabulum. The iliac lesion is surrounded by oedema-like marrow signal on"
        " STIR."
    )
    assert sites(text, "MRI PELVIS") == {("ilium", "right")}


@pytest.mark.parametrize(
    "normal",
    [
        "The left femur in the scout images is normal.",
        "Left navicular normal.",
        "The left femur is unremarkable.",
    ],
)
def test_a_side_said_to_be_normal_gives_no_side(normal: str) -> None:
    text = (
        "History: right knee pain for three months.\n"
        "Findings: Bone marrow oedema in the distal femoral metaphysis. " + normal
    )
    assert sites(text) == {("distal_femur", "right")}


def test_radiographs_that_were_normal_say_nothing_of_the_side() -> None:
    text = (
        "History: right-handed pitcher, radiographs of the right elbow were normal.\n"
        "Findings: Increased signal on fat-suppressed T2 in the olecranon tip."
    )
    assert sites(text) == {("proximal_ulna", "right")}


# -- bones and causes ----------------------------------------------------------------------


def test_peritumoral_edema_spreading_into_the_shaft() -> None:
    text = (
        "MRI of the right femur: a mass arising from the distal femoral metaphysis, and"
        " extensive peritumoral bone marrow oedema surrounding the lesion that extends"
        " proximally into the femoral shaft."
    )
    result = annotate(text)
    assert (sites(text), result.etiology) == (
        {("distal_femur", "right"), ("femoral_shaft", "right")},
        ("tumor",),
    )


def test_a_sub_headings_bone_is_not_where_edema_around_a_lesion_spreads() -> None:
    text = (
        "Left femur: A marrow-replacing lesion occupies the proximal femoral shaft. Around it"
        " there is surrounding marrow edema on STIR extending proximally into the lesser"
        " trochanter."
    )
    assert sites(text) == {("femoral_shaft", "left"), ("lesser_trochanter", "left")}


def test_mid_to_distal_diaphysis_is_the_shaft() -> None:
    text = (
        "Equivocal faint STIR hyperintensity in the marrow of the mid-to-distal tibial diaphysis."
    )
    assert sites(text, "MRI LEG LEFT") == {("tibial_shaft", "left")}


# -- German -------------------------------------------------------------------------------


def test_german_both_sides_of_the_joint_line_is_no_side() -> None:
    text = (
        "MRT KNIEGELENK RECHTS\nBefund: Knorpeldefekte am medialen Femurkondylus und am"
        " medialen Tibiaplateau mit subchondralem Knochenmarködem beidseits des Gelenkspalts."
    )
    assert sites(text, language="de") == {
        ("medial_femoral_condyle", "right"),
        ("medial_tibial_plateau", "right"),
    }


def test_german_date_ends_no_sentence_before_lower_case() -> None:
    text = (
        "Das initial am lateralen Tibiaplateau rechts beschriebene Knochenmarködem ist in der"
        " Verlaufs-MRT vom 06.05. nicht mehr nachweisbar."
    )
    assert annotate(text, language="de").bme == "absent"


@pytest.mark.parametrize(
    ("text", "bme"),
    [
        (
            "MRT: frische Deckplattenimpression LWK 1 mit ödematöser Imbibierung des"
            " Wirbelkörpers.",
            "present",
        ),
        ("MRT: ödematöse Imbibierung des subkutanen Fettgewebes am Sprunggelenk.", "absent"),
        (
            "Befund: Knorpeldefekt der Trochlea mit darunterliegendem, fettsaturiert"
            " signalreichem Areal im subchondralen Markraum der Trochlea.",
            "present",
        ),
        (
            "Im Vergleich zur Voruntersuchung 2017, in der ein ausgedehntes Ödem iliakal"
            " beschrieben war, nun nur subchondrale Fettmetaplasie.",
            "absent",
        ),
    ],
)
def test_german_words(text: str, bme: str) -> None:
    assert annotate(text, language="de").bme == bme
