"""Twenty-third round: a letter's later exam in German, a fresh fracture that is no
mechanism, a bare fracture beside a named one, and German toe and finger phalanges
(tests/fixtures/reports/VOICES.md).

Every text here is written for this test.
"""

from __future__ import annotations

from nlp import annotate
from tests.nlp.sites import sites

# -- a later exam in a German letter ------------------------------------------------------


def test_a_german_control_mri_that_finds_the_edema_gone_makes_the_first_one_history() -> None:
    text = (
        "Liebe Kollegin,\n\n"
        "wir berichten über Frau M., 44 Jahre. Im März zeigte sich in der MRT ein"
        " Knochenmarködem im linken Os naviculare, am ehesten als Stressreaktion.\n\n"
        "Die Verlaufs-MRT vom 14.09. zeigt das Ödem nun komplett zurückgebildet, das"
        " Markraumsignal ist regelrecht.\n\nMit kollegialen Grüßen"
    )
    assert annotate(text).bme == "absent"


def test_a_planned_german_control_mri_changes_nothing() -> None:
    text = (
        "Befund: Knochenmarködem im Os naviculare links, vereinbar mit einer Stressreaktion.\n"
        "Empfehlung: Eine Verlaufs-MRT sollte in 8 Wochen zeigen, ob das Ödem vollständig"
        " rückläufig ist."
    )
    annotation = annotate(text)
    assert annotation.bme == "present"
    assert ("navicular", "left") in {(s.bone, s.laterality) for s in annotation.sites}


def test_new_edema_stays_current_beside_a_later_exam_of_another_joint() -> None:
    text = (
        "Diagnose: Wanderndes Knochenmarködemsyndrom\n"
        "Anamnese: Im Sommer bestand ein Knochenmarködem des rechten Tibiakopfes.\n"
        "Jetzt: Die MRT zeigt ein neu aufgetretenes Knochenmarködem im Os cuboideum links."
        " Im Kontroll-MRT des rechten Knies ist das Ödem vollständig rückläufig."
    )
    annotation = annotate(text)
    assert annotation.bme == "present"
    assert {(s.bone, s.laterality) for s in annotation.sites} == {("cuboid", "left")}
    assert annotation.etiology == ("transient",)


# -- fractures: a fresh one, a bare one -----------------------------------------------------


def test_a_fresh_fracture_yields_to_the_insufficiency_fracture_named_at_the_same_bone() -> None:
    text = (
        "Befund: Bandförmige STIR-hyperintense Signalanhebung unter der Deckplatte LWK 2,"
        " entsprechend einer frischen Fraktur.\n"
        "Beurteilung: Osteoporotische Insuffizienzfraktur LWK 2 mit Knochenmarködem."
    )
    assert annotate(text).etiology == ("overload",)


def test_a_fresh_fracture_alone_still_tells_trauma() -> None:
    text = "Befund: Knochenmarködem im Tibiakopf rechts bei frischer Fraktur nach Sturz vom Rad."
    assert annotate(text).etiology == ("trauma",)


def test_a_bare_fracture_of_a_mention_without_a_bone_yields_to_a_named_fracture() -> None:
    text = (
        "Findings: The marrow edema has shrunk to a 2 cm zone around the old fracture.\n"
        "Impression: Healing stress fracture of the left second metatarsal shaft with"
        " residual marrow edema."
    )
    assert annotate(text).etiology == ("overload",)


def test_a_bare_fracture_still_counts_when_nothing_else_is_named() -> None:
    text = "Findings: Marrow edema around the fracture of the left distal radius."
    assert annotate(text).etiology == ("trauma",)


# -- German phalanges -----------------------------------------------------------------------


def test_the_end_phalanx_of_a_numbered_toe_is_a_toe_phalanx() -> None:
    text = "MRT Vorfuß rechts: STIR-hyperintenses Knochenmarködem im Endglied der 3. Zehe."
    assert sites(text) == {("toe_phalanx", "right")}


