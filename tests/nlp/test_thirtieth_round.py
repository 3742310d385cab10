"""Thirtieth round: misspelt section titles, signals that point back ("similar marrow
signal", "Zone gleichen Signalverhaltens"), a signal and a named edema at two bones in one
sentence, side words after a German complaint, little toes, reactive osteitis, and a few
hedges and denials (tests/fixtures/reports/VOICES.md).

Every text here is written for this test.
"""

from __future__ import annotations

import pytest

from nlp import annotate
from nlp.layout import LayoutReader
from nlp.ruleset import load_ruleset
from tests.nlp.sites import annotation_sites

# -- misspelt section titles --------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "line", "section"),
    [
        ("en", "Impresion: edema.", "impression"),
        ("en", "Imppression: edema.", "impression"),
        ("en", "Impressoin: edema.", "impression"),
        ("en", "Comparision: none.", "comparison"),
        ("en", "Findigns: normal.", "findings"),
        ("de", "Beurteilng: Ödem.", "impression"),
        ("de", "Anamnesse: Sturz.", "history"),
    ],
)
def test_a_long_title_one_letter_off_opens_its_section(
    language: str, line: str, section: str
) -> None:
    assert LayoutReader(load_ruleset(language)).section_of_line(line) == section


@pytest.mark.parametrize(
    "line",
    ["Patient: 40 years.", "Sagittal: T1.", "Impressive: no.", "Befun: x", "Omparisonx: none."],
)
def test_other_words_and_short_titles_stay_text(line: str) -> None:
    reader = LayoutReader(load_ruleset("en" if line[0] != "B" else "de"))
    assert reader.section_of_line(line) is None


def test_a_cause_in_a_misspelt_impression_counts_as_the_impressions() -> None:
    text = (
        "Findings: Ill-defined high STIR signal and low T1 signal in the left femoral head.\n"
        "Impresion: Marrow signal change most in keeping with transient osteoporosis; early"
        " osteonecrosis is thought less likely but cannot be entirely excluded."
    )
    annotation = annotate(text)
    assert annotation.bme == "present"
    assert sorted(annotation.etiology) == ["osteonecrosis", "transient"]


# -- signals that point back ----------------------------------------------------------------


def test_similar_marrow_signal_is_another_site_of_the_signal_before() -> None:
    text = (
        "Findings: Both sacral alae show T1 hypointense, STIR hyperintense marrow. Similar"
        " marrow signal in the right inferior pubic ramus."
    )
    annotation = annotate(text)
    assert annotation_sites(annotation) == {("sacrum", "bilateral"), ("pubis", "right")}


def test_zone_of_the_same_signal_is_another_site() -> None:
    text = (
        "Befund: Flächige Signalanhebung in der PD fs im lateralen Talus. An der Spitze des"
        " Außenknöchels eine kleine Zone gleichen Signalverhaltens."
    )
    annotation = annotate(text, language="de")
    assert annotation_sites(annotation) == {("talus", None), ("distal_fibula", None)}


def test_the_same_signal_as_fat_is_no_edema() -> None:
    text = "Befund: Scharf begrenzte Läsion im Femurschaft mit gleichem Signalverhalten wie Fett."
    assert annotate(text, language="de").bme == "absent"


# -- a signal and a named edema at two bones ------------------------------------------------


def test_a_signal_and_a_named_edema_at_two_bones_are_two_findings() -> None:
    text = (
        "Befund: T1-hypointense, STIR-hyperintense Zone im Os naviculare, vereinbar mit"
        " Osteomyelitis, sowie ein geringeres reaktives Marködem im benachbarten Talus."
    )
    annotation = annotate(text, language="de")
    assert annotation_sites(annotation) == {("navicular", None), ("talus", None)}


def test_a_named_edema_at_the_signals_bone_still_describes_it() -> None:
    text = (
        "Findings: Faint STIR signal in the medial femoral condyle which might represent"
        " early marrow edema of the medial femoral condyle."
    )
    assert annotate(text).bme == "possible"


# -- side words, bones -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("complaint", "side"),
    [("Hüftschmerz re", "right"), ("Knieschmerzen li", "left"), ("Schwellung re", "right")],
)
def test_a_bare_side_after_a_complaint_is_the_side(complaint: str, side: str) -> None:
    text = f"Klinik: {complaint} seit Wochen.\n\nBefund: Ödem im lateralen Tibiaplateau."
    assert annotation_sites(annotate(text, language="de")) == {("lateral_tibial_plateau", side)}


def test_rt_before_a_carpal_bone_is_its_side() -> None:
    text = "MRI BOTH HANDS\nImpression: equivocal rt hamate marrow oedema."
    assert annotation_sites(annotate(text)) == {("hamate", "right")}


