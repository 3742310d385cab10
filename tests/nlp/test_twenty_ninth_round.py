"""Twenty-ninth round: German follow-ups and hedges, typos in cause words, elliptic second
sites, signals around lesions, list titles, ';' parts and terse German language detection
(tests/fixtures/reports/VOICES.md).

Every text here is written for this test.
"""

from __future__ import annotations

import pytest

from nlp import annotate
from nlp.language import detect_language
from tests.nlp.sites import annotation_sites

# -- German status words ----------------------------------------------------------------------


def test_completely_regressed_edema_stays_gone_beside_a_stable_necrosis() -> None:
    text = (
        "Beurteilung: Unveränderte Talusnekrose ohne Einbruch, das bekannte Knochenmarködem"
        " im Talus komplett regredient."
    )
    assert annotate(text, language="de").bme == "absent"


def test_is_questionable_reaches_back_over_a_long_place() -> None:
    text = (
        "Befund: Eine flaue Signalanhebung in der STIR in den ventralen Abschnitten von"
        " BWK 11 und BWK 12 ist fraglich."
    )
    annotation = annotate(text, language="de")
    assert annotation.bme == "possible"
    assert annotation_sites(annotation) == {("vertebral_body", None)}


@pytest.mark.parametrize("adverb", ["erfreulicherweise", "glücklicherweise", "eindeutig"])
def test_is_not_present_with_an_adverb_between(adverb: str) -> None:
    text = (
        "Befund: Synovitis der MCP-Gelenke. Beurteilung: Ein Knochenmarködem im Os"
        f" capitatum liegt {adverb} nicht vor."
    )
    assert annotate(text, language="de").bme == "absent"


def test_would_come_into_question_is_hypothetical() -> None:
    text = (
        "Beurteilung: Os lunatum unauffällig. Differenzialdiagnostisch käme bei einem"
        " Knochenmarködem im Lunatum eine Lunatummalazie in Betracht; ein solches Ödem liegt"
        " hier nicht vor."
    )
    assert annotate(text, language="de").bme == "absent"


def test_follow_up_after_a_named_edema_is_its_history() -> None:
    text = (
        "MRT Knie li., Kontrolle nach Knochenmarködem des medialen Femurkondylus: Das Mark"
        " des Kondylus ist wieder regelrecht fetthaltig, kein Erguss."
    )
    assert annotate(text, language="de").bme == "absent"


def test_follow_up_after_a_number_of_weeks_is_no_history() -> None:
    text = "Kontrolle nach 8 Wochen: weiterhin Knochenmarködem im Os naviculare."
    annotation = annotate(text, language="de")
    assert annotation.bme == "present"
    text = "Kontrolle nach 8 Wochen: Knochenmarködem im Os naviculare."
    assert annotate(text, language="de").bme == "present"


def test_vu_line_is_a_comparison() -> None:
    text = (
        "MRT Sprunggelenk re.\nVU: vor 2 Mon. (KMÖ Talus, Stressreaktion)\n"
        "- Talus: Ödem nicht mehr nachweisbar\n- Kalkaneus: neues KMÖ plantar\n"
    )
    annotation = annotate(text, language="de")
    assert annotation_sites(annotation) == {("calcaneus", "right")}


def test_versus_hedges_what_follows() -> None:
    text = "Befund:\n- Tuberculum majus: DD Partialvolumeneffekt vs. frühes KMÖ\n"
    assert annotate(text, language="de").bme == "possible"


@pytest.mark.parametrize("adverb", ["Frage", "Frage nach"])
def test_a_bare_question_in_the_request_is_no_cause(adverb: str) -> None:
    text = (
        f"Belastungsschmerz Handkante re., {adverb} Hamulusfraktur. Hamulus ossis hamati:"
        " keine Frakturlinie. Fragliches KMÖ an der Hamulusbasis."
    )
    annotation = annotate(text, language="de")
    assert annotation.bme == "possible"
    assert list(annotation.etiology) == []


def test_confirmed_if_then_considered_causes_are_possible_not_hypothetical() -> None:
    text = (
        "Beurteilung: Fragliches subchondrales Knochenmarködem im medialen Tibiaplateau."
        " Falls sich dies bestätigt, wäre an eine subchondrale Insuffizienzfraktur zu denken."
    )
    annotation = annotate(text, language="de")
    assert annotation.bme == "possible"
    assert list(annotation.etiology) == ["overload"]


# -- German places and sides ------------------------------------------------------------------


def test_lfc_beside_ankle_ligaments_is_no_condyle() -> None:
    text = (
        "OSG re. nach Distorsion: LFTA und LFC rupturiert. Knochenmarködem in der"
        " Außenknöchelspitze."
    )
    annotation = annotate(text, language="de")
    assert annotation_sites(annotation) == {("distal_fibula", "right")}


def test_lfc_in_a_knee_is_the_condyle() -> None:
    annotation = annotate("Knie li.: Knochenmarködem im LFC nach Pivot-Shift.", language="de")
    assert annotation_sites(annotation) == {("lateral_femoral_condyle", "left")}