def test_a_numbered_toe_is_a_toe_phalanx() -> None:
    text = "Befund: Knochenmarködem in der 2. Zehe links, vereinbar mit Stressreaktion."
    assert sites(text) == {("toe_phalanx", "left")}


def test_the_base_phalanx_of_the_index_finger_is_a_finger_phalanx() -> None:
    text = "MRT Hand links: Knochenmarködem im Grundglied des Zeigefingers nach Quetschung."
    assert sites(text) == {("finger_phalanx", "left")}


# -- English: an earlier exam by its age, a summary's cause, list items, places ---------------


def test_edema_on_an_mri_some_months_ago_is_history() -> None:
    text = (
        "Hx: marrow oedema L cuboid on MRI 2 months ago, follow-up.\n"
        "Cuboid marrow signal now normal. Tendons intact."
    )
    assert annotate(text).bme == "absent"


def test_an_injury_some_weeks_ago_leaves_the_edema_current() -> None:
    text = "History: fell two weeks ago.\nFindings: Bone bruise of the left lateral condyle."
    annotation = annotate(text)
    assert annotation.bme == "present"
    assert ("lateral_femoral_condyle", "left") in {(s.bone, s.laterality) for s in annotation.sites}


def test_a_cause_a_summary_names_outweighs_a_weak_cue_at_a_site() -> None:
    text = (
        "Findings:\n"
        "- Patchy STIR hyperintense marrow signal in the calcaneus and talus, left foot.\n"
        "- Subluxation of the subtalar joint with effusion.\n"
        "Impression:\n"
        "- Neuropathic arthropathy of the hindfoot.\n"
        "- Superimposed osteomyelitis cannot be excluded."
    )
    assert annotate(text).etiology == ("infection",)


def test_distal_clavicular_osteolysis_is_overload() -> None:
    text = (
        "Findings: STIR-bright marrow signal in the distal right clavicle with subchondral"
        " irregularity.\nImpression: Distal clavicular osteolysis."
    )
    assert annotate(text).etiology == ("overload",)


def test_a_position_word_between_proximal_and_tibia() -> None:
    text = "Left: confluent marrow edema, proximal medial tibia, with a short T1 dark line."
    assert sites(text) == {("proximal_tibia", "left")}


def test_bones_of_an_earlier_list_item_stay_with_their_own_noun() -> None:
    text = (
        "Impression: Left wrist: ulnar styloid avulsion, scaphoid waist fracture, and bone"
        " bruising of the capitate and lunate."
    )
    assert sites(text) == {("capitate", "left"), ("lunate", "left")}


def test_bones_before_a_mention_without_its_own_place_stay_with_it() -> None:
    text = "Findings: The left scaphoid, capitate and lunate show marrow edema."
    assert sites(text) == {("scaphoid", "left"), ("capitate", "left"), ("lunate", "left")}


def test_a_signal_that_involves_a_bone_is_in_it() -> None:
    text = "Right shoulder: a thin rim of fluid-sensitive hyperintensity involves the glenoid."
    assert sites(text) == {("glenoid", "right")}


# -- second wave: case reports told over several exams ----------------------------------------


def test_findings_under_an_initial_mri_heading_without_a_colon_are_the_earlier_exams() -> None:
    text = (
        "Case presentation\nA 38-year-old woman had right ankle pain for six weeks.\n\n"
        "Initial MRI\nMarked bone marrow edema of the right talus, low on T1 and high on STIR.\n\n"
        "Follow-up MRI at four months\nThe talar marrow signal is normal again; no edema.\n"
    )
    assert annotate(text).bme == "absent"


