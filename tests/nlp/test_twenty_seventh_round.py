"""Twenty-seventh round: sides of past events, marrow words beside periosteal edema,
German "regredient" (tests/fixtures/reports/VOICES.md).

Every text here is written for this test.
"""

from __future__ import annotations

import pytest

from nlp import annotate
from tests.nlp.sites import annotation_sites, sites

# -- a side word said of a past event ------------------------------------------------------------


@pytest.mark.parametrize(
    "history",
    [
        "Twisted ankle at football 5 days ago. Previous ORIF of the left ankle (2016).",
        "Sprain last week. Left ankle arthroscopy in 2019.",
        "Runner. Prior left talar stress fracture, healed.",
    ],
)
def test_a_past_event_on_the_other_side_gives_no_side(history: str) -> None:
    text = (
        f"MRI RIGHT ANKLE\nClinical details: {history}\n"
        "Findings: Bone bruise of the lateral talar dome."
    )
    assert sites(text) == {("talus", "right")}


def test_a_present_complaint_with_a_past_operation_keeps_its_side() -> None:
    """The order's side may be wrong: the symptomatic knee of the history is the report's."""
    text = (
        "History: left knee pain, five months after arthroscopic meniscectomy.\n"
        "Findings: Subchondral marrow oedema in the medial tibial plateau."
    )
    assert sites(text, "MRI KNEE RIGHT WO CONTRAST") == {("medial_tibial_plateau", "left")}


def test_without_a_title_side_the_side_of_no_past_event_is_the_reports() -> None:
    text = (
        "MRI WRIST\nHistory: Fell on the right hand 4 days ago. Old scaphoid fracture of the"
        " left wrist from school years.\n"
        "Findings: Marrow oedema in the distal radius."
    )
    assert sites(text) == {("distal_radius", "right")}


def test_a_year_old_patient_is_no_past_event() -> None:
    text = (
        "History: 52-year-old man with right elbow pain.\n"
        "Findings: Marrow oedema in the radial head."
    )
    assert sites(text, "MRI ELBOW LEFT WO CONTRAST") == {("radial_head", "right")}


def test_german_past_event_on_the_other_side() -> None:
    text = (
        "MRT Kniegelenk rechts\nAnamnese: Distorsion vor 1 Woche. Z.n. VKB-Plastik links 2018.\n"
        "Befund: Knochenmarködem im lateralen Femurkondylus."
    )
    assert sites(text) == {("lateral_femoral_condyle", "right")}


# -- marrow words beside soft-tissue edema -------------------------------------------------------


def test_a_marrow_word_places_a_signal_beside_periosteal_edema() -> None:
    text = (
        "MRI right leg.\nTibia: periosteal edema along the medial cortex + intramedullary STIR"
        " hyperintensity in the tibial diaphysis."
    )
    annotation = annotate(text)
    assert annotation.bme == "present"
    assert annotation_sites(annotation) == {("tibial_shaft", "right")}


def test_periosteal_high_signal_alone_stays_soft_tissue() -> None:
    text = "MRI right leg.\nTibia: periosteal high STIR signal along the medial cortex."
    assert annotate(text).bme == "absent"


def test_marrow_and_periosteal_edema_is_a_mention() -> None:
    text = "Left fibular shaft: fracture line with surrounding marrow and periosteal oedema."
    annotation = annotate(text)
    assert annotation.bme == "present"
    assert annotation_sites(annotation) == {("fibular_shaft", "left")}


def test_a_fat_pad_after_a_signal_is_no_fat() -> None:
    text = (
        "MRI right heel. STIR shows high signal throughout the calcaneus, with swelling of the"
        " heel fat pad."
    )
    assert sites(text) == {("calcaneus", "right")}


def test_fat_after_a_signal_still_says_fat() -> None:
    text = "MRI right heel. High STIR signal in the calcaneus, which is fat on T1."
    assert annotate(text).bme == "absent"


def test_inhomogeneous_fat_suppression_as_the_cause_is_artefact() -> None:
    text = (
        "Findings: STIR hyperintensity in the medial talar dome.\n"
        "Addendum: the STIR hyperintensity in the talar dome is due to inhomogeneous fat"
        " suppression; there is no bone marrow oedema."
    )
    assert annotate(text).bme == "absent"


# -- hedges and sides ----------------------------------------------------------------------------


def test_difficult_to_exclude_hedges() -> None:
    text = (
        "Impression: A small bone contusion of the medial femoral condyle is difficult to exclude."
    )
    assert annotate(text).bme == "possible"


def test_both_referring_back_is_no_side() -> None:
    text = (
        "MRI RIGHT KNEE\nFindings: cartilage loss over the MFC and MTP with subchondral marrow"
        " oedema in both (MFC 2 cm, MTP 1 cm)."
    )
    assert sites(text) == {("medial_femoral_condyle", "right"), ("medial_tibial_plateau", "right")}


