"""Twenty-sixth round: sides said with one mention of a bilateral disease, earlier exams
labelled by month (tests/fixtures/reports/VOICES.md).

Every text here is written for this test.
"""

from __future__ import annotations

from nlp import annotate
from tests.nlp.sites import annotation_sites as sites

# -- a side said with the mention, the other side in a clause of its own -----------------------


def test_the_other_side_in_a_clause_of_its_own_is_no_comparison() -> None:
    text = (
        "Conclusion: Osteonecrosis of both femoral heads, Ficat III on the left with marrow"
        " oedema, and Ficat I on the right."
    )
    assert sites(annotate(text)) == {("femoral_head", "left")}


def test_a_comparison_of_the_two_sides_keeps_both() -> None:
    text = (
        "Conclusion: Osteonecrosis of both femoral heads with marrow oedema on the left more"
        " than on the right."
    )
    assert sites(annotate(text)) == {("femoral_head", "bilateral")}


def test_dash_labelled_sides_in_one_line_are_sides() -> None:
    text = (
        "IMPRESSION:\n1. Bilateral talar AVN: Lt - stage III with marrow edema of the body;"
        " Rt - stage II, no edema.\n"
    )
    assert sites(annotate(text)) == {("talus", "left")}


def test_german_other_side_in_its_own_clause() -> None:
    text = (
        "Beurteilung: Hüftkopfnekrose beidseits, rechts ARCO III mit Knochenmarködem, während"
        " links nur ein Stadium I ohne Ödem vorliegt."
    )
    assert sites(annotate(text)) == {("femoral_head", "right")}


# -- earlier exams labelled by month -----------------------------------------------------------


def test_an_exam_labelled_by_month_before_today_is_earlier() -> None:
    text = (
        "Comparison: two earlier MRIs.\n"
        "June: marrow oedema of the right talar dome.\n"
        "Today (October): right talus now of normal signal. New marrow oedema in the"
        " navicular.\n"
    )
    assert sites(annotate(text, procedure="MRI RIGHT ANKLE")) == {("navicular", "right")}


def test_a_month_label_without_a_later_exam_is_current() -> None:
    text = "MRI right ankle\nMarch 2026: marrow oedema of the talar dome.\n"
    assert sites(annotate(text)) == {("talus", "right")}


# -- the exam's side when the history names another joint's ------------------------------------


def test_the_other_knee_after_a_replaced_one_is_the_other_side() -> None:
    text = (
        "History: left total knee replacement 2018. Now pain in the other knee for two months.\n"
        "Findings: marrow oedema in the lateral tibial plateau."
    )
    assert sites(annotate(text)) == {("lateral_tibial_plateau", "right")}


def test_the_opposite_shoulder_after_a_fall() -> None:
    text = (
        "Clinical details: known left shoulder instability. Fell onto the opposite shoulder.\n"
        "Findings: Hill-Sachs impaction with oedema of the humeral head."
    )
    assert sites(annotate(text, procedure="MRI SHOULDER")) == {("humeral_head", "right")}


def test_the_other_knee_said_normal_is_no_opposite() -> None:
    text = (
        "History: right knee pain after a twisting injury; the other knee is normal.\n"
        "Findings: bone bruise of the lateral femoral condyle."
    )
    assert sites(annotate(text)) == {("lateral_femoral_condyle", "right")}


def test_an_earlier_exam_of_the_other_side_is_no_side_of_this_one() -> None:
    text = (
        "MRI right ankle\n"
        "Comparison: MRI of the left ankle two years ago with talar marrow edema.\n"
        "Findings: faint high STIR signal in the lateral process of the talus."
    )
    assert sites(annotate(text)) == {("talus", "right")}


def test_an_earlier_exam_gives_the_side_when_nothing_else_does() -> None:
    text = (
        "Comparison: MRI of the left knee, March 2025.\n"
        "Findings: new marrow oedema in the medial femoral condyle."
    )
    assert sites(annotate(text)) == {("medial_femoral_condyle", "left")}


def test_the_side_said_with_the_exams_joint_wins_over_another_joints() -> None:
    text = (
        "MRI of the wrist\n"
        "History: fell off a ladder, grazes on the left elbow and pain at the right wrist.\n"
        "Findings: increased STIR signal in the lunate."
    )
    assert sites(annotate(text)) == {("lunate", "right")}


def test_no_side_by_joint_when_a_side_word_names_no_joint() -> None:
    text = (
        "MRT der linken Schulter\n"
        "Indikation: Schmerzen links beim Liegen. Rechte Schulter: Z.n. Naht 2019.\n"
        "Befund: fragliches Knochenmarködem im Tuberculum majus."
    )
    assert sites(annotate(text)) == {("humeral_head", "left")}


# -- a bone beside "and both" ------------------------------------------------------------------


