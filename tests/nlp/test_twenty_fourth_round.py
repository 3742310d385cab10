"""Twenty-fourth round: letters, MDT minutes and second opinions; a note's summary labels,
run-in titles, the side an exam sentence gives, a cause the summary denies, and German
bone words (tests/fixtures/reports/VOICES.md).

Every text here is written for this test.
"""

from __future__ import annotations

import pytest

from nlp import annotate
from nlp.ruleset import load_ruleset
from tests.nlp.sites import annotation_sites as sites

# -- a note's summary label -----------------------------------------------------------------


def test_a_dx_line_in_the_title_block_names_the_cause_of_every_site() -> None:
    text = (
        "DISCHARGE NOTE - Foot Unit\n"
        "Dx: osteomyelitis, 1st ray.\n"
        "Hx: 58F, diabetic, ulcer under the 1st MT head.\n"
        "MRI day 1: low T1, high STIR marrow signal in the 1st MT head and the base of the"
        " great toe proximal phalanx. No abscess.\n"
    )
    annotation = annotate(text, procedure="MRI FOOT LEFT")
    assert annotation.etiology == ("infection",)
    assert sites(annotation) == {("metatarsal", "left"), ("toe_phalanx", "left")}


def test_the_same_cause_in_the_history_is_no_summary() -> None:
    text = (
        "Hx: osteomyelitis of the 1st ray treated two years ago.\n"
        "MRI today: high STIR marrow signal in the 2nd MT head, no cortical breach.\n"
    )
    assert annotate(text, procedure="MRI FOOT LEFT").etiology == ()


def test_an_imp_label_names_the_cause_of_a_terse_note() -> None:
    text = (
        "33M, alternating buttock pain, HLA-B27 positive.\n"
        "MRI SIJ: subchondral BMO on the iliac side of both SI joints.\n"
        "Imp: active sacroiliitis.\n"
    )
    annotation = annotate(text)
    assert annotation.etiology == ("inflammatory",)
    assert sites(annotation) == {("ilium", "bilateral")}


def test_the_radiologists_hedged_word_on_a_signal_makes_it_possible() -> None:
    text = (
        "Sports MDT\n"
        "- MRI left knee: faint STIR hyperintensity in the proximal tibial metaphysis.\n"
        "- Radiologist: could be an early stress response, or residual red marrow.\n"
    )
    annotation = annotate(text)
    assert annotation.bme == "possible"
    assert annotation.etiology == ("overload",)


def test_a_service_name_on_the_first_line_is_no_diagnosis() -> None:
    text = (
        "Sports Injury Clinic\n"
        "MRI of the left knee: STIR-bright marrow in the medial tibial metaphysis, no"
        " fracture line. Findings are consistent with a stress reaction.\n"
    )
    assert annotate(text).etiology == ("overload",)
    titled = "Sports injury of the knee\nBone bruise of the lateral femoral condyle, left.\n"
    assert "trauma" in annotate(titled).etiology  # a case's title still names its cause


# -- run-in titles and qualified titles -----------------------------------------------------


def test_a_run_in_teaching_point_is_no_finding_of_the_patient() -> None:
    case = (
        "Case: a 50-year-old man with ankle pain.\n\n"
        "Outcome. Our MRI of the left ankle five months later showed complete resolution:"
        " the talus had normal marrow signal.\n\n"
    )
    text = case + "Teaching point. Bone marrow edema syndrome is self-limiting.\n"
    assert annotate(text).bme == "absent"
    # The same sentence as the patient's finding is present.
    finding = "MRI left ankle.\nFindings. Bone marrow edema syndrome of the talus.\n"
    assert annotate(finding).bme == "present"


def test_an_addendum_qualified_by_its_occasion_overrules_the_findings() -> None:
    text = (
        "- Findings: possible small focus of marrow edema in the lateral talar dome.\n"
        "- Addendum after MDT review: the focus is a truncation artefact. No bone marrow"
        " edema.\n"
    )
    assert annotate(text, procedure="MRI ANKLE LEFT").bme == "absent"


# -- sides ------------------------------------------------------------------------------------