def test_r_before_a_parasymphyseal_site_is_its_side() -> None:
    text = (
        "MRI PELVIS\nFindings: Edema in both sacral alae. Also edema R parasymphyseal pubic body."
    )
    assert annotation_sites(annotate(text)) == {("sacrum", "bilateral"), ("pubis", "right")}


@pytest.mark.parametrize(
    "place", ["der Grundphalanx der Kleinzehe", "der Kleinzehe", "der Endphalanx der Großzehe"]
)
def test_little_and_great_toe_phalanges(place: str) -> None:
    text = f"Befund: Knochenmarködem in {place} links."
    assert annotation_sites(annotate(text, language="de")) == {("toe_phalanx", "left")}


# -- causes ---------------------------------------------------------------------------------


def test_reactive_osteitis_or_osteomyelitis_is_the_infections() -> None:
    text = (
        "Findings: STIR hyperintense base of the proximal phalanx of the great toe, reactive"
        " osteitis or early osteomyelitis."
    )
    assert annotate(text).etiology == ("infection",)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Findings: STIR hyperintense marrow in the cuboid, reactive osteitis.", "en"),
        ("Befund: STIR-hyperintenses Mark im Os cuboideum, reaktive Ostitis.", "de"),
    ],
)
def test_reactive_osteitis_alone_is_reactive_not_arthritis(text: str, language: str) -> None:
    assert annotate(text, language=language).etiology == ("reactive",)


def test_edema_related_to_the_ac_joint_arthrosis_is_degenerative() -> None:
    text = (
        "Impression: AC joint osteoarthritis. Subchondral edema in the distal clavicle,"
        " probably related to the AC joint degenerative change."
    )
    assert list(annotate(text).etiology) == ["degenerative"]


def test_ac_joint_arthrosis_alone_is_not_the_cause() -> None:
    text = (
        "Impression: Mild AC joint degenerative change. Bone bruise of the greater tuberosity"
        " after the fall."
    )
    assert list(annotate(text).etiology) == ["trauma"]


# -- hedges and denials ---------------------------------------------------------------------


def test_neither_is_present_after_a_semicolon_denies_what_it_lists() -> None:
    text = (
        "Impression: Normal forefoot. A stress injury shows first as periosteal and then"
        " marrow edema; neither is present."
    )
    assert annotate(text).bme == "absent"


def test_a_misspelt_without_denies_the_bones_it_names() -> None:
    text = "Befund: Knochenmarködem im Os lunatum. Skaphoid und Radius ohen Ödem."
    assert annotation_sites(annotate(text, language="de")) == {("lunate", None)}


def test_back_then_still_is_the_earlier_exams() -> None:
    text = (
        "Befund: In der VU seinerzeit noch ausgedehntes Knochenmarködem im Talus. Jetzt"
        " Talus signalnormal, kein Ödem."
    )
    assert annotate(text, language="de").bme == "absent"


def test_an_edema_that_would_point_to_something_is_hypothetical() -> None:
    text = (
        "Beurteilung: Kapselbandläsion, Knochen unauffällig. Bei Persistenz Kontrolle; ein"
        " dann sichtbares Knochenmarködem würde für eine okkulte Fraktur sprechen."
    )
    assert annotate(text, language="de").bme == "absent"


def test_a_reason_after_would_be_sensible_is_hypothetical() -> None:
    text = (
        "Beurteilung: Keine Osteonekrose. Bei anhaltenden Beschwerden wäre eine Kontrolle"
        " in drei Monaten sinnvoll, da sich ein Knochenmarködem bei einer Osteonekrose"
        " mitunter erst später zeigt."
    )
    assert annotate(text, language="de").bme == "absent"


# -- the last wave's classes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "place", "bone"),
    [
        ("MRI RIGHT FOREFOOT", "the base of the fourth proximal phalanx", "toe_phalanx"),
        ("MRI RIGHT HAND", "the base of the fourth proximal phalanx", "finger_phalanx"),
        ("MRI RIGHT FOOT", "the middle phalanx", "toe_phalanx"),
    ],
)
def test_a_phalanx_without_its_digit_is_the_exams(title: str, place: str, bone: str) -> None:
    text = f"{title}\nFindings: Marrow edema in {place}."
    assert annotation_sites(annotate(text)) == {(bone, "right")}


def test_a_phalanx_without_its_digit_or_an_exam_names_no_bone() -> None:
    text = "MRI RIGHT KNEE\nFindings: Marrow edema in the fourth proximal phalanx."
    assert annotation_sites(annotate(text)) == set()


