"""The twentieth round's classes: both sides of a joint, side labels, clinic letters in German.

Every text here is written for the test (synthetic).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from nlp import annotate
from nlp.anatomy import BoneFinder
from nlp.ruleset import RuleFileError, load_ruleset, read_ruleset, rules_root


def _sites(text: str, procedure: str | None = None) -> set[tuple[str, str | None]]:
    return {(s.bone, s.laterality) for s in annotate(text, procedure).sites}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "MRI left knee: subchondral bone marrow lesions on both sides of the medial "
            "joint line.",
            {("medial_femoral_condyle", "left"), ("medial_tibial_plateau", "left")},
        ),
        (
            "Findings: marrow oedema on either side of the lateral compartment, right knee.",
            {("lateral_femoral_condyle", "right"), ("lateral_tibial_plateau", "right")},
        ),
        (
            "Findings: periarticular marrow edema on both sides of the right SI joint.",
            {("ilium", "right"), ("sacrum", "right")},
        ),
        (
            "Findings: bone marrow edema on both sides of the left glenohumeral joint.",
            {("humeral_head", "left"), ("glenoid", "left")},
        ),
    ],
)
def test_both_sides_of_a_joint_name_both_its_bones(
    text: str, expected: set[tuple[str, str | None]]
) -> None:
    """The side word inside the joint's words is the side of both; "both sides" is no side."""
    assert _sites(text) == expected


def test_the_joint_words_split_into_two_hits() -> None:
    """The last word is the partner's, so neither hit reads as a landmark beside the other."""
    finder = BoneFinder(load_ruleset("en").bones)
    text = "edema on both sides of the medial compartment."
    hits = finder(text)
    assert [h.bone for h in hits] == ["medial_femoral_condyle", "medial_tibial_plateau"]
    assert hits[0].end == hits[1].start
    assert text[hits[1].start : hits[1].end] == "compartment"


def test_one_side_of_a_joint_is_one_bone() -> None:
    text = "Findings: marrow edema on the sacral side of the right SI joint."
    assert _sites(text) == {("sacrum", "right")}


def test_joint_sides_are_checked(tmp_path: Path) -> None:
    root = tmp_path / "rules"
    shutil.copytree(str(rules_root() / "en"), root / "en")
    path = root / "en" / "bones.jsonl"
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x]
    rows[0]["joint_sides"] = [{"pattern": "both sides of the knee", "with": "kneecap"}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    with pytest.raises(RuleFileError, match="joint_sides"):
        read_ruleset("en", root)
    rows[0]["joint_sides"] = [{"pattern": "both sides", "with": "patella", "side": "left"}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    with pytest.raises(RuleFileError, match="unknown key"):
        read_ruleset("en", root)


def test_a_side_word_with_bones_of_its_own_opens_their_part() -> None:
    """ "links sowohl sakral als auch iliakal, rechts ... im Darmbein": "rechts" is not
    the side of "iliakal"."""
    text = (
        "Befund: Beidseits periartikuläre Knochenmarködeme: links sowohl sakral als auch "
        "iliakal, rechts vorwiegend im Darmbein und gering im Kreuzbein."
    )
    assert _sites(text) == {("ilium", "bilateral"), ("sacrum", "bilateral")}
    # Written after their bones, a side is still theirs.
    english = (
        "Findings: edema in the right SI joint (sacral and iliac) and the sacral side of the left."
    )
    assert ("ilium", "right") in _sites(english)


def test_a_signal_confined_to_a_bone_is_in_it() -> None:
    text = "Findings: On the left, STIR hyperintensity is confined to the sacral side."
    assert _sites(text) == {("sacrum", "left")}
    brain = (
        "MRI brain: a ring-enhancing lesion surrounded by T2/FLAIR hyperintensity confined "
        "to the white matter, sparing the cortex."
    )
    assert annotate(brain).bme == "absent"


@pytest.mark.parametrize(
    "text",
    [
        "MRI ankle: STIR hyperintesity in the marrow of the medial maleolus.",
        "MRI wrist: patchy STIR hyperintensty in the scaphoid.",
        "Findings: faint increase in T2 fat-saturated signal in the right femoral head.",
    ],
)
def test_signal_typos_and_an_increase_in_signal(text: str) -> None:
    assert annotate(text).bme == "present"


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("Comment: Had the oedema persisted beyond a year, AVN would be reconsidered.", "absent"),
        ("Were the marrow edema in the talus to persist, a biopsy would follow.", "absent"),
        ("Had the knee MRI, which shows marrow edema in the talus.", "present"),
        ("MRI brain: a lesion with little vasogenic oedema around it.", "absent"),
        ("Findings: marrow edema in the talus, not present on the prior study.", "present"),
        ("Findings: marrow edema in the talus, not present on last year's MRI.", "present"),
        ("Findings: no marrow edema in the talus.", "absent"),
    ],
)
def test_hypothetical_new_and_brain_edema(text: str, status: str) -> None:
    assert annotate(text).bme == status