def test_an_exam_sentence_gives_its_side_to_the_findings_after_it() -> None:
    text = (
        "Two years ago he had a painful right knee, which settled.\n\n"
        "The MRI of his left foot, done last week, was reviewed. There is increased STIR"
        " signal in the navicular and the medial cuneiform.\n"
    )
    assert sites(annotate(text)) == {("navicular", "left"), ("cuneiform", "left")}


@pytest.mark.parametrize(
    ("said", "discounted"),
    [
        ("the scan was booked under the left ankle in error", True),
        ("images labelled as right by mistake", True),
        ("the scan was booked under the left ankle", False),
        ("the apophyses on the left side are normal", True),
        ("the cartilage on the right side is intact", True),
        ("edema on the left side is marked", False),
    ],
)
def test_sides_said_normal_or_in_error_do_not_count(said: str, discounted: bool) -> None:
    """laterality.json `normal_side`: such a side is not the report's side."""
    normal = load_ruleset("en").normal_side
    assert normal is not None
    assert (normal.search(said) is not None) is discounted


def test_a_side_booked_in_error_leaves_the_side_the_text_gives() -> None:
    text = (
        "Re: right ankle. (The scan was booked under the left ankle in error; the images"
        " are of the right ankle.) The MRI shows marrow oedema in the body of the talus.\n"
    )
    assert sites(annotate(text, procedure="MRI ANKLE LEFT")) == {("talus", "right")}


def test_a_german_side_right_after_its_bone_in_a_part_of_its_own() -> None:
    text = (
        "MRT ISG: Knochenmarködem iliakal beidseits, rechts ausgedehnter, sowie sakral nur links.\n"
    )
    assert sites(annotate(text)) == {("ilium", "bilateral"), ("sacrum", "left")}


# -- causes ------------------------------------------------------------------------------------


def test_a_cause_the_summary_only_denies_is_left_out() -> None:
    text = (
        'First report: "Edema of the lunate, in keeping with avascular necrosis."\n'
        "Review: There is bone marrow edema in the ulnar corner of the lunate with frayed"
        " cartilage.\n"
        "Conclusion: Ulnar impaction syndrome. There are no features of avascular necrosis.\n"
    )
    annotation = annotate(text, procedure="MRI WRIST LEFT")
    assert "osteonecrosis" not in annotation.etiology
    assert annotation.etiology == ("degenerative",)


def test_a_cause_the_summary_affirms_and_denies_elsewhere_stays() -> None:
    text = (
        "Findings: Edema of the lunate with a sclerotic proximal pole.\n"
        "Impression: Avascular necrosis of the lunate. No avascular necrosis of the"
        " scaphoid.\n"
    )
    assert annotate(text, procedure="MRI WRIST LEFT").etiology == ("osteonecrosis",)


def test_a_mimic_the_lesion_may_be_misread_as_is_no_cause() -> None:
    text = (
        "Left hip MRI: a 6 mm nidus in the femoral neck cortex with extensive bone marrow"
        " edema around it. Osteoid osteoma; the edema can be misread as a stress fracture.\n"
    )
    assert annotate(text).etiology == ("tumor",)


def test_cant_be_excluded_keeps_a_cause_as_a_possibility() -> None:
    text = (
        "MRI pelvis: questionable faint high STIR signal in the right sacral ala.\n\n"
        "An early sacral stress reaction can't be excluded.\n"
    )
    annotation = annotate(text)
    assert annotation.bme == "possible"
    assert annotation.etiology == ("overload",)


def test_osteochondritis_dissecans_names_no_cause_of_its_own() -> None:
    text = "MRI right elbow: osteochondritis dissecans of the capitellum with marrow edema.\n"
    assert annotate(text).etiology == ()


def test_ulnar_impaction_is_degenerative() -> None:
    text = "MRI right wrist: subchondral edema in the lunate. Ulnar impaction syndrome.\n"
    assert annotate(text).etiology == ("degenerative",)


def test_a_favoured_degenerative_cause_is_not_outweighed_by_a_possible_tumor() -> None:
    text = (
        "Impression: Edema-like marrow signal in the right ilium. It is most likely"
        " degenerative, but a metastatic deposit cannot be excluded.\n"
    )
    assert annotate(text).etiology == ("degenerative", "tumor")


