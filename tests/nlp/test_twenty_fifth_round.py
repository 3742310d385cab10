"""Twenty-fifth round: teaching cases, image quizzes, figure captions and dictation habits;
bones a clause calls normal, a quiz's choices and answer, a discussion's word about the case,
sides said of a joint's part or right with a mention, and signals a summary explains
(tests/fixtures/reports/VOICES.md).

Every text here is written for this test.
"""

from __future__ import annotations

from nlp import annotate
from tests.nlp.sites import annotation_sites as sites

# -- bones a clause calls normal --------------------------------------------------------------


def test_a_list_of_bones_said_to_be_normal_is_no_place_of_the_mention() -> None:
    text = (
        "Findings: a small focus of possible contusion in the greater tuberosity, while the"
        " glenoid, acromion and clavicle have normal marrow signal."
    )
    assert sites(annotate(text, procedure="MRI SHOULDER LEFT")) == {("humeral_head", "left")}


def test_a_bone_said_normal_in_an_absolute_clause_is_dropped() -> None:
    text = (
        "Findings: oedema on the iliac side only of the left sacroiliac joint, the left sacral"
        " margin being normal."
    )
    assert sites(annotate(text)) == {("ilium", "left")}


# -- status words ------------------------------------------------------------------------------


def test_no_residual_edema_does_not_make_an_earlier_bruise_persist() -> None:
    text = (
        "Follow-up MRI of the left knee: the previously described bone bruises of the lateral"
        " femoral condyle are fully resolved, there being no residual or new edema."
    )
    assert annotate(text).bme == "absent"


def test_regarded_as_possible_is_a_hedge() -> None:
    text = (
        "Findings: a faint area in the greater tuberosity that I would regard as bone bruising"
        " as possible rather than established."
    )
    assert annotate(text).bme == "possible"


def test_as_soon_as_possible_is_no_hedge() -> None:
    text = "Impression: bone bruise of the lateral femoral condyle; review as soon as possible."
    assert annotate(text).bme == "present"


def test_edema_not_present_before_is_new_not_denied() -> None:
    text = "Findings: new marrow edema in the lateral femoral condyle that was not present before."
    assert annotate(text).bme == "present"


def test_treated_for_edema_is_history() -> None:
    text = (
        "Follow-up MRI in a man treated for bone marrow edema syndrome of the medial femoral"
        " condyle; today there is new marrow edema in the lateral femoral condyle."
    )
    assert sites(annotate(text, procedure="MRI KNEE LEFT")) == {("lateral_femoral_condyle", "left")}


def test_an_equivocal_stir_signal_is_possible() -> None:
    text = "Impression: Equivocal STIR signal in the lunate. Early Kienbock not excluded."
    annotation = annotate(text, procedure="MRI WRIST RIGHT")
    assert annotation.bme == "possible"
    assert sites(annotation) == {("lunate", "right")}


def test_cant_tell_is_a_hedge() -> None:
    text = (
        "Findings: faint hyperintensity on STIR in the capitellum - cant tell if this is early"
        " stress reaction or the normal maturing epiphysis."
    )
    assert annotate(text).bme == "possible"


# -- sides -------------------------------------------------------------------------------------


def test_a_side_opener_without_a_comma_gives_a_boneless_mention_the_bones_before() -> None:
    text = (
        "Findings: a band of low T1 signal in the calcaneal body on the right with surrounding"
        " marrow oedema. On the left there is a smaller zone of marrow oedema."
    )
    assert sites(annotate(text)) == {("calcaneus", "bilateral")}


def test_a_side_field_in_the_title_gives_the_side() -> None:
    text = (
        "Ankle MRI. Side: L.\nBME: talar body medially, kissing contusion of the medial malleolus."
    )
    assert sites(annotate(text)) == {("talus", "left"), ("distal_tibia", "left")}