@pytest.mark.parametrize(
    ("procedure", "bone"),
    [("MRT Vorfuß rechts nativ", "toe_phalanx"), ("MRT Hand rechts", "finger_phalanx")],
)
def test_a_german_phalanx_by_digit_number_is_the_exams(procedure: str, bone: str) -> None:
    text = "Befund: Knochenmarködem an der Basis der Grundphalanx D III rechts."
    annotation = annotate(text, procedure=procedure, language="de")
    assert annotation_sites(annotation) == {(bone, "right")}


def test_a_cause_naming_a_phalanx_by_the_exam_relates_to_its_edema() -> None:
    text = (
        "MRI LEFT FOREFOOT\nFindings: Low T1 and high STIR signal in the base of the fourth"
        " proximal phalanx.\nImpression: Osteomyelitis of the fourth metatarsal head and the"
        " base of the fourth proximal phalanx."
    )
    assert annotate(text).etiology == ("infection",)


@pytest.mark.parametrize(
    "sentence",
    [
        "The apparent edema in the greater trochanter is artefact from poor fat suppression.",
        "The edema in the greater trochanter is due to artifact.",
    ],
)
def test_an_edema_that_is_artefact_is_denied(sentence: str) -> None:
    text = f"Findings: Tendinosis of the gluteus medius.\nAddendum: {sentence}"
    assert annotate(text).bme == "absent"


def test_an_edema_that_may_be_artefact_stays_possible() -> None:
    text = "Findings: Edema in the greater trochanter, which may be artifact."
    assert annotate(text).bme == "possible"


def test_comma_with_ends_a_denial() -> None:
    text = "Impression: Kienböck disease without collapse, with marrow edema throughout the lunate."
    annotation = annotate(text)
    assert annotation.bme == "present"
    assert annotation.etiology == ("osteonecrosis",)


@pytest.mark.parametrize("side", ["L", "lt"])
def test_a_short_side_before_the_greater_trochanter(side: str) -> None:
    text = f"MRI BOTH HIPS\nFindings: Bone marrow edema {side} greater trochanter."
    assert annotation_sites(annotate(text)) == {("greater_trochanter", "left")}


def test_a_denial_at_another_spine_level_leaves_the_signal() -> None:
    text = (
        "Findings: L2 inferior and L3 superior endplates: ?subtle STIR hyperintensity. Facet"
        " arthropathy at L5-S1, no edema there."
    )
    annotation = annotate(text)
    assert annotation.bme == "possible"
    assert annotation_sites(annotation) == {("vertebral_body", None)}


def test_a_level_with_a_side_before_the_pars_is_no_vertebral_body() -> None:
    text = "Findings: L4 right pars interarticularis: high signal on STIR and T2 fat-sat."
    assert annotation_sites(annotate(text)) == {("posterior_elements", "right")}


def test_an_order_placed_for_one_side_and_the_other_scanned() -> None:
    text = (
        "Hx: R knee twisting injury. Order was placed as left; right knee scanned per the"
        " clinical details.\nFindings: Bone bruise of the lateral femoral condyle."
    )
    annotation = annotate(text, procedure="MRI KNEE LEFT WO CONTRAST")
    assert annotation_sites(annotation) == {("lateral_femoral_condyle", "right")}


def test_neither_reaches_back_over_a_long_list() -> None:
    text = (
        "Impression: Normal hip. Transient osteoporosis, which causes diffuse bone marrow"
        " edema of the femoral head and neck, and femoral neck stress fracture were both"
        " considered; neither is present."
    )
    assert annotate(text).bme == "absent"


def test_without_an_exam_title_the_joint_the_text_names_decides() -> None:
    text = "Findings: Jammed left ring finger. Marrow edema in the middle phalanx base."
    assert annotation_sites(annotate(text)) == {("finger_phalanx", "left")}


def test_a_text_naming_hands_and_feet_leaves_a_bare_phalanx_unread() -> None:
    text = (
        "History: Psoriatic arthritis of the hands and feet.\n"
        "Findings: Marrow edema in the middle phalanx base."
    )
    assert annotation_sites(annotate(text)) == set()


@pytest.mark.parametrize(
    ("procedure", "bone"),
    [("MRT Rückfuß links", "navicular"), ("MRT Handgelenk links", "scaphoid"), (None, "scaphoid")],
)
def test_kahnbein_is_the_exams(procedure: str | None, bone: str) -> None:
    text = "Befund: Flächiges Knochenmarködem im Kahnbein links."
    annotation = annotate(text, procedure=procedure, language="de")
    assert annotation_sites(annotation) == {(bone, "left")}