def test_a_bone_where_the_edema_resolved_is_no_site() -> None:
    text = (
        "Conclusion: Migrating bone marrow oedema: resolution in the talus with new"
        " involvement of the navicular.\n"
    )
    assert sites(annotate(text, procedure="MRI ANKLE LEFT")) == {("navicular", "left")}


def test_a_signal_the_addendum_calls_artefact_is_no_edema() -> None:
    text = (
        "Findings: high STIR signal in the cuboid.\n"
        "Addendum: The apparent high STIR signal in the cuboid lies at the edge of the field"
        " of view. This is artefact: there is no bone marrow edema in the cuboid.\n"
    )
    assert annotate(text, procedure="MRI FOOT LEFT").bme == "absent"


def test_a_signal_at_another_bone_is_not_denied() -> None:
    text = (
        "Findings: high STIR signal in the cuboid. There is no bone marrow edema in the"
        " navicular.\n"
    )
    annotation = annotate(text, procedure="MRI FOOT LEFT")
    assert annotation.bme == "present"
    assert sites(annotation) == {("cuboid", "left")}


# -- bones ----------------------------------------------------------------------------------


def test_mt_head_and_neck_is_no_femoral_neck() -> None:
    text = "Marrow edema of the 5th MT head/neck."
    assert sites(annotate(text, procedure="MRI FOOT RIGHT")) == {("metatarsal", "right")}


def test_the_index_middle_phalanx_and_both_metacarpal_heads_of_one_hand() -> None:
    text = (
        "Erosions of both metacarpal heads with surrounding bone marrow edema, and marrow"
        " edema in the head of the index middle phalanx."
    )
    assert sites(annotate(text, procedure="MRI HAND RIGHT")) == {
        ("metacarpal", "right"),
        ("finger_phalanx", "right"),
    }


def test_german_navicular_of_the_foot_and_supraacetabular_ilium() -> None:
    foot = "Befund: Im Kahnbein der Fußwurzel eine Signalanhebung in der STIR, fraglich KMÖ."
    assert sites(annotate(foot, procedure="MRT FUSS RECHTS")) == {("navicular", "right")}
    wrist = "Befund: Knochenmarködem im Kahnbein, Fraktur."
    assert sites(annotate(wrist, procedure="MRT HANDGELENK RECHTS")) == {("scaphoid", "right")}
    pelvis = "Befund: Perifokales Knochenmarködem supraazetabulär rechts um eine Metastase."
    assert sites(annotate(pelvis)) == {("ilium", "right")}


def test_a_german_ebenso_opens_a_finding_of_its_own() -> None:
    text = (
        "MRT Becken: Frakturlinie am Schenkelhals links mit umgebendem Knochenmarködem,"
        " ebenso Frakturen am oberen Schambeinast links mit Marködem."
    )
    assert sites(annotate(text)) == {("femoral_neck", "left"), ("pubis", "left")}


def test_a_german_edema_that_may_develop_later_is_hypothetical() -> None:
    text = (
        "Beurteilung: Kein Knochenmarködem. Bei Persistenz Kontrolle sinnvoll, um ein sich"
        " erst später ausbildendes Knochenmarködem, etwa im Rahmen eines transienten"
        " Knochenmarködemsyndroms, zu erfassen."
    )
    annotation = annotate(text, procedure="MRT HÜFTE LINKS")
    assert annotation.bme == "absent" and annotation.etiology == ()


# -- second wave ------------------------------------------------------------------------------


def test_a_hypothetical_mention_in_the_summary_does_not_take_back_the_findings() -> None:
    text = (
        "Befund: In BWK 8 bandförmige STIR-hyperintense Signalanhebung unter der Deckplatte"
        " als Zeichen einer frischen Insuffizienzfraktur.\n"
        "Procedere: Sollten erneut Schmerzen auftreten, MRT zum Nachweis oder Ausschluss eines"
        " neuen Knochenmarködems.\n"
    )
    annotation = annotate(text)
    assert annotation.bme == "present"
    assert sites(annotation) == {("vertebral_body", None)}