def test_the_sacral_side_of_the_left_joint_is_left() -> None:
    text = (
        "Findings: high STIR signal on the iliac side of both joints, and on the sacral side of"
        " the left joint only."
    )
    assert sites(annotate(text, procedure="MRI SACROILIAC JOINTS")) == {
        ("ilium", "bilateral"),
        ("sacrum", "left"),
    }


def test_edematous_on_the_right_after_bilateral_necrosis() -> None:
    text = (
        "Diagnosis: bilateral osteonecrosis of the femoral heads, symptomatic and edematous on"
        " the right."
    )
    assert sites(annotate(text)) == {("femoral_head", "right")}


def test_a_discussions_sides_are_no_side_of_the_report() -> None:
    text = (
        "Image 1 (coronal T1, right hip): low T1 signal in the femoral head.\n"
        "Image 2 (coronal STIR): diffuse high signal throughout the femoral head and neck.\n"
        "Discussion: the left hip is affected about as often as the right."
    )
    assert sites(annotate(text)) == {("femoral_head", "right"), ("femoral_neck", "right")}


def test_the_other_hip_in_the_field_of_view_is_normal() -> None:
    text = (
        "Groin pain on the right. Coronal STIR shows faint increased signal in the femoral neck."
        " The left hip, included in the field of view, is normal."
    )
    assert sites(annotate(text)) == {("femoral_neck", "right")}


def test_right_at_the_attachment_is_no_side() -> None:
    text = (
        "Findings: faint hyperintense signal on STIR at the inferior pole of the patella right at"
        " the tendon attachment, possibly reactive marrow edema."
    )
    assert sites(annotate(text, procedure="MRI KNEE LEFT")) == {("patella", "left")}


def test_bare_part_words_name_the_bone_last_named() -> None:
    text = (
        "- thin low T1 line across the scaphoid waist\n"
        "- surrounding high STIR signal thru the waist and proximal pole (marrow edema around the"
        " fracture)\n"
    )
    assert sites(annotate(text, procedure="MRI WRIST LEFT")) == {("scaphoid", "left")}


# -- quizzes and discussions --------------------------------------------------------------------


QUIZ = (
    "History: right heel pain in a runner.\n"
    "Question: What is the most likely diagnosis?\n"
    "A. Plantar fasciitis\n"
    "B. Calcaneal stress fracture\n"
    "C. Calcaneal osteomyelitis\n"
    "Answer: {answer}\n"
    "Discussion: That high STIR signal is marrow edema around the fracture line in the"
    " calcaneal tuberosity."
)


def test_a_quiz_answer_picks_its_cause_and_leaves_the_others() -> None:
    annotation = annotate(QUIZ.format(answer="B."))
    assert annotation.bme == "present"
    assert annotation.etiology == ("overload",)
    assert sites(annotation) == {("calcaneus", "right")}


def test_a_quiz_choice_the_answer_does_not_pick_is_no_cause() -> None:
    annotation = annotate(QUIZ.format(answer="A."))
    assert "infection" not in annotation.etiology


def test_an_unchosen_choice_naming_a_bruise_is_no_finding() -> None:
    text = (
        "Question: What is the most likely diagnosis?\n"
        "A. Bipartite patella\n"
        "B. Patellar bone bruise after dislocation\n"
        "Answer: A.\n"
        "Explanation: the patella shows no bone marrow edema."
    )
    assert annotate(text).bme == "absent"


def test_a_discussion_about_edema_in_general_says_nothing_of_the_case() -> None:
    text = (
        "Findings: the calcaneal marrow is of normal signal; no bone marrow edema.\n"
        "Discussion: edema in the posterior calcaneus accompanies insertional disease, but it is"
        " not seen in this case."
    )
    assert annotate(text).bme == "absent"


# -- signals -------------------------------------------------------------------------------------