# -- German ----------------------------------------------------------------------------------------


def test_german_regredient_alone_is_still_there() -> None:
    text = "MRT linkes Knie. Im Verlauf rückläufiges Knochenmarködem im lateralen Tibiaplateau."
    annotation = annotate(text)
    assert annotation.bme == "present"
    assert annotation_sites(annotation) == {("lateral_tibial_plateau", "left")}


@pytest.mark.parametrize(
    "said",
    [
        "Das Knochenmarködem im lateralen Tibiaplateau ist vollständig regredient.",
        "Vollständig rückläufiges Knochenmarködem im lateralen Tibiaplateau.",
    ],
)
def test_german_completely_regredient_is_resolved(said: str) -> None:
    assert annotate(f"MRT linkes Knie. {said}").bme == "absent"


@pytest.mark.parametrize(
    "said",
    [
        "Ein Knochenmarködem im Os scaphoideum lässt sich nicht nachweisen.",
        "Ein Knochenmarködem im Os scaphoideum liegt jedoch derzeit nicht vor.",
    ],
)
def test_german_negations_after_the_mention(said: str) -> None:
    assert annotate(f"MRT rechtes Handgelenk. {said}").bme == "absent"


def test_german_both_sides_of_one_joint_is_no_side() -> None:
    text = (
        "MRT Fuß links.\nBefund: KMÖ beidseits des Talonavikulargelenks (Taluskopf und Os"
        " naviculare)."
    )
    assert sites(text) == {("talus", "left"), ("navicular", "left")}


def test_german_side_called_wrong_on_the_order_is_no_side() -> None:
    text = (
        "MRT Sprunggelenk RECHTS (Seitenangabe der Anforderung „links“ fehlerhaft).\n"
        "Befund: Knochenmarködem im Talus."
    )
    assert sites(text) == {("talus", "right")}


def test_german_signal_valued_as_artefact_is_none() -> None:
    text = (
        "MRT rechtes Knie. Fleckige Signalanhebung in der STIR im lateralen Tibiakopf um die"
        " Schrauben, die als Suszeptibilitätsartefakt gewertet wurde."
    )
    assert annotate(text).bme == "absent"


def test_a_title_line_that_tells_a_past_event_gives_way_to_the_procedure() -> None:
    text = (
        "Cyclist, shin pain. Hx R tibial nailing 2017.\n"
        "Tibia: marrow oedema in the tibial diaphysis around a transverse T1-dark line."
    )
    assert sites(text, "MRI TIBIA FIBULA LEFT WO CONTRAST") == {("tibial_shaft", "left")}


def test_a_post_op_title_keeps_its_side() -> None:
    text = "MRI LEFT KNEE POST-OP\nFindings: Marrow oedema in the lateral femoral condyle."
    assert sites(text) == {("lateral_femoral_condyle", "left")}


# -- negation scope and abbreviations --------------------------------------------------------------


def test_and_a_new_finding_ends_a_negation() -> None:
    text = (
        "MRI left ankle. No fluid beneath the osteochondral fragment, and a small contusion of"
        " the distal fibula."
    )
    annotation = annotate(text)
    assert annotation.bme == "present"
    assert annotation_sites(annotation) == {("distal_fibula", "left")}


def test_a_negated_list_stays_negated() -> None:
    assert annotate("MRI left ankle. No fracture, effusion, or marrow oedema.").bme == "absent"


def test_post_with_a_period_is_an_abbreviation() -> None:
    text = "MRI R knee. Kissing contusions LFC and post. LTP. Menisci intact."
    assert sites(text) == {
        ("lateral_femoral_condyle", "right"),
        ("lateral_tibial_plateau", "right"),
    }


def test_a_bracketed_qualifier_keeps_an_addendum_title() -> None:
    text = (
        "MRT Kniegelenk rechts\nBeurteilung: Fragliches Knochenmarködem am unteren Patellapol.\n"
        "Nachtrag (nach Rücksprache mit dem Zuweiser): Kein Knochenmarködem der Patella."
    )
    assert annotate(text).bme == "absent"


def test_german_signal_inside_a_tendon_is_no_bone() -> None:
    text = "MRT linke Schulter.\nSSP: Tendinopathie, ansatznah intratendinös T2-hyperintens."
    assert annotate(text).bme == "absent"


@pytest.mark.parametrize(
    "summary",
    [
        "This is consistent with active axial spondyloarthritis.",
        "The picture is one of active axial spondyloarthritis.",
        "Taken together I think a spondyloarthritis is the most likely explanation.",
    ],
)
def test_a_letters_summary_sentence_names_the_cause(summary: str) -> None:
    text = (
        "Dear Dr Lowe,\nHis MRI shows bone marrow oedema in the right sacrum and ilium. The"
        f" lumbar spine is unremarkable.\n{summary}\nKind regards"
    )
    assert annotate(text).etiology == ("inflammatory",)