def test_both_after_and_is_the_next_bones_side() -> None:
    text = (
        "History: right hip pain.\n"
        "Findings: high STIR signal in the femoral neck on the symptomatic side. The"
        " contralateral femoral neck and both femoral heads are of normal marrow signal."
    )
    assert sites(annotate(text)) == {("femoral_neck", "right")}


def test_what_a_signal_surrounds_is_not_where_it_is() -> None:
    text = (
        "MRI right hip\n"
        "Findings: Surrounding the necrotic segment, the marrow of the femoral head shows"
        " diffuse high STIR signal."
    )
    assert sites(annotate(text)) == {("femoral_head", "right")}


# -- marrow signal without the word "signal"; vertebrae told apart by level ---------------------


def test_low_t1_high_stir_without_the_word_signal_is_edema() -> None:
    text = "Findings: Marrow of the 2nd metatarsal head confluent low T1, high STIR, enhancing."
    annotation = annotate(text, procedure="MRI RIGHT FOOT")
    assert annotation.bme == "present"
    assert sites(annotation) == {("metatarsal", "right")}


def test_a_lesion_low_t1_high_stir_is_the_lesions_signal() -> None:
    text = (
        "Findings: A lesion in the proximal tibia, low T1, high STIR, in keeping with an"
        " enchondroma."
    )
    assert annotate(text).bme == "absent"


def test_an_impression_denying_edema_at_other_levels_does_not_take_it_back() -> None:
    text = (
        "FINDINGS: The marrow of the T11 and T12 vertebral bodies is low on T1 and high on"
        " STIR around the infected disc.\n"
        "IMPRESSION:\n1. T11-T12 spondylodiscitis.\n2. Modic type 2 change at L3-L4, without"
        " edema.\n"
    )
    annotation = annotate(text)
    assert annotation.bme == "present"
    assert "infection" in annotation.etiology


def test_an_impression_denying_edema_at_the_same_level_takes_it_back() -> None:
    text = (
        "FINDINGS: Possible faint high STIR signal in the L4 vertebral body.\n"
        "IMPRESSION: No marrow edema at L4; the signal is partial volume.\n"
    )
    assert annotate(text).bme == "absent"


# -- tables ------------------------------------------------------------------------------------


def test_rows_of_a_table_are_lines_of_their_own() -> None:
    text = (
        "MRI RIGHT MIDFOOT\n"
        "bone\tT1\tSTIR\tcomment\n"
        "medial cuneiform\tnl\thigh\tedema lateral aspect\n"
        "middle cuneiform\tnl\tnl\t-\n"
        "cuboid\tnl\tnl\t-\n"
    )
    assert sites(annotate(text)) == {("cuneiform", "right")}


def test_aligned_columns_are_rows() -> None:
    text = (
        "MRI LEFT KNEE\nFindings\n"
        "  medial femoral condyle   - grade IV defect with marrow edema beneath it\n"
        "  trochlear groove         - grade II, no marrow change\n"
    )
    assert sites(annotate(text)) == {("medial_femoral_condyle", "left")}


def test_the_other_side_after_a_comma_is_its_own_part() -> None:
    text = (
        "IMPRESSION\n- Bilateral femoral head osteonecrosis: left ARCO IIIA with marrow edema,"
        " right ARCO II without edema."
    )
    assert sites(annotate(text)) == {("femoral_head", "left")}


def test_a_lesser_extent_on_the_other_side_keeps_both() -> None:
    text = (
        "IMPRESSION: Bilateral femoral head osteonecrosis with marrow edema on the right, and"
        " to a lesser extent on the left."
    )
    assert sites(annotate(text)) == {("femoral_head", "bilateral")}


# -- gone now, still there before ---------------------------------------------------------------


def test_edema_still_present_before_and_no_longer_seen_is_past() -> None:
    text = (
        "Findings: The marrow oedema still present in the talar neck on the prior study is no"
        " longer seen."
    )
    assert annotate(text).bme == "absent"


def test_german_edema_still_present_before_and_gone_now_is_past() -> None:
    text = (
        "Befund: Das in der Voruntersuchung noch vorhandene Knochenmarködem im Talushals ist"
        " nicht mehr abgrenzbar."
    )
    assert annotate(text).bme == "absent"


def test_gone_across_a_comma_is_another_things() -> None:
    text = (
        "Befund: Ein weiterhin nachweisbares, jedoch deutlich regredientes Ödem im Femurkondylus,"
        " die Frakturlinie ist nicht mehr abgrenzbar."
    )
    assert annotate(text).bme == "present"