def test_an_mri_done_to_assess_the_graft_that_showed_resolution_is_a_later_exam() -> None:
    text = (
        "Case presentation: A 22-year-old sustained a pivoting injury to her left knee. MRI"
        " two days later showed bone contusions in the lateral femoral condyle. An MRI"
        " obtained six months after surgery to assess the graft showed complete resolution"
        " of the bone contusions."
    )
    assert annotate(text).bme == "absent"
    planned = (
        "Findings: Bone contusion in the lateral femoral condyle, left knee.\n"
        "Recommendation: An MRI in six months to assess resolution of the contusion."
    )
    assert annotate(planned).bme == "present"


def test_a_regressing_residual_edema_is_still_there_in_german() -> None:
    text = (
        "Befund: Rechts ist das Ödem der Massa lateralis vollständig zurückgebildet.\n"
        "Beurteilung: Regredientes Restödem der bekannten Sakruminsuffizienzfraktur links."
    )
    annotation = annotate(text)
    assert annotation.bme == "present"
    assert sites(annotation) == {("sacrum", "left")}
    assert annotation.etiology == ("overload",)


def test_a_final_german_mri_that_finds_the_residual_edema_gone() -> None:
    text = (
        "Verlauf: Das Aufnahme-MRT hatte noch ein geringes Restödem im Hüftkopf rechts"
        " gezeigt.\nAbschluss-MRT vom 24.06.: Das vorbeschriebene Restödem ist vollständig"
        " rückgebildet, regelrechtes Fettmarksignal."
    )
    assert annotate(text).bme == "absent"


def test_a_german_earlier_exam_told_in_a_relative_clause_is_history() -> None:
    text = (
        "MRT der Sakroiliakalgelenke: Im Vergleich zur Voruntersuchung vor 2 Jahren, die ein"
        " subchondrales Knochenmarködem iliakal beidseits gezeigt hatte, findet sich jetzt"
        " kein Ödem mehr."
    )
    assert annotate(text).bme == "absent"


def test_german_spinous_process_of_a_vertebra_and_its_side() -> None:
    text = (
        "Anamnese: Sturz auf den rechten Fuß.\n"
        "MRT LWS: frisches Knochenmarködem im gesamten LWK 1. Auch der Dornfortsatz von LWK 1"
        " ist ödematös signalangehoben mit Frakturlinie."
    )
    assert sites(annotate(text)) == {("vertebral_body", None), ("posterior_elements", None)}
    sided = "MRT LWS: Knochenmarködem im Pedikel von LWK 4 links."
    assert sites(annotate(sided)) == {("posterior_elements", "left")}


def test_a_disc_level_names_no_sacrum_and_a_rib_bearing_vertebra_no_rib() -> None:
    text = (
        "Findings: At L2, counted down from the last rib-bearing vertebra, a thin rim of"
        " increased STIR signal under the superior endplate. At L5-S1, band-like edema-like"
        " signal in both endplates, Modic type 1."
    )
    assert sites(annotate(text)) == {("vertebral_body", None)}
    sacral = "Findings: Edema in the S1 segment of the sacrum, left ala."
    assert ("sacrum", "left") in sites(annotate(sacral))


def test_a_misspelt_insufficiency_fracture_is_overload() -> None:
    text = (
        "Findings: A questionable faint focus of increased signal in the subchondral lateral"
        " femoral condyle on the coronal STIR.\n"
        "Impression: Questionable subtle subchondral signal change lateral femoral condyle,"
        " may represent early subchondral insuficiency fracture."
    )
    assert annotate(text, procedure="MRI KNEE RIGHT").etiology == ("overload",)


def test_a_side_in_brackets_after_the_exam_and_lat_fem_condyle() -> None:
    ankle = "MR Ankle (Rt)\nFindings: Reactive marrow oedema in the posterior talar process."
    assert sites(annotate(ankle)) == {("talus", "right")}
    knee = "MRI knee.\nLat fem condyle: faint PD FS hyperintensity in the marrow, ?real."
    assert sites(annotate(knee, procedure="MRI KNEE LEFT")) == {("lateral_femoral_condyle", "left")}


def test_a_generic_appositive_ends_before_the_patients_own_edema() -> None:
    text = (
        "Conclusion: Distal clavicular osteolysis, an overuse phenomenon classically seen in"
        " weightlifters, with active marrow oedema of the distal clavicle."
    )
    annotation = annotate(text, procedure="MRI SHOULDER RIGHT")
    assert annotation.bme == "present"
    assert annotation.etiology == ("overload",)