def test_german_classification_not_certainly_possible_hedges() -> None:
    text = (
        "MRT linkes Knie. Subchondrale Signalanhebung im medialen Femurkondylus, deren Einordnung"
        " als Knochenmarködem nicht sicher möglich ist."
    )
    assert annotate(text).bme == "possible"


def test_german_a_differential_not_certainly_told_apart_keeps_the_edema() -> None:
    text = (
        "Beurteilung: Osteonekrose der medialen Femurkondyle rechts mit deutlichem Ödem,"
        " Abgrenzung zur subchondralen Insuffizienzfraktur nicht sicher möglich."
    )
    assert annotate(text).bme == "present"


def test_a_lead_sentence_of_what_the_mri_shows_names_the_cause() -> None:
    text = (
        "Dear Dr Lowe,\n\nHer MRI of the sacroiliac joints shows active sacroiliitis. There is bone"
        " marrow oedema on the iliac side of the left sacroiliac joint.\n\nKind regards"
    )
    annotation = annotate(text)
    assert annotation.etiology == ("inflammatory",)
    assert annotation_sites(annotation) == {("ilium", "left")}


def test_an_mdt_outcome_is_a_summary() -> None:
    text = (
        "MDT summary\nImaging: STIR hyperintensity on the iliac side of the right SI joint.\n"
        "Outcome:\n- Active sacroiliitis -> axial spondyloarthritis"
    )
    assert annotate(text).etiology == ("inflammatory",)


def test_a_side_after_another_finding_is_that_findings() -> None:
    text = (
        "Beurteilung: Sakroiliitis beidseits, links betont, mit Knochenmarködem iliakal und sakral"
        " sowie Erosionen links."
    )
    assert sites(text, language="de") == {("ilium", "bilateral"), ("sacrum", "bilateral")}


def test_a_side_right_after_its_bone_in_a_list_is_the_bones() -> None:
    text = "Impression: Marrow oedema of the pubis left, acetabulum left and sacral ala right."
    assert ("sacrum", "right") in sites(text)


def test_german_the_sacral_side_of_both_joints_is_bilateral() -> None:
    text = (
        "MRT ISG. Befund: In der STIR beidseits subchondrales Knochenmarködem, iliakal betont,"
        " rechts mehr als links, auch auf der sakralen Seite beider Gelenke."
    )
    assert sites(text) == {("ilium", "bilateral"), ("sacrum", "bilateral")}


def test_german_not_an_edema_in_an_addendum_takes_it_back() -> None:
    text = (
        "MRT Rückfuß li.\nBeurteilung: Knochenmarködem Calcaneus.\nNachtrag: Es handelt sich um"
        " ein intraossäres Lipom des Calcaneus, nicht um ein Ödem."
    )
    assert annotate(text).bme == "absent"


def test_a_modic_1_change_of_the_prior_study_is_history() -> None:
    text = (
        "Findings: Modic type 2 fatty change at the L4-L5 endplates; on the prior study this was"
        " Modic type 1, now converted. No STIR hyperintense endplate signal.\n"
        "Impression: Modic 2 endplate change (converted from Modic 1)."
    )
    assert annotate(text).bme == "absent"


def test_edema_that_spares_the_cortex_is_not_the_cortexs() -> None:
    text = (
        "Findings: A mass in the left temporal lobe with surrounding oedema. Note that the"
        " edema spares the cortex. The calvarial marrow has normal signal."
    )
    assert annotate(text).bme == "absent"


def test_german_the_question_put_to_the_mri_is_no_finding() -> None:
    text = (
        "Sehr geehrte Kollegin,\n\nFragestellung an die MRT war ein Bone bruise des Humeruskopfes"
        " links.\n\nDer Humeruskopf zeigt ein regelrechtes Marksignal."
    )
    assert annotate(text).bme == "absent"


def test_a_marrow_signal_described_after_a_soft_tissue_finding_is_the_marrows() -> None:
    text = (
        "History: fever, left ankle pain.\nFindings: It shows a tibiotalar effusion with thickened,"
        " enhancing synovium, and an area of abnormal marrow signal in the distal tibial"
        " metaphysis, low on T1-weighted images and high on STIR, abutting the physis."
    )
    assert sites(text) == {("distal_tibia", "left")}


def test_a_tumour_filling_the_medullary_cavity_is_no_edema() -> None:
    text = (
        "MRI: tumour fills 12 cm of the fibular shaft medullary cavity, T1 low / T2 high, with a"
        " large soft tissue mass."
    )
    assert annotate(text).bme == "absent"