def test_edema_the_follow_up_heading_still_shows_is_current() -> None:
    text = (
        "Case presentation\nA 70-year-old man with back pain and fever.\n\n"
        "Initial MRI\nConfluent marrow edema in the L2 and L3 vertebral bodies.\n\n"
        "Follow-up MRI after eight weeks of antibiotics\n"
        "Marrow edema persists in L2 and L3, less extensive than before.\n"
    )
    annotation = annotate(text)
    assert annotation.bme == "present"
    assert {(s.bone, s.laterality) for s in annotation.sites} == {("vertebral_body", None)}


def test_an_mri_some_months_postpartum_is_a_later_exam() -> None:
    text = (
        "Case: at 35 weeks' gestation MRI showed bone marrow edema in the left femoral head.\n"
        "MRI three months postpartum: normal marrow signal in both hips.\n"
    )
    assert annotate(text).bme == "absent"


def test_no_repeat_imaging_is_no_later_exam() -> None:
    text = (
        "Imaging findings\nThe left femoral head is low on T1 and high on STIR.\n\n"
        "Final diagnosis\nTransient osteoporosis of the left hip; at six weeks her pain had"
        " settled and no repeat imaging was requested."
    )
    annotation = annotate(text)
    assert annotation.bme == "present"
    assert annotation.etiology == ("transient",)


def test_new_edema_since_the_prior_exam_is_current() -> None:
    text = (
        "Comparison: prior MRI 2025.\nFindings: The edema of the 4th metatarsal on the prior"
        " study has resolved. New since the prior exam is STIR hyperintense signal in the"
        " right 2nd metatarsal neck, in keeping with a stress reaction."
    )
    annotation = annotate(text)
    assert annotation.bme == "present"
    assert annotation.etiology == ("overload",)


def test_both_sesamoids_of_one_foot_are_no_side() -> None:
    text = (
        "MRI LEFT FOOT\nFindings: STIR hyperintense marrow in the first metatarsal head."
        " Both sesamoids retain normal marrow signal."
    )
    assert sites(text) == {("metatarsal", "left")}


def test_both_knees_still_are_both_sides() -> None:
    text = "MRI both knees: bone marrow edema of both medial femoral condyles."
    assert sites(text) == {("medial_femoral_condyle", "bilateral")}


def test_a_distal_femoral_metadiaphyseal_lesion_places_the_edema_around_it() -> None:
    text = (
        "MRI LT KNEE\nDistal femoral metadiaphyseal lesion, T1 dark, cortical breach."
        " Surrounding STIR bright marrow edema extends proximally 4 cm."
    )
    assert sites(text) == {("distal_femur", "left")}


def test_a_signal_of_a_compound_haemangioma_is_no_edema() -> None:
    text = "MRT BWS: Wirbelkörperhämangiom BWK 10, T1- und T2-hyperintens. Kein Ödem."
    assert annotate(text, language="de").bme == "absent"


def test_stir_hell_is_a_fluid_sensitive_signal() -> None:
    text = "MRT Fuß li.: Os metatarsale IV mit Signalalteration im Markraum (STIR hell)."
    assert sites(text, language="de") == {("metatarsal", "left")}


def test_a_roman_numeral_after_a_metacarpal_leaves_its_side_word_beside_it() -> None:
    text = "Befund: Knochenmarködem im Os hamatum links sowie im Metakarpale IV rechts."
    assert sites(text, language="de") == {("hamate", "left"), ("metacarpal", "right")}


def test_numbered_exam_labels_tell_a_story_of_exams() -> None:
    text = (
        "Teaching case: edema that moves\n"
        "History: 52-year-old man with left hip pain for a month, no injury.\n"
        "MRI 1 (week 5): diffuse marrow edema of the left femoral head.\n"
        "MRI 2 (month 5): the hip is normal now; new marrow edema in the left navicular.\n"
        "Interpretation: migratory bone marrow edema syndrome."
    )
    annotation = annotate(text)
    assert {(s.bone, s.laterality) for s in annotation.sites} == {("navicular", "left")}
    assert annotation.etiology == ("transient",)