def test_the_side_the_order_named_in_error_is_no_side() -> None:
    text = (
        "Sprunggelenk LINKS (angefordert war rechts; untersucht wurde das schmerzhafte linke"
        " Gelenk). Knochenkontusion im Talus."
    )
    annotation = annotate(text, procedure="MRT OSG RECHTS", language="de")
    assert annotation_sites(annotation) == {("talus", "left")}


def test_edema_of_the_subcutis_is_soft_tissue() -> None:
    text = "Bursitis olecrani: Erguss der Bursa, Ödem der angrenzenden Subkutis. Kein KMÖ."
    assert annotate(text, language="de").bme == "absent"


@pytest.mark.parametrize(
    ("place", "bone"),
    [
        ("Corpus ossis lunati", "lunate"),
        ("Os capitatum, ossis capitati distal", "capitate"),
        ("Hamulusspitze", "hamate"),
        ("hinteren Malleolus", "distal_tibia"),
    ],
)
def test_latin_genitives_and_compounds_name_the_bone(place: str, bone: str) -> None:
    annotation = annotate(f"Befund: Knochenmarködem im Bereich {place}.", language="de")
    assert {b for b, _ in annotation_sites(annotation)} == {bone}


def test_posterior_malleolus_is_the_distal_tibia() -> None:
    text = "Findings: Bone bruise of the posterior malleolus at the PITFL insertion."
    assert {b for b, _ in annotation_sites(annotate(text))} == {"distal_tibia"}


def test_likewise_a_second_place_without_a_new_mention() -> None:
    text = (
        "Befund: Im Os triquetrum Knochenmarködem im Sinne einer Osteitis, ebenso ein"
        " kleineres Areal im Os hamatum."
    )
    annotation = annotate(text, language="de")
    assert {b for b, _ in annotation_sites(annotation)} == {"triquetrum", "hamate"}


def test_likewise_a_cyst_is_no_second_place() -> None:
    text = (
        "Befund: Im Os triquetrum Knochenmarködem im Sinne einer Osteitis, ebenso eine"
        " kleine Zyste im Os hamatum."
    )
    assert {b for b, _ in annotation_sites(annotate(text, language="de"))} == {"triquetrum"}


def test_additionally_a_tendon_is_no_second_place() -> None:
    text = (
        "Befund: Im Os triquetrum Knochenmarködem im Sinne einer Osteitis, zusätzlich"
        " Tendinopathie der Sehne am Ansatz am Os hamatum."
    )
    assert {b for b, _ in annotation_sites(annotate(text, language="de"))} == {"triquetrum"}


def test_as_well_as_another_lesion_ends_the_clause() -> None:
    text = (
        "Beurteilung: Metastase im Os ilium links mit perifokalem Knochenmarködem sowie"
        " kleine Metastase im Os pubis rechts ohne Ödem."
    )
    assert annotation_sites(annotate(text, language="de")) == {("ilium", "left")}


def test_dark_side_of_the_same_finding_after_a_comma() -> None:
    text = "Befund: Flächig STIR-hyperintenser, in T1 gering signalgeminderter Markraum im Talus."
    annotation = annotate(text, language="de")
    assert annotation.bme == "present"
    assert {b for b, _ in annotation_sites(annotation)} == {"talus"}


def test_signal_surrounding_a_lesion_is_in_the_bone() -> None:
    text = "Befund: Knöcherne Bankart-Läsion am Glenoidrand mit umgebender STIR-Hyperintensität."
    annotation = annotate(text, language="de")
    assert annotation.bme == "present"
    assert {b for b, _ in annotation_sites(annotation)} == {"glenoid"}
    english = "Findings: Osteoid osteoma nidus in the talar neck with surrounding high STIR signal."
    assert {b for b, _ in annotation_sites(annotate(english))} == {"talus"}


def test_edematous_soft_tissues_are_no_marrow() -> None:
    text = (
        "Befund: Das Os cuboideum ist in der STIR hyperintens. Erguss im"
        " Kalkaneokuboidalgelenk, umgebende Weichteile diskret ödematös."
    )
    assert {b for b, _ in annotation_sites(annotate(text, language="de"))} == {"cuboid"}


# -- German causes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "cause"),
    [
        ("Ossäre Metastsen LWK 2", "tumor"),
        ("Insuffizenzfraktur LWK 2", "overload"),
        ("Stressfrakur LWK 2", "overload"),
    ],
)
def test_typos_in_cause_words(words: str, cause: str) -> None:
    text = f"Befund: Knochenmarködem in LWK 2. Beurteilung: {words} mit Knochenmarködem."
    assert list(annotate(text, language="de").etiology) == [cause]


def test_osteitis_pubis_is_overload() -> None:
    text = (
        "Befund: Os pubis beidseits parasymphysär mit Knochenmarködem. Beurteilung: Osteitis"
        " pubis bei Überlastung."
    )
    assert list(annotate(text, language="de").etiology) == ["overload"]