def test_german_edema_hidden_at_first_is_hypothetical() -> None:
    text = (
        "Beurteilung: Kein Nachweis einer Stressreaktion. Bei Persistenz der Beschwerden Kontrolle,"
        " da ein Knochenmarködem im Rahmen einer frühen Stressreaktion dem Nachweis initial"
        " entgehen kann."
    )
    assert annotate(text).bme == "absent"


# -- what a later exam found gone ----------------------------------------------------------------


def test_soft_tissue_resolved_on_a_later_exam_does_not_take_back_marrow_edema() -> None:
    text = (
        "Findings: Ill-defined high STIR signal in the medullary cavity of the left tibial"
        " diaphysis.\n"
        "Follow-up: repeat MRI at 8 weeks: periosteal edema resolved; marrow signal on STIR"
        " decreased but still mildly increased.\n"
    )
    assert sites(annotate(text)) == {("tibial_shaft", "left")}


def test_a_bone_now_of_normal_signal_on_a_later_exam_is_resolved() -> None:
    text = (
        "Findings: low T1, high STIR marrow signal in the left femoral head and neck.\n"
        "Follow-up MRI 3 months later: head now normal signal. Faint residual STIR"
        " hyperintensity in the inferior femoral neck.\n"
    )
    assert sites(annotate(text)) == {("femoral_neck", "left")}


# -- German: Z. n., Lernpunkte, signal raised "in der STIR" -------------------------------------


def test_german_z_n_with_a_space_is_history() -> None:
    text = (
        "Diagnosen: Femurkopfnekrose rechts; Z. n. Knochenmarködem des rechten Hüftkopfes 2021.\n"
        "Befund: Das damalige Ödem hat sich vollständig zurückgebildet; aktuell kein Ödem."
    )
    assert annotate(text).bme == "absent"


def test_german_teaching_points_are_no_findings() -> None:
    text = (
        "Befund: Korbhenkelriss des Innenmeniskus. Kein Knochenmarködem.\n"
        "Lernpunkte:\n1. Knochenkontusionen am lateralen Tibiaplateau sind typisch für eine"
        " Ruptur des vorderen Kreuzbandes.\n"
    )
    assert annotate(text).bme == "absent"


def test_german_signal_raised_in_the_stir_is_edema() -> None:
    text = (
        "Befund: Das Markraumsignal des Os cuboideum ist in T1 vermindert und in der STIR"
        " deutlich angehoben."
    )
    assert sites(annotate(text, procedure="MRT FUSS RECHTS")) == {("cuboid", "right")}


def test_the_findings_side_when_the_history_names_both() -> None:
    text = (
        "History: six weeks of right ankle pain. A year earlier a painful left knee with marrow"
        " edema that resolved.\n"
        "Findings:\nImage 1: Sagittal STIR image of the right ankle shows diffuse hyperintensity"
        " of the talus.\n"
    )
    assert sites(annotate(text)) == {("talus", "right")}


def test_a_request_form_that_states_the_wrong_side() -> None:
    text = (
        "Clinical details: LEFT knee, twisting injury. NB request form states right; patient"
        " confirms the left knee was imaged.\n"
        "Findings: bone bruise of the lateral femoral condyle."
    )
    assert sites(annotate(text, procedure="MRI KNEE RIGHT")) == {
        ("lateral_femoral_condyle", "left")
    }


def test_german_latin_condyles() -> None:
    assert sites(annotate("Befund: Knochenmarködem im Condylus medialis femoris links.")) == {
        ("medial_femoral_condyle", "left")
    }
    assert sites(annotate("Befund: Knochenmarködem im Condylus lateralis tibiae links.")) == {
        ("lateral_tibial_plateau", "left")
    }


def test_german_oedemzone_at_a_bone() -> None:
    text = "Befund: Im Ramus superior ossis pubis rechts Ödemzone mit zarter Frakturlinie."
    assert sites(annotate(text)) == {("pubis", "right")}


def test_what_remains_after_a_semicolon_is_not_the_resolved_edema() -> None:
    text = (
        "Findings:\n- Right distal radius: previous marrow edema resolved; a small area of"
        " sclerosis remains.\n"
    )
    assert annotate(text).bme == "absent"


def test_previously_diffuse_signal_is_the_earlier_exams() -> None:
    text = (
        "Findings: T12: stable wedging. Previously diffuse STIR hyperintensity in the T12 body;"
        " the marrow is now isointense to the adjacent vertebrae.\n"
    )
    assert annotate(text).bme == "absent"


def test_a_colon_opens_the_signals_own_part() -> None:
    text = (
        "Befund: Knorpelschaden medial femorotibial mit subchondralen Signalalterationen: im"
        " medialen Tibiaplateau jeweils STIR-hyperintense, unscharf begrenzte Areale."
    )
    assert sites(annotate(text, procedure="MRT KNIE LINKS")) == {("medial_tibial_plateau", "left")}