def test_rather_than_opens_an_alternative_to_what_a_signal_is() -> None:
    text = (
        "MRI of the foot demonstrated marrow signal hyperintense on the STIR images, centred on"
        " the navicular, rather than spreading inward from the skin."
    )
    assert sites(annotate(text)) == {("navicular", None)}


def test_a_later_sentence_that_refers_back_denies_the_signal() -> None:
    text = (
        "Figure 3. (a) Fat-suppressed image shows an apparent band of high signal across the"
        " lateral femoral condyle. (b) On STIR the marrow is dark. The finding in (a) is therefore"
        " an artefact of fat suppression and not marrow edema."
    )
    assert annotate(text).bme == "absent"


def test_failed_fat_suppression_is_no_edema() -> None:
    text = (
        "Addendum: the high signal in the medial tibial plateau is failed fat suppression from"
        " metal debris. There is no bone marrow edema."
    )
    assert annotate(text).bme == "absent"


def test_periosteal_high_signal_is_no_marrow_signal() -> None:
    text = (
        "Figure 1 (axial STIR): periosteal high signal along the posteromedial cortex of the"
        " distal tibial shaft; the marrow signal is normal."
    )
    assert annotate(text).bme == "absent"


def test_a_summary_that_calls_the_signal_red_marrow_explains_it() -> None:
    text = (
        "Findings: patchy areas in the distal femoral metaphysis, slightly bright on the"
        " fat-suppressed PD images.\n"
        "Diagnosis: red (hematopoietic) marrow reconversion."
    )
    assert annotate(text).bme == "absent"


def test_a_dark_t1_aside_does_not_end_the_place() -> None:
    text = (
        "Findings: ill-defined high signal on fat-suppressed T2 images, with low T1 signal,"
        " throughout the remainder of the humeral head."
    )
    assert sites(annotate(text)) == {("humeral_head", None)}


def test_a_decimal_comma_joins_no_second_place() -> None:
    text = (
        "Befund: STIR. Lobulierte, stark hyperintense Läsion von 2,5 cm in der Metaphyse des"
        " Humerus."
    )
    assert annotate(text, language="de").bme == "absent"


# -- German ----------------------------------------------------------------------------------------


def test_german_a_qualified_addendum_decides() -> None:
    text = (
        "Befund: Im Os lunatum ovaläre Signalanhebung in STIR, T1-hypointens.\n"
        "Beurteilung: V.a. Knochenmarködem bei beginnender Lunatummalazie.\n"
        "Nachtrag nach ergänzender KM-Gabe: intraossäres Ganglion. Kein Knochenmarködem."
    )
    assert annotate(text, language="de").bme == "absent"


def test_german_edema_that_would_be_expected_was_not_found() -> None:
    text = (
        "Das MRT zeigte eine Meniskusläsion. Ein Knochenmarködem, wie es bei einer aktivierten"
        " Arthrose zu erwarten wäre, fand sich nicht."
    )
    annotation = annotate(text, language="de")
    assert annotation.bme == "absent"
    assert annotation.etiology == ()


def test_german_should_symptoms_persist_is_hypothetical() -> None:
    text = (
        "Beurteilung: Kein Knochenmarködem. Sollten die Beschwerden persistieren, empfehlen wir"
        " eine Kontrolle, da sich ein Knochenmarködem im Frühstadium dem Nachweis entziehen kann."
    )
    assert annotate(text, language="de").bme == "absent"


# -- after the last wave ---------------------------------------------------------------------


def test_edema_around_a_named_head_keeps_its_side_in_a_study_of_both_hips() -> None:
    text = (
        "EXAM: MRI BOTH HIPS\n"
        "FINDINGS: In the right femoral head there is a geographic subchondral lesion with a"
        " double-line sign. Surrounding this, there is extensive STIR hyperintense signal"
        " throughout the remainder of the femoral head, extending into the femoral neck. In the"
        " left femoral head a smaller lesion with normal surrounding marrow.\n"
        "IMPRESSION:\n"
        "1. Bilateral femoral head osteonecrosis. On the right there is surrounding marrow edema"
        " in the femoral head and neck.\n"
        "2. On the left, small osteonecrosis without associated edema."
    )
    assert sites(annotate(text)) == {("femoral_head", "right"), ("femoral_neck", "right")}


