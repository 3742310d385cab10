"""Documents that are not radiology reports but cite an MRI: clinic letters and notes,
consultations, operative notes (the genre of heldout33)."""

from __future__ import annotations

from nlp import annotate
from tests.nlp.sites import sites


def test_the_normal_other_side_does_not_take_the_side_away() -> None:
    text = (
        "Dear Dr. Abernathy,\n\nI saw this 38-year-old netball coach in clinic today. She"
        " landed awkwardly from a jump six weeks ago, felt a pop in her left knee and had"
        " swelling within the hour.\n\nOn examination she has a small effusion, a grade 2"
        " Lachman with a soft end point. The joint lines are non-tender. The right knee is"
        " normal.\n\nHer MRI from 08/22 demonstrates a complete tear of the anterior cruciate"
        " ligament with a bone bruise of the lateral femoral condyle at the sulcus terminalis"
        " and a matching contusion at the posterior margin of the lateral tibial plateau."
    )
    assert sites(text) == {
        ("lateral_femoral_condyle", "left"),
        ("lateral_tibial_plateau", "left"),
    }


def test_a_physical_examination_under_exam_is_no_exam_title() -> None:
    """ "exam: ..." in a clinic note is the physical examination: the MRI lines after it
    are what the note reports, and the knee "nl for comparison" gives no side."""
    text = (
        "ortho clinic\n24 y/o M football, hit on outside of right knee 2 wks ago.\n"
        "exam: right knee small effusion tender along MCL, lachman neg. left knee nl for"
        " comparison\nMRI reviewed w pt: grade 2 MCL sprain, small bone bruise medial tibial"
        " plateau. no fx\nplan hinged brace 4 wks"
    )
    annotation = annotate(text)
    assert annotation.bme == "present"
    assert sites(text) == {("medial_tibial_plateau", "right")}


def test_an_exam_title_stays_the_exam() -> None:
    text = (
        "EXAM: MRI LEFT KNEE WITHOUT CONTRAST\nFINDINGS: Bone bruise of the lateral femoral"
        " condyle."
    )
    assert sites(text) == {("lateral_femoral_condyle", "left")}


def test_the_mri_in_an_operative_notes_indications_is_its_finding() -> None:
    """An operative note's FINDINGS are the surgeon's; the MRI its indications tell is the
    imaging finding."""
    text = (
        "PREOPERATIVE DIAGNOSIS: Nondisplaced fracture of the waist of the right scaphoid.\n"
        "PROCEDURE: Percutaneous screw fixation of the right scaphoid.\n\n"
        "INDICATIONS: 26-year-old roofer who fell on his outstretched right hand 12 days ago."
        " MRI of the right wrist showed a fracture line through the scaphoid waist with"
        " surrounding bone marrow edema.\n\n"
        "FINDINGS: Nondisplaced waist fracture on fluoroscopy, stable on screening.\n\n"
        "PLAN: Splint 2 weeks."
    )
    annotation = annotate(text)
    assert annotation.bme == "present"
    assert sites(text) == {("scaphoid", "right")}


def test_a_radiology_report_keeps_its_history_historical() -> None:
    text = (
        "CLINICAL HISTORY: Prior MRI showed bone marrow edema of the right talus.\n"
        "FINDINGS: Normal marrow signal. No bone bruise."
    )
    assert annotate(text).bme == "absent"


def test_the_shaft_of_the_left_tibia() -> None:
    text = "A repeat MRI now shows marrow edema in the mid-diaphysis of the left tibia."
    assert sites(text) == {("tibial_shaft", "left")}


def test_what_the_radiologist_described_is_told_as_a_result() -> None:
    text = (
        "PREOPERATIVE DIAGNOSIS: Right knee lateral meniscus tear.\n"
        "PROCEDURE: Right knee arthroscopic partial lateral meniscectomy.\n\n"
        "INDICATIONS: 52-year-old woman with lateral joint line pain. MRI of the right knee"
        " showed a radial tear of the lateral meniscus. The radiologist also described subtle"
        " increased signal in the medial tibial plateau that may represent early marrow edema"
        " versus partial volume artifact.\n\n"
        "FINDINGS: Radial tear of the lateral meniscal body. Medial compartment normal."
    )
    annotation = annotate(text)
    assert annotation.bme == "possible"
    assert sites(text) == {("medial_tibial_plateau", "right")}