def test_german_mri_worth_repeating_if_suspected_is_hypothetical() -> None:
    text = (
        "Befund: Kein Knochenmarködem im Akromion.\n"
        "Procedere: Bei Verdacht auf eine aktivierte ACG-Arthrose mit Knochenmarködem wäre vorher"
        " eine erneute MRT sinnvoll."
    )
    assert annotate(text).bme == "absent"


# -- weak causes ---------------------------------------------------------------------------------


def test_german_synovitis_beside_a_named_cause_is_no_cause() -> None:
    text = (
        "Befund: Subchondrale Signalanhebungen in der PD fs am Tibiaplateau. Mäßiger Erguss mit"
        " Synovitis.\n"
        "Beurteilung: Medial betonte Gonarthrose mit subchondralem Knochenmarködem am medialen"
        " Tibiaplateau im Sinne einer aktivierten Arthrose."
    )
    assert annotate(text).etiology == ("degenerative",)


def test_german_synovitis_alone_is_a_weak_inflammatory_cause() -> None:
    text = "Beurteilung: Knochenmarködem im Os lunatum bei ausgeprägter Synovitis des Handgelenks."
    assert annotate(text).etiology == ("inflammatory",)


def test_a_disease_set_against_the_case_is_no_cause() -> None:
    text = (
        "Findings: The right femoral head and neck are diffusely low on T1 and high on STIR."
        " Osteonecrosis, by contrast, usually shows a geographic subchondral lesion with a"
        " double-line sign, which is absent here.\n"
        "Impression: Transient osteoporosis of the right hip."
    )
    assert annotate(text).etiology == ("transient",)


def test_an_inflammatory_response_to_a_tumour_is_no_inflammatory_cause() -> None:
    text = (
        "Findings: Osteoid osteoma nidus in the left femoral neck with extensive surrounding bone"
        " marrow edema, an inflammatory response to the nidus."
    )
    assert annotate(text).etiology == ("tumor",)


# -- a bone label over its shaft; another joint's side; "if present" ------------------------------


def test_a_tibia_label_over_its_diaphysis_is_the_tibial_shaft() -> None:
    text = (
        "MRI BOTH LEGS\nFindings:\nR tibia: posteromedial mid-diaphysis, periosteal edema plus"
        " marrow edema on STIR.\nL tibia: marrow normal.\n"
    )
    assert sites(annotate(text)) == {("tibial_shaft", "right")}


def test_a_side_said_only_of_another_joint_is_not_the_exams() -> None:
    text = (
        "MRI LEFT KNEE\nClinical: knee pain for 4 weeks. Right hip transient osteoporosis last"
        " year, resolved.\nFindings: bone marrow oedema of the medial femoral condyle."
    )
    assert sites(annotate(text)) == {("medial_femoral_condyle", "left")}


def test_edema_if_present_is_hypothetical() -> None:
    text = (
        "Impression: No bone marrow edema. Periarticular bone marrow edema, if present, would"
        " support CRPS."
    )
    assert annotate(text).bme == "absent"


def test_a_lesser_trochanter_abbreviation_is_no_side() -> None:
    text = (
        "MRI PELVIS / BOTH HIPS\nFN: bilat fracture lines in the femoral necks w/ surrounding BME"
        " on STIR.\nGT/LT: nml.\n"
    )
    assert sites(annotate(text)) == {("femoral_neck", "bilateral")}


def test_signal_difficult_to_separate_from_normal_marrow_is_possible() -> None:
    text = (
        "Findings: a faint increase in STIR signal in the medial epicondyle of the right humerus,"
        " which is difficult to separate from the normal signal of the physeal cartilage."
    )
    assert annotate(text).bme == "possible"


def test_an_addendum_that_considers_the_edema_equivocal() -> None:
    text = (
        "Impression: Marrow edema in the medial cuneiform, suggestive of a stress reaction.\n"
        "ADDENDUM: On review the signal may be partly related to inhomogeneous fat suppression."
        " The marrow edema is therefore considered equivocal.\n"
    )
    assert annotate(text).bme == "possible"


def test_stable_erosions_far_after_resolved_edema_do_not_bring_it_back() -> None:
    text = (
        "Conclusion: No active sacroiliitis. Resolution of the bone marrow oedema of the left"
        " ilium seen previously, with post-inflammatory fat metaplasia and stable erosions."
    )
    assert annotate(text).bme == "absent"


def test_stable_edema_is_current() -> None:
    text = "Conclusion: The bone marrow oedema of the medial femoral condyle is stable."
    assert annotate(text).bme == "present"


def test_resolved_with_its_own_comma_is_resolved() -> None:
    text = (
        "Impression:\n- Stress reaction of the talus: marrow oedema resolved, residual chronic"
        " change only.\n"
    )
    assert annotate(text).bme == "absent"