def test_an_earlier_mri_told_with_showing_is_history() -> None:
    text = (
        "He had an MRI eight months ago showing marrow oedema of the left femoral head.\n"
        "Follow-up MRI: normal fatty marrow signal of both hips."
    )
    assert annotate(text).bme == "absent"


def test_left_as_a_verb_is_no_side() -> None:
    text = (
        "She fell onto her outstretched right hand. There is bone contusion in the "
        "capitellum, the imprint left as the radial head rotated past it."
    )
    sites = _sites(text)
    assert ("capitellum", "right") in sites
    assert {side for _, side in sites} == {"right"}


def test_a_comma_and_lt_at_the_end_of_a_title_line_is_the_side() -> None:
    text = (
        "Hook of hamate fatigue fracture, Lt\n"
        "MRI: STIR hyperintensity throughout the hook of the hamate."
    )
    assert _sites("FINDINGS:\n" + text) == {("hamate", "left")}


@pytest.mark.parametrize(
    ("text", "bones"),
    [
        ("Befund: MFK II mit kräftigem Marködem im distalen Schaft.", {"metatarsal"}),
        ("Befund: MFK-I-Köpfchen STIR-hyperintens im Markraum.", {"metatarsal"}),
        ("Befund: Knochenmarködem im MFK, kein Erguss.", {"medial_femoral_condyle"}),
        (
            "Befund: Im Os lunatum in der fettgesättigten PD-Sequenz eine Signalerhöhung.",
            {"lunate"},
        ),
        ("Befund: Das mediale Sesambein ist ödematös.", {"sesamoid"}),
    ],
)
def test_german_bones_and_signals(text: str, bones: set[str]) -> None:
    result = annotate(text)
    assert result.bme == "present"
    assert {s.bone for s in result.sites} == bones


def test_german_negation_reaches_im_sinne_eines() -> None:
    text = "Beurteilung: Keine aktivierte Arthrose im Sinne eines Knochenmarködems."
    assert annotate(text).bme == "absent"


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
    assert _sites(ambulance) == {("lateral_femoral_condyle", "left")}
    # A radiology report's history stays history.
    report = (
        "Anamnese: Knochenmarködem im Talus links 2023.\n"
        "Befund: Regelrechtes Fettmark des Talus, kein Knochenmarködem.\n"
    )
    assert annotate(report).bme == "absent"


def test_edema_around_a_lesion_takes_the_lesions_bone_when_its_clause_opens_the_sentence() -> None:
    text = (
        "Befund: Im Hüftkopf links Nekroseareal mit Doppellinienzeichen, umgebend "
        "Marködem, das bis in den Schenkelhals reicht."
    )
    assert _sites(text) == {("femoral_head", "left"), ("femoral_neck", "left")}


@pytest.mark.parametrize(
    ("text", "etiology"),
    [
        # a cause named in a letter's diagnosis line, by a joint or a bone's disease
        (
            "Diagnose: aktivierte Gonathrose links\n"
            "MRT Knie li: subchondrales Knochenmarködem im medialen Tibiakopf.",
            {"degenerative"},
        ),
        (
            "Diag: Lunatummalazie (M. Kienböck) Stad. I, links\n"
            "MRT Handgelenk li: diffuses Knochenmarködem im Os lunatum.",
            {"osteonecrosis"},
        ),
        # a department is no cause
        (
            "Konsil Orthopädie für die Rheumatologie\n"
            "MRT OSG re.: fragliche ödematöse Signalanhebung im Taluskörper.",
            set(),
        ),
    ],
)
def test_german_letters_causes(text: str, etiology: set[str]) -> None:
    assert set(annotate(text).etiology) == etiology


def test_german_hedge_reaches_back_over_a_long_subject() -> None:
    text = (
        "Befund: Ein diskretes Marködem im Innenknöchel im Sinne einer beginnenden "
        "Stressreaktion ist nicht sicher auszuschließen."
    )
    assert annotate(text).bme == "possible"