def test_a_brief_operative_note_with_the_mri_in_its_indications() -> None:
    text = (
        "BRIEF OPERATIVE NOTE\nPre-op dx: Septic arthritis L first MTP joint with osteomyelitis"
        " of the first metatarsal head\nProcedure: Incision and drainage L 1st MTPJ\n"
        "Indications: 59F, poorly controlled DM, red hot swollen left great toe x 1 wk. MRI left"
        " forefoot yesterday: joint effusion at the 1st MTPJ, and marrow edema with low T1 signal"
        " in the first metatarsal head, compatible with septic arthritis and osteomyelitis.\n"
        "Findings: Frank pus in the joint; soft, friable bone at the metatarsal head."
    )
    annotation = annotate(text)
    assert (annotation.bme, annotation.etiology) == ("present", ("infection",))
    assert sites(text) == {("metatarsal", "left")}


def test_misspelt_marrow_edema_in_a_sports_note() -> None:
    text = (
        "Sports med f/u\nPt 24F army recruit, L shin pain\nRepeat MRI L 29/5: persistant bone"
        " marrow edma in the tibial shaft, less extensive than before"
    )
    assert annotate(text).bme == "present"


def test_each_sacroiliac_joint_is_both() -> None:
    text = (
        "Her MRI of the sacroiliac joints shows bone marrow oedema on both sides of each"
        " sacroiliac joint, in the iliac and the sacral subchondral bone, most marked on the left."
    )
    assert sites(text) == {("ilium", "bilateral"), ("sacrum", "bilateral")}


def test_a_discharge_summary_of_pelvic_insufficiency_fractures() -> None:
    text = (
        "HOSPITAL COURSE:\nMrs W, 84, with osteoporosis was admitted with right groin pain; there"
        " was no fall. An MRI of the pelvis was performed on day 2. This demonstrated"
        " insufficiency fractures of both sacral alae with extensive marrow oedema, and an"
        " insufficiency fracture of the right superior pubic ramus, also surrounded by marrow"
        " oedema.\n\nDISCHARGE DIAGNOSES:\n1. Bilateral sacral insufficiency fractures"
    )
    assert sites(text) == {("sacrum", "bilateral"), ("pubis", "right")}


def test_a_cause_the_mri_does_not_support_is_left_out() -> None:
    text = (
        "Imaging: MRI both hips: diffuse bone marrow edema of the right femoral head; no"
        " subchondral fracture line.\nAssessment: Regional migratory transient osteoporosis."
        " Osteonecrosis not supported by MRI."
    )
    assert annotate(text).etiology == ("transient",)


def test_german_clinic_letter_tells_its_mri_in_the_indication() -> None:
    """An operative report with no findings section: the MRI its indication tells is the
    case's finding, and the sentence after the one that names the MRI goes on telling it."""
    letter = (
        "Operationsbericht\n"
        "Diagnose: Schenkelhals-Insuffizienzfraktur rechts\n"
        "Indikation: Seit 3 Wochen Leistenschmerzen rechts. In der MRT des Beckens vom "
        "06.02. zeigt sich ein ausgedehntes Knochenmarködem im rechten Schenkelhals. "
        "Linke Hüfte regelrecht.\n"
        "OP-Verlauf: Rückenlage, DHS.\n"
    )
    result = annotate(letter)
    assert result.bme == "present"
    assert {(s.bone, s.laterality) for s in result.sites} == {("femoral_neck", "right")}
    ambulance = (
        "Klin. Untersuchung: Erguss +, Lachman-Test positiv, Druckschmerz lateral.\n"
        "MRT li. Knie (14.01.): Komplette Ruptur des vorderen Kreuzbandes. Bone bruise im "
        "lateralen Femurkondylus.\n"
        "Procedere: Orthese.\n"
    )
    assert sites(ambulance) == {("lateral_femoral_condyle", "left")}
    # A radiology report's history stays history.
    report = (
        "Anamnese: Knochenmarködem im Talus links 2023.\n"
        "Befund: Regelrechtes Fettmark des Talus, kein Knochenmarködem.\n"
    )
    assert annotate(report).bme == "absent"


def test_german_result_told_across_a_dated_exam() -> None:
    text = (
        "Diagnose: Hüftkopfnekrose links\n"
        "Indikation: Das präoperative MRT des Beckens (06.02.2025) zeigt im Femurkopf links "
        "ein ausgedehntes Knochenmarködem.\n"
        "Vorgehen: Anbohrung.\n"
    )
    assert sites(text) == {("femoral_head", "left")}
