"""Twenty-second round, second wave: bare exam headings, causes in German and in words,
what "surrounding it" and "the same region" refer to, and a few words in two languages
(tests/fixtures/reports/VOICES.md).

Every text here is written for this test.
"""

from __future__ import annotations

import pytest

from nlp import annotate
from tests.nlp.sites import sites

# -- a bare line that names the exam opens the findings after a history -----------------


@pytest.mark.parametrize("heading", ["MRI", "MRI (non-contrast)", "MRI wrist and hand"])
def test_a_bare_exam_heading_after_the_history_opens_the_findings(heading: str) -> None:
    text = (
        "Clinical history\n"
        "A 58-year-old woman, three months after a cast for a wrist fracture.\n\n"
        f"{heading}\n"
        "Patchy bone marrow oedema in the capitate and the hamate, without fracture lines.\n"
    )
    result = annotate(text, "MRI WRIST LEFT")
    assert (result.bme, sites(text, "MRI WRIST LEFT")) == (
        "present",
        {("capitate", "left"), ("hamate", "left")},
    )


def test_a_history_line_about_an_earlier_mri_stays_history() -> None:
    """Only a bare exam name opens the findings: "MRI 2019 normal." is history."""
    text = (
        "Clinical history\n"
        "Knee pain. Bone marrow oedema of the medial femoral condyle last year.\n"
        "MRI 2019 normal\n"
    )
    assert annotate(text, "MRI KNEE RIGHT").bme == "absent"


def test_german_bare_exam_heading() -> None:
    text = (
        "Anamnese\nSturz auf das rechte Knie vor einer Woche.\n\n"
        "MRT nativ\nKnochenmarködem im lateralen Femurkondylus.\n"
    )
    result = annotate(text, language="de")
    assert (result.bme, sites(text, language="de")) == (
        "present",
        {("lateral_femoral_condyle", "right")},
    )


# -- a cause only the history tells is not the one the report gives ---------------------
# (real_dev's convention: "History of breast cancer ... knee pain" gives no `tumor`; a
# fall in the history beside unexplained edema was tried as `trauma` and dropped: helpers'
# batches disagreed, two to five, and the real texts' gold does not do it.)


def test_a_fall_told_only_in_the_history_is_no_cause() -> None:
    text = (
        "History: Fell off a bicycle onto the left shoulder ten days ago.\n"
        "Findings: Bone marrow oedema in the greater tuberosity. Cuff intact."
    )
    assert annotate(text).etiology == ()


def test_a_fall_in_the_findings_paragraph_is_weak_trauma() -> None:
    text = "Findings: Bone marrow oedema in the greater tuberosity after he fell onto the shoulder."
    assert annotate(text, "MRI SHOULDER LEFT").etiology == ("trauma",)


@pytest.mark.parametrize(
    ("text", "etiology"),
    [
        # a bare German fracture compound is weak trauma, as "fracture" is in English
        ("Befund: Frische Hamulusfraktur, umgebend Knochenmarködem im Os hamatum.", ("trauma",)),
        (
            "Befund: Nicht dislozierte Infraktion des Tuberculum majus mit Knochenmarködem.",
            ("trauma",),
        ),
        # ... but microfractures and stress fractures keep their own cause
        ("Befund: Knochenmarködem im Os naviculare mit multiplen Mikrofrakturen.", ("overload",)),
        ("Befund: Knochenmarködem im Metatarsale II bei Ermüdungsfraktur.", ("overload",)),
    ],
)
def test_german_fractures(text: str, etiology: tuple[str, ...]) -> None:
    assert annotate(text, language="de").etiology == etiology


# -- what "surrounding it" and "the same region" refer to -------------------------------


def test_edema_surrounding_what_the_sentence_before_names() -> None:
    text = (
        "Findings: On coronal T1 there is a thin low-signal line in the medial femoral condyle."
        " Surrounding it is extensive, ill-defined marrow oedema on the fat-saturated PD images."
    )
    assert sites(text, "MRI KNEE RIGHT") == {("medial_femoral_condyle", "right")}


def test_the_same_region_is_the_bone_not_the_landmark_beside_it() -> None:
    text = (
        "Findings: Image 1: Sagittal T1: low signal in the posterior calcaneal tuberosity,"
        " directly deep to a skin ulcer.  Image 2: Sagittal STIR: the same region is markedly"
        " hyperintense."
    )
    assert sites(text, "MRI FOOT RIGHT") == {("calcaneus", "right")}


# -- words -------------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["posible", "possilbe", "questionalbe"])
def test_misspelled_hedges(word: str) -> None:
    assert annotate(f"Impression: {word} small contusion of the patella.", "MRI").bme == (
        "possible"
    )


def test_a_cause_considered_but_argued_against_is_left_out() -> None:
    text = (
        "Findings: Epiphyseal lesion with florid surrounding marrow edema in the humeral head.\n"
        "Impression: Chondroblastoma. A Brodie abscess was considered, but there is no"
        " penumbra sign."
    )
    assert annotate(text, "MRI SHOULDER RIGHT").etiology == ("tumor",)


def test_ordinal_ribs_take_their_abbreviated_side() -> None:
    text = (
        "Fracture of the sternal body with surrounding marrow edema. Lt 3rd and 4th anterior"
        " ribs: BME, likely contusion. Rt ribs nml."
    )
    assert sites(text, "MRI CHEST WALL") == {("sternum", None), ("rib", "left")}


def test_german_history_label_and_earlier_findings() -> None:
    text = (
        "Diagnosen:\n- Bandscheibenvorfall L5/S1 links\n"
        "- anamnestisch Knochenmarködem-Syndrom des rechten Kniegelenks 2021, folgenlos"
        " ausgeheilt\n"
    )
    assert annotate(text, language="de").bme == "absent"


def test_german_exam_label_gives_its_side_and_normal_t1_keeps_the_signal() -> None:
    text = (
        "Verlauf: Ulkus plantar, Diabetes. MRT des rechten Vorfußes (24.10.): Phlegmone der"
        " Weichteile. Im Köpfchen des Metatarsale V fragliche STIR-Signalanhebung bei noch"
        " erhaltenem T1-Fettmarksignal, eine frühe Osteomyelitis ist nicht sicher"
        " auszuschließen.\n"
        "Diagnosen: pAVK bds."
    )
    result = annotate(text, language="de")
    assert (result.bme, sites(text, language="de"), result.etiology) == (
        "possible",
        {("metatarsal", "right")},
        ("infection",),
    )