def test_collapse_of_a_metastatic_vertebra_is_the_tumor() -> None:
    text = (
        "Befund: In BWK 9 Metastase mit frischer Sinterung und ausgedehntem Knochenmarködem"
        " im Wirbelkörper."
    )
    assert list(annotate(text, language="de").etiology) == ["tumor"]


def test_chondromalacia_is_no_chondroma() -> None:
    text = "Befund: Retropatellare Chondromalazie Grad III mit subchondralem KMÖ der Patella."
    assert list(annotate(text, language="de").etiology) == ["degenerative"]


def test_erosive_rheumatoid_arthritis_is_not_degenerative() -> None:
    text = "Beurteilung: Erosive rheumatoide Arthritis. Befund: Knochenmarködem im Os capitatum."
    assert list(annotate(text, language="de").etiology) == ["inflammatory"]


def test_ac_joint_arthrosis_is_no_cause_of_humeral_head_edema() -> None:
    text = (
        "MRT Schulter re.\n- Tuberculum majus: fragliches KMÖ\n- AC-Gelenk: Arthrose,"
        " Kapselhypertrophie\n"
    )
    assert list(annotate(text, language="de").etiology) == []


def test_therapeutic_infiltration_is_no_tumor() -> None:
    text = (
        "Befund: Fragliches KMÖ in der lateralen Klavikula bei AC-Gelenksarthrose. Eine"
        " diagnostische Infiltration des AC-Gelenks brachte Schmerzfreiheit."
    )
    assert list(annotate(text, language="de").etiology) == ["degenerative"]


# -- English ---------------------------------------------------------------------------------


def test_contrasting_part_after_a_semicolon_names_no_cause() -> None:
    text = (
        "Findings: Subchondral marrow oedema in the lateral tibial plateau beneath full-"
        "thickness cartilage loss, from osteoarthritis; osteonecrosis, by contrast,"
        " usually shows a serpiginous line."
    )
    assert list(annotate(text).etiology) == ["degenerative"]


def test_a_short_line_over_a_list_is_its_block_title() -> None:
    text = (
        "MRI BOTH ANKLES\nRight ankle\n- talus: marrow oedema at the dome\n"
        "Left ankle\n- talus: normal\n- calcaneus: marrow oedema at the tuberosity\n"
    )
    assert annotation_sites(annotate(text)) == {("talus", "right"), ("calcaneus", "left")}


def test_normal_signal_on_both_sides_names_no_side() -> None:
    text = (
        "MRI COCCYX\nFindings:\n- Coccyx: faint STIR hyperintensity at the first segment.\n"
        "- Sacroiliac joints: normal signal on both sides.\n"
    )
    assert annotation_sites(annotate(text)) == {("coccyx", None)}


def test_typically_in_a_relative_clause_is_no_hypothesis() -> None:
    text = (
        "Findings: The lateral talar process, the spot where snowboarder injuries typically"
        " occur, is T1 hypointense and STIR hyperintense."
    )
    annotation = annotate(text)
    assert annotation.bme == "present"
    assert {b for b, _ in annotation_sites(annotation)} == {"talus"}


def test_a_relatively_avascular_zone_is_no_osteonecrosis() -> None:
    text = (
        "Findings: High STIR signal in the scaphoid waist, a relatively avascular zone, with"
        " a stress reaction pattern."
    )
    assert "osteonecrosis" not in list(annotate(text).etiology)


def test_signal_nearest_the_disc_is_in_the_vertebral_bodies() -> None:
    text = (
        "Findings: The marrow of both vertebral bodies shows low signal on T1 and high"
        " signal on STIR over the third of each body nearest the disc."
    )
    assert annotation_sites(annotate(text)) == {("vertebral_body", None)}


def test_phalanges_of_two_named_fingers() -> None:
    text = "Findings: Marrow oedema in the proximal phalanges of the ring and little fingers."
    assert {b for b, _ in annotation_sites(annotate(text))} == {"finger_phalanx"}
    german = "Befund: Knochenmarködem der Grund- und Mittelphalanx der 3. Zehe."
    assert {b for b, _ in annotation_sites(annotate(german, language="de"))} == {"toe_phalanx"}


def test_a_bruise_that_can_be_occult_is_general() -> None:
    text = (
        "IMP: No bone marrow oedema. If symptoms persist, repeat imaging, as an early bone"
        " bruise can sometimes be occult."
    )
    annotation = annotate(text)
    assert annotation.bme == "absent"
    assert list(annotation.etiology) == []


# -- language ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "MRT Vorfuß re.\nSesambein: fraglich KMÖ.\nKontrolle in 6 Wochen.",
        "MRT Knie li.: Signalanhebung in 2 Sequenzen, Kontur erhalten.",
    ],
)
def test_terse_german_is_german(text: str) -> None:
    assert detect_language(text) == "de"
