"""Thirty-first round: "IMP:" alone over its list, "R MFC", a denial of the other side's
bone, Modic 1 that has turned fatty, a spine level that only places the pars, fluid-sensitive
signal in German, "Apophysitis", and a later plain denial that takes back a signal or a
possible edema (tests/fixtures/reports/VOICES.md).

Every text here is written for this test.
"""

from __future__ import annotations

import pytest

from nlp import annotate
from nlp.layout import LayoutReader
from nlp.ruleset import load_ruleset
from tests.nlp.sites import annotation_sites

# -- "IMP:" alone on its line ---------------------------------------------------------------


@pytest.mark.parametrize(("line", "section"), [("IMP:", "impression"), ("Imp", "impression")])
def test_imp_alone_on_its_line_opens_the_impression(line: str, section: str) -> None:
    assert LayoutReader(load_ruleset("en")).section_of_line(line) == section


@pytest.mark.parametrize(
    "line", ["Imp: ACL tear, bruises as above.", "Impala: none", "IMP: normal"]
)
def test_imp_with_text_after_it_is_no_header(line: str) -> None:
    assert LayoutReader(load_ruleset("en")).section_of_line(line) is None


def test_a_terse_note_with_an_imp_label_keeps_its_findings() -> None:
    text = (
        "R knee, fall skiing.\nBME: LFC and posterolateral tibial plateau.\nACL torn.\n"
        "Imp: ACL tear. Bruises as above."
    )
    annotation = annotate(text, procedure="MRI KNEE RIGHT")
    assert annotation.bme == "present"
    assert annotation_sites(annotation) == {
        ("lateral_femoral_condyle", "right"),
        ("lateral_tibial_plateau", "right"),
    }


def test_an_imp_list_that_restates_a_signal_keeps_it_present() -> None:
    text = (
        "Hx: 66M, medial knee pain.\n"
        "Med fem condyle: STIR bright, T1 dark, subchondral.\n"
        "IMP:\n1. MFC subchondral STIR bright/T1 dark signal. ?insufficiency fx.\n"
        "2. Small effusion."
    )
    annotation = annotate(text, procedure="MRI KNEE LEFT")
    assert annotation.bme == "present"
    assert "overload" in annotation.etiology


# -- "R MFC", "L LTP" ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "site"),
    [
        ("Impression: R MFC marrow edema.", ("medial_femoral_condyle", "right")),
        ("Impression: L LTP bone bruise.", ("lateral_tibial_plateau", "left")),
        ("Impression: Edema R LFC.", ("lateral_femoral_condyle", "right")),
    ],
)
def test_a_bare_side_letter_before_a_knee_abbreviation(text: str, site: tuple[str, str]) -> None:
    assert annotation_sites(annotate(text)) == {site}


def test_both_knees_give_each_knee_its_own_side() -> None:
    text = (
        "MRI both knees.\nRIGHT: MFC subchondral fracture with surrounding marrow edema.\n"
        "LEFT: New STIR hyperintensity in the lateral tibial plateau.\n"
        "IMP:\n1. R MFC insufficiency fracture with edema.\n2. L lateral tibial plateau edema."
    )
    assert annotation_sites(annotate(text)) == {
        ("medial_femoral_condyle", "right"),
        ("lateral_tibial_plateau", "left"),
    }


# -- a denial of the other side's bone -------------------------------------------------------


def test_a_summary_denial_on_one_side_leaves_the_other_sides_edema() -> None:
    text = (
        "MRI both feet.\nFindings:\nLeft foot: marrow edema in the 3rd metatarsal shaft, no"
        " fracture line.\n"
        "Right foot: old 2nd metatarsal fracture, healed.\n"
        "Impression: L 3rd metatarsal stress reaction. R 2nd MT healed, no residual edema."
    )
    annotation = annotate(text)
    assert annotation.bme == "present"
    assert annotation_sites(annotation) == {("metatarsal", "left")}


def test_a_summary_denial_on_the_same_side_still_decides() -> None:
    text = (
        "Findings: marrow edema in the left 3rd metatarsal.\n"
        "Impression: Left 3rd metatarsal: no residual edema on the final sequences."
    )
    assert annotate(text).bme == "absent"


# -- Modic 1 that has turned fatty ----------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Impression: Conversion of the L3-4 Modic 1 change to Modic 2.",
        "Impression: The L3-4 endplate edema has converted into fatty marrow.",
        "Impression: The L5-S1 Modic type 1 change has evolved to Modic type 2.",
    ],
)
def test_modic_1_that_has_turned_fatty_is_the_past(text: str) -> None:
    assert annotate(text).bme == "absent"


def test_modic_2_turning_into_modic_1_is_new_edema() -> None:
    assert annotate("Impression: Conversion of Modic 2 to Modic 1 at L4-5.").bme == "present"


# -- a spine level that places the pars ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("At L4 there is high STIR signal in the pars interarticularis on both sides.", "en"),
        (
            "Befund: Auf Höhe LWK 4 beidseits in der Pars interarticularis STIR-hyperintenses"
            " Signal.",
            "de",
        ),
    ],
)
def test_a_level_before_the_pars_is_no_vertebral_body(text: str, language: str) -> None:
    annotation = annotate(text, language=language)
    assert annotation_sites(annotation) == {("posterior_elements", "bilateral")}


@pytest.mark.parametrize(
    "text",
    [
        "Edema extends through the remainder of L2 and into the left pedicle.",
        "At L2 the vertebral body and the left pedicle show marrow edema.",
    ],
)
def test_a_level_after_the_edema_or_a_named_body_stays(text: str) -> None:
    sites = annotation_sites(annotate(text))
    assert ("vertebral_body", None) in sites and ("posterior_elements", "left") in sites