def test_german_a_prosthesis_side_is_not_the_report_side() -> None:
    text = (
        "Ihre Patientin (Z.n. Knie-TEP links 2019) stellte sich wegen Schmerzen am rechten Knie"
        " vor. Im MRT zeigte sich ein subchondrales Knochenmarködem in der medialen"
        " Femurkondyle."
    )
    assert sites(annotate(text, language="de")) == {("medial_femoral_condyle", "right")}


def test_german_an_order_for_the_wrong_side_is_not_the_side() -> None:
    text = (
        "Die Anforderung lautete versehentlich auf rechts; untersucht wurde das linke"
        " Handgelenk. Im Kahnbein fand sich eine fragliche Signalanhebung in der STIR."
    )
    annotation = annotate(text, procedure="MRT HANDGELENK RECHTS", language="de")
    assert sites(annotation) == {("scaphoid", "left")}


def test_german_corpus_sterni_is_the_sternum() -> None:
    text = "Befund: Im Corpus sterni flächiges Marködem (STIR-hyperintens, T1-hypointens)."
    assert sites(annotate(text, language="de")) == {("sternum", None)}


# -- the fourth wave ---------------------------------------------------------------------------


def test_a_past_operation_on_the_other_side_is_not_the_side() -> None:
    text = (
        "Re: right knee injury\n"
        "She twisted her right knee landing. Of note she had a left ACL reconstruction in 2016"
        " which has done well. The MRI confirms bone bruising of the lateral femoral condyle."
    )
    assert sites(annotate(text)) == {("lateral_femoral_condyle", "right")}


def test_the_side_given_with_the_exam_wins_when_the_text_names_both() -> None:
    text = (
        "Mrs A remains troubled by the right wrist; the left wrist is quiet apart from a"
        " fracture years ago. I requested a contrast MRI of the right wrist. The MRI shows"
        " osteitis, that is, bone marrow oedema, in the capitate."
    )
    assert sites(annotate(text)) == {("capitate", "right")}


def test_a_diagnosis_told_in_a_case_story_names_the_cause() -> None:
    text = (
        "Case presentation\n"
        "A 63-year-old man had sudden medial right knee pain. An MRI was obtained three weeks"
        " later; it revealed extensive high signal on the fat-suppressed proton density images"
        " throughout the medial femoral condyle. A diagnosis of subchondral insufficiency"
        " fracture of the medial femoral condyle was made."
    )
    annotation = annotate(text)
    assert sites(annotation) == {("medial_femoral_condyle", "right")}
    assert annotation.etiology == ("overload",)


def test_a_hedged_next_sentence_naming_no_bone_hedges_the_signal() -> None:
    text = (
        "Addendum: there is a subtle ill-defined area of increased STIR signal in the medial"
        " talar dome. A small osteochondral lesion with marrow edema cannot be excluded."
    )
    assert annotate(text).bme == "possible"


def test_lay_words_for_a_bone_bruise() -> None:
    text = "The scan shows bruising of the bone in the talus, under the shin bone."
    annotation = annotate(text, procedure="MRI ANKLE LEFT")
    assert sites(annotation) == {("talus", "left")}
    assert annotation.etiology == ("trauma",)


def test_german_a_pulsation_artefact_is_no_edema() -> None:
    text = (
        "Befund: In der coronaren STIR umschriebene Signalanhebung im Os trapezium.\n"
        "Beurteilung: Die Signalanhebung im Trapezium ist als Pulsationsartefakt der A. radialis"
        " zu werten; kein Knochenmarködem."
    )
    assert annotate(text, language="de").bme == "absent"