@pytest.mark.parametrize(
    ("text", "status"),
    [
        (
            "Findings: patchy high STIR signal in the distal femoral metaphysis. This is "
            "residual red (haematopoietic) marrow, a normal finding at this age.",
            "absent",
        ),
        (
            "Findings: STIR hyperintensity in the talus. This is consistent with a stress "
            "reaction.",
            "present",
        ),
        (
            "MRI: the marrow of the first metatarsal head is T1 dark and STIR bright, with "
            "T1 low signal replacing the fat.",
            "present",
        ),
        (
            "MRI #1 (week 0): STIR-bright marrow in the posteromedial tibial diaphysis.\n"
            "MRI #2 (week 10): marrow edema completely resolved.",
            "absent",
        ),
        ("Quiz.\nOptions:\na) Perthes disease with marrow edema\nb) Transient synovitis", "absent"),
        (
            "Beurteilung: Rückbildung des Knochenmarködems im Hüftkopf, kein residuelles Ödem.",
            "absent",
        ),
        ("Befund: Knochenmarkodem im LWK 4.", "present"),
    ],
)
def test_second_wave_statuses(text: str, status: str) -> None:
    assert annotate(text).bme == status


def test_chronic_nonbacterial_osteomyelitis_is_inflammatory() -> None:
    text = (
        "Findings: metaphyseal marrow edema in both distal tibiae.\n"
        "Diagnosis: Chronic non-bacterial osteomyelitis (CNO/CRMO)."
    )
    result = annotate(text)
    assert set(result.etiology) == {"inflammatory"}
    assert {(s.bone, s.laterality) for s in result.sites} == {("distal_tibia", "bilateral")}


def test_a_normal_side_given_as_a_label_is_no_side() -> None:
    text = (
        "FINDINGS:\nSlipped capital femoral epiphysis, left\n"
        "- edema-like marrow signal on STIR in the proximal femoral neck\n"
        "- right hip: normal physis, no marrow signal change"
    )
    assert _sites(text) == {("femoral_neck", "left")}


def test_german_result_told_across_a_dated_exam() -> None:
    text = (
        "Diagnose: Hüftkopfnekrose links\n"
        "Indikation: Das präoperative MRT des Beckens (06.02.2025) zeigt im Femurkopf links "
        "ein ausgedehntes Knochenmarködem.\n"
        "Vorgehen: Anbohrung.\n"
    )
    assert _sites(text) == {("femoral_head", "left")}


def test_required_literal_reads_brackets_inside_a_class() -> None:
    """ "[,;:(]" is one character, not a group: the literal is the word, and a top-level
    alternation after such a class still means no literal."""
    from nlp.anatomy import required_literal

    assert required_literal(r"(?<=pain )ltx\b(?=\s*[,;:(]|$)") == "ltx"
    assert required_literal(r"[(]abc|def") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Anterior knee pain Lt, ? maltracking\nFindings: bone bruise of the patella.", "left"),
        ("Charcot foot vs infection - R\n- Cuboid: bone bruise.", "right"),
    ],
)
def test_a_side_after_a_complaint_or_a_dash_in_a_title(text: str, expected: str) -> None:
    assert {side for _, side in _sites(text)} == {expected}


@pytest.mark.parametrize(
    "text",
    [
        "Findings: normal marrow around the Schmorl nodes.\nTake home: an acute Schmorl node "
        "has a halo of marrow edema; these do not.",
        "This man was first scanned two years ago, when the L3-L4 endplates showed bone "
        "marrow edema on STIR. The current MRI shows fatty endplates; the edema has resolved.",
    ],
)
def test_third_wave_absent(text: str) -> None:
    assert annotate(text).bme == "absent"


def test_first_lines_with_findings_are_no_title() -> None:
    """An exam's label with its findings, or a list item, among the first lines is text."""
    assert annotate("MRI left foot: STIR-hyperintense marrow signal in the 2nd MT.").bme == (
        "present"
    )
    german = "MRT Vorfuß li.: STIR-hyperintenses Markraumsignal MT II, periostales Ödem."
    assert annotate(german + "\nBeurteilung: Ermüdungsfraktur MT II.").bme == "present"
    text = "Elbow dislocation - key images\n- 27M, fell\n- Bone bruise of the capitellum"
    assert _sites(text) == {("capitellum", None)}
    # a title that asks a question stays a title
    assert annotate("Chronic ACL tear: where are the bone bruises?\nFindings: normal.").bme == (
        "absent"
    )


def test_a_part_of_a_joint_is_not_both_its_sides() -> None:
    """ "both sides of each sacroiliac joint's sacral margin" is the sacrum alone."""
    text = (
        "Findings: vertical low T1 lines through both sacral alae with surrounding STIR "
        "hyperintensity on both sides of each sacroiliac joint's sacral margin."
    )
    assert {bone for bone, _ in _sites(text)} == {"sacrum"}