# -- fluid-sensitive signal in German --------------------------------------------------------


def test_fluid_sensitive_hyperintense_signal_is_a_signal_in_bone() -> None:
    text = "Befund: Im Os naviculare flüssigkeitssensitiv hyperintenses Signal, T1 hypointens."
    assert annotation_sites(annotate(text, language="de")) == {("navicular", None)}


def test_fluid_around_a_tendon_stays_soft_tissue() -> None:
    text = "Befund: Flüssigkeit mit T2-hyperintensem Signal um die Tibialis-posterior-Sehne."
    assert annotate(text, language="de").bme == "absent"


def test_german_apophysitis_is_overload() -> None:
    text = "Beurteilung: Knochenmarködem der Kalkaneusapophyse bei Apophysitis calcanei."
    assert annotate(text, language="de").etiology == ("overload",)


# -- a later plain denial --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language"),
    [
        (
            "Im Vorbericht war ein fragliches Ödem im Os triquetrum erwähnt. Nach Wiederholung"
            " der Sequenz handelt es sich um ein Artefakt; ein Knochenmarködem liegt nicht vor.",
            "de",
        ),
        (
            "Beurteilung: Die STIR-hyperintense Signalanhebung im Humeruskopf entspricht einem"
            " Enchondrom; ein Knochenmarködem liegt nicht vor.",
            "de",
        ),
        (
            "The preliminary report mentioned possible edema in the hamate. On the repeated"
            " sequence this is a shimming artefact. There is no bone marrow edema.",
            "en",
        ),
    ],
)
def test_a_later_plain_denial_takes_back_a_signal_or_a_possible_edema(
    text: str, language: str
) -> None:
    assert annotate(text, language=language).bme == "absent"


@pytest.mark.parametrize(
    ("text", "language", "status"),
    [
        # named present edema stays
        ("Marrow edema in the hamate. No bone marrow edema.", "en", "present"),
        # a denial of another side's bone
        (
            "RIGHT: faint STIR signal in the hamate.\nLEFT: No bone marrow edema.",
            "en",
            "present",
        ),
        # a denial said of a joint, not opening its sentence
        (
            "Questionable STIR signal in the hamate. Moderate degenerative change at the"
            " pisotriquetral joint, with no marrow edema.",
            "en",
            "possible",
        ),
        # a definite pattern denied in the same sentence keeps a possible edema
        (
            "Beurteilung: Fragliches Knochenmarködem der Patella; ein eindeutiges"
            " Bone-bruise-Muster besteht nicht.",
            "de",
            "possible",
        ),
    ],
)
def test_other_denials_leave_the_edema(text: str, language: str, status: str) -> None:
    assert annotate(text, language=language).bme == status


# -- German side labels, a part of another bone, the epiphysis, a knee's epicondyle ----------


def test_a_german_side_label_gives_the_line_its_side() -> None:
    text = (
        "Befund:\nRechts: Die distale Radiusepiphysenfuge ist verbreitert. Metaphysär und"
        " epiphysär STIR-hyperintenses Signal im Markraum.\n"
        "Links: Fuge regelrecht, metaphysär jedoch ebenfalls eine schmale, STIR-hyperintense"
        " Zone im Markraum."
    )
    assert annotation_sites(annotate(text, language="de")) == {("distal_radius", "bilateral")}


def test_a_bare_side_after_a_german_body_part() -> None:
    text = "MRT vorfuß li, 15-j. läuferin.\nBefund: Knochenmarködem im Os cuboideum."
    assert annotation_sites(annotate(text, language="de")) == {("cuboid", "left")}


def test_a_part_word_of_another_named_bone_is_that_bones() -> None:
    text = (
        "Befund: Das Ödem im Kahnbein ist zurückgebildet. Neu ist ein Knochenmarködem im"
        " proximalen Pol des Os capitatum."
    )
    assert annotation_sites(annotate(text, language="de")) == {("capitate", None)}


@pytest.mark.parametrize(
    ("text", "language", "bone"),
    [
        (
            "Befund: Rechte Humeruskopfepiphyse abgeflacht. Knochenmarködem der Epiphyse.",
            "de",
            "humeral_head",
        ),
        (
            "Findings: The right distal radial epiphysis is widened. Marrow edema fills the"
            " epiphysis.",
            "en",
            "distal_radius",
        ),
    ],
)
def test_the_epiphysis_is_the_bone_last_named(text: str, language: str, bone: str) -> None:
    assert annotation_sites(annotate(text, language=language)) == {(bone, "right")}


@pytest.mark.parametrize(
    ("procedure", "bone"),
    [("MRI RIGHT KNEE", "distal_femur"), ("MRI RIGHT ELBOW", "distal_humerus")],
)
def test_an_epicondyle_is_the_exams_bone(procedure: str, bone: str) -> None:
    annotation = annotate("Findings: Marrow edema in the lateral epicondyle.", procedure=procedure)
    assert annotation_sites(annotation) == {(bone, "right")}


def test_a_side_letter_before_a_long_bones_metaphysis() -> None:
    text = "Findings:\n- L distal tibial metaphysis: new metaphyseal STIR hyperintensity."
    assert annotation_sites(annotate(text)) == {("distal_tibia", "left")}


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("Findings: R distal femoral metaphysis: previously edematous, now normal.", "absent"),
        ("Findings: The distal femur, previously normal, is now edematous.", "present"),
    ],
)
def test_previously_right_before_the_edema_is_the_past(text: str, status: str) -> None:
    assert annotate(text).bme == status