# -- third wave ------------------------------------------------------------------------------


def test_a_bone_the_edema_resolved_from_is_no_site_but_resolution_of_its_own_bone_is() -> None:
    text = (
        "Impression: Migratory bone marrow oedema: resolution in the lateral femoral condyle"
        " and new oedema in the medial femoral condyle."
    )
    assert sites(annotate(text, procedure="MRI KNEE LEFT")) == {("medial_femoral_condyle", "left")}
    own = (
        "Comparison: prior oedema in the lateral tibial plateau.\n"
        "Opinion: Near-complete resolution of lateral plateau oedema; a small residual focus"
        " may persist."
    )
    assert ("lateral_tibial_plateau", "left") in {
        (m.bones[0], m.laterality)
        for m in annotate(own, procedure="MRI KNEE LEFT").mentions
        if m.bones
    }


def test_the_remainder_of_the_head_is_the_femoral_head_named_before() -> None:
    text = (
        "Right hip: a serpiginous low T1 line outlines a segment of the femoral head."
        " Surrounding oedema fills the remainder of the head and extends down the femoral neck."
    )
    assert sites(annotate(text)) == {("femoral_head", "right"), ("femoral_neck", "right")}
    shoulder = (
        "Left shoulder: the humeral head shows a subchondral lesion. Bone marrow oedema"
        " throughout the rest of the head."
    )
    assert sites(annotate(shoulder)) == {("humeral_head", "left")}


def test_a_caption_with_a_bone_diffusely_hyperintense_on_stir() -> None:
    text = (
        "Hx: 27M, R wrist pain.\nFig 1 cor T1 - lunate diffusely hypointense.\n"
        "Fig 2 cor STIR - lunate diffusely hyperintense. No fracture line.\n"
    )
    assert sites(annotate(text)) == {("lunate", "right")}
    fat = (
        "Image 2: sagittal T2 shows the endplate bands of L3 as mildly bright, and on STIR"
        " they are suppressed and dark."
    )
    assert annotate(fat).bme == "absent"


def test_right_under_and_warmer_than_on_the_right_are_no_sides() -> None:
    text = (
        "History: chronic plantar heel ulcer on the left, the skin warmer than on the right.\n"
        "Findings: possible faint STIR hyperintensity in the calcaneal marrow right under the"
        " ulcer."
    )
    assert sites(annotate(text)) == {("calcaneus", "left")}


def test_what_a_differential_would_expect_is_hypothetical() -> None:
    text = (
        "Findings: enchondroma of the distal femur. No perilesional marrow edema.\n"
        "DDx: chondrosarcoma - would expect lesion-related pain, deep scalloping and"
        " perilesional edema. None here."
    )
    assert annotate(text, procedure="MRI KNEE RIGHT").bme == "absent"


def test_german_radiuskopf_ohne_umlaut_and_a_hyphenated_plateau() -> None:
    elbow = "Befund: Umgebendes KMÖ in Radiuskopf und -hals nach Fraktur."
    assert sites(annotate(elbow, procedure="MRT ELLENBOGEN LINKS")) == {("radial_head", "left")}
    knee = "Befund: Bone bruise am postero-lateralen Tibiaplatau."
    assert sites(annotate(knee, procedure="MRT KNIE RECHTS")) == {
        ("lateral_tibial_plateau", "right")
    }


def test_german_marrow_said_to_be_oedematous_and_an_edema_that_may_come_later() -> None:
    text = (
        "MRT: Im Humeruskopf links ein landkartenartiges Areal; das umgebende Mark ist in den"
        " fettgesättigten Sequenzen deutlich ödematös verändert."
    )
    assert sites(annotate(text)) == {("humeral_head", "left")}
    later = (
        "Die MRT zeigt ein regelrechtes Fettmarksignal des Lunatums ohne Ödem. Ein dann neu"
        " auftretendes Knochenmarködem des Lunatums wäre als Frühzeichen einer Nekrose zu"
        " werten."
    )
    assert annotate(later, procedure="MRT HANDGELENK LINKS").bme == "absent"
