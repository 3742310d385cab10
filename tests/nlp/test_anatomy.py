"""Bones, laterality (text, title, procedure) and severity of mentions, and the sites they give."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nlp import annotate
from nlp.anatomy import BoneFinder, literal_first
from nlp.ruleset import RuleFileError, load_ruleset, read_ruleset, rules_root
from tests.nlp.sites import sites

BONES = [
    ("Bone marrow edema in the MFC.", {"medial_femoral_condyle"}),
    ("Bone contusion of the LFC.", {"lateral_femoral_condyle"}),
    ("Bone marrow edema in the lateral femoral trochlea.", {"femoral_trochlea"}),
    ("Subchondral BME in the MTP beneath the chondral loss.", {"medial_tibial_plateau"}),
    ("Bone bruise in the posterolateral tibial plateau.", {"lateral_tibial_plateau"}),
    ("Bone marrow edema at the inferior pole of the patella.", {"patella"}),
    ("Contusion of the fibular head.", {"fibular_head"}),
    ("Marrow edema in the distal femoral metaphysis.", {"distal_femur"}),
    ("Bone marrow edema in the femoral head and neck.", {"femoral_head", "femoral_neck"}),
    ("Subchondral edema in the acetabular roof.", {"acetabulum"}),
    ("Marrow edema in the greater trochanter.", {"greater_trochanter"}),
    ("Bone marrow edema in the talar dome.", {"talus"}),
    ("Marrow edema in the calcaneal tuberosity.", {"calcaneus"}),
    (
        "Bone marrow edema in the navicular, cuboid and all three cuneiforms.",
        {"navicular", "cuboid", "cuneiform"},
    ),
    ("Marrow edema in the second and third metatarsal heads.", {"metatarsal"}),
    ("Kissing bone marrow edema of the medial malleolus and tibial plafond.", {"distal_tibia"}),
    ("Marrow edema in the distal fibular diaphysis.", {"distal_fibula"}),
    ("Hill-Sachs impaction with bone marrow edema of the humeral head.", {"humeral_head"}),
    ("Bone marrow edema in the scaphoid waist.", {"scaphoid"}),
    ("Bone marrow edema in the lunate.", {"lunate"}),
    ("Band-like bone marrow edema beneath the superior endplate of L1.", {"vertebral_body"}),
    ("Bone marrow edema in both sacral alae.", {"sacrum"}),
    ("Subchondral BME on the iliac side of the sacroiliac joint.", {"ilium"}),
    ("Fibular head contusion.", {"fibular_head"}),
    # The vocabulary's 58 terms: shafts, pelvis, shoulder, elbow, wrist and hand, spine, trunk.
    ("Bone marrow edema in the lesser trochanter.", {"lesser_trochanter"}),
    (
        "Marrow edema in the left superior pubic ramus and the ischial tuberosity.",
        {"pubis", "ischium"},
    ),
    ("Bone marrow edema along the mid femoral shaft.", {"femoral_shaft"}),
    ("Bone marrow edema in the posteromedial tibial diaphysis.", {"tibial_shaft"}),
    ("Marrow oedema in the mid-shaft of the humerus.", {"humeral_shaft"}),
    ("Bone marrow edema in the proximal phalanx of the great toe.", {"toe_phalanx"}),
    (
        "Bone marrow edema in the second metatarsal head and the medial sesamoid.",
        {"metatarsal", "sesamoid"},
    ),
    ("Bone bruise of the anteroinferior glenoid.", {"glenoid"}),
    ("Marrow edema in the os acromiale and the distal clavicle.", {"acromion", "clavicle"}),
    ("Bone marrow edema in the coracoid process.", {"scapula"}),
    (
        "Bone marrow edema of the lateral epicondyle and capitellum.",
        {"distal_humerus", "capitellum"},
    ),
    ("Bone marrow edema in the radial head and the olecranon.", {"radial_head", "proximal_ulna"}),
    ("Marrow edema in the radial styloid and the ulnar head.", {"distal_radius", "distal_ulna"}),
    (
        "Bone marrow edema in the triquetrum, pisiform and hamate.",
        {"triquetrum", "pisiform", "hamate"},
    ),
    (
        "Bone marrow edema in the trapezium, trapezoid and capitate.",
        {"trapezium", "trapezoid", "capitate"},
    ),
    ("Bone marrow edema in the third metacarpal head.", {"metacarpal"}),
    ("Bone marrow edema in the middle phalanx of the ring finger.", {"finger_phalanx"}),
    (
        "Bone marrow edema in the right L4 pedicle and pars interarticularis.",
        {"posterior_elements"},
    ),
    ("Bone marrow edema in the coccyx.", {"coccyx"}),
    ("Bone marrow edema in the left seventh rib.", {"rib"}),
    ("Bone marrow edema in the manubrium.", {"sternum"}),
    # word order of a writer whose first language is not English
    ("Oedema of bone marrow in head of femur.", {"femoral_head"}),
    ("There is marrow edema at the neck of radius.", {"radial_head"}),
    ("In condyle medial of femur there is bone marrow edema.", {"medial_femoral_condyle"}),
    (
        "Osteonecrosis of the hip with bone marrow edema in head and neck.",
        {"femoral_head", "femoral_neck"},
    ),
    # "proximal femur" is no contract term, and not the femur at the knee
    ("Left proximal femur: the marrow of the femoral neck is STIR hyperintense.", {"femoral_neck"}),
    ("Edema in the proximal femur.", set()),
    # after an ACL reconstruction
    ("Reactive marrow edema around the tibial tunnel.", {"proximal_tibia"}),
]


@pytest.mark.parametrize(("text", "bones"), BONES)
def test_bones(text: str, bones: set[str]) -> None:
    """Bone terms (full names, abbreviations, adjectives) map to the contract vocabulary."""
    assert {bone for bone, _ in sites(text)} == bones


def test_t1_and_t2_are_sequences_not_vertebrae() -> None:
    """'T1 hypointense' names a sequence, not the first thoracic vertebra."""
    assert sites("Marrow edema in the talus with T1 hypointense line on T2 images.") == {
        ("talus", None)
    }


LATERALITY = [
    ("Bone marrow edema in the left femoral head.", None, {("femoral_head", "left")}),
    (
        "Bone marrow edema in the right femoral neck.",
        "MRI HIPS BILATERAL",
        {("femoral_neck", "right")},
    ),
    ("Bone marrow edema in both femoral heads.", None, {("femoral_head", "bilateral")}),
    ("Bone marrow edema in both sacral alae.", None, {("sacrum", "bilateral")}),
    ("Bone marrow edema in the talus.", "MRI ANKLE LEFT WO CONTRAST", {("talus", "left")}),
    (
        "MRI RIGHT KNEE\nFindings: Bone bruise of the LFC.",
        "MRI KNEE LEFT",
        {("lateral_femoral_condyle", "right")},
    ),
    (
        "EXAM: MRI of the left knee.\nFINDINGS: Bone bruise of the LFC.",
        None,
        {("lateral_femoral_condyle", "left")},
    ),
    (
        "Right hip: Bone marrow edema in the femoral head.",
        "MRI HIPS BILATERAL",
        {("femoral_head", "right")},
    ),
    ("Bone marrow edema in the L1 vertebral body.", "MRI LUMBAR SPINE", {("vertebral_body", None)}),
    ("Bone marrow edema in the patella.", None, {("patella", None)}),
    ("Bone bruise of the talus.", "MRI ANKLE RT WO CONTRAST", {("talus", "right")}),
    ("MRI L KNEE\nFindings: Bone bruise of the LFC.", None, {("lateral_femoral_condyle", "left")}),
    ("Marrow edema in the sacral ala after pelvic RT.", None, {("sacrum", None)}),
    (
        "Bone marrow edema is present in both femoral heads, more extensive on the right where it extends into the femoral neck.",  # noqa: E501
        None,
        {("femoral_head", "bilateral"), ("femoral_neck", "right")},
    ),
    (
        "Subchondral bone marrow edema on both the iliac and sacral sides of the right sacroiliac joint.",  # noqa: E501
        None,
        {("ilium", "right"), ("sacrum", "right")},
    ),
    (
        "New bone marrow edema of the right femoral head in a patient with prior, now resolved, left femoral head edema.",  # noqa: E501
        None,
        {("femoral_head", "right")},
    ),
    (
        "Bone marrow edema in the left talus. Bone marrow edema in the right talus.",
        None,
        {("talus", "bilateral")},
    ),
    (
        "Metastases of pubis left, acetabulum left and sacral ala right, with perilesional marrow edema.",  # noqa: E501
        None,
        {("pubis", "left"), ("acetabulum", "left"), ("sacrum", "right")},
    ),
]


@pytest.mark.parametrize(("text", "procedure", "expected"), LATERALITY)
def test_laterality(
    text: str, procedure: str | None, expected: set[tuple[str, str | None]]
) -> None:
    """Laterality from the text first, then sub-heading, title line, procedure; spine is null."""
    assert sites(text, procedure) == expected


@pytest.mark.parametrize(
    ("text", "severity"),
    [
        ("Mild bone marrow edema in the talus.", "mild"),
        ("Subtle marrow edema in the talus.", "mild"),
        ("Moderate bone marrow edema in the talus.", "moderate"),
        ("Severe bone marrow edema in the talus.", "severe"),
        ("Extensive perilesional bone marrow edema in the femoral neck.", "extensive"),
        ("Bone marrow edema in the talus.", None),
        ("Mild effusion. Bone marrow edema in the talus.", None),
    ],
)
def test_severity(text: str, severity: str | None) -> None:
    """Severity words right before the mention, in its sentence, give its severity."""
    assert annotate(text).mentions[-1].severity == severity


def test_mention_sentence_span() -> None:
    """Each mention carries the span of its sentence."""
    text = "No fracture. Bone marrow edema in the talus. Small effusion."
    mention = annotate(text).mentions[0]
    assert text[mention.sentence_start : mention.sentence_end] == "Bone marrow edema in the talus."


@pytest.mark.parametrize(
    ("text", "joints"),
    [
        ("Bone bruise of the LFC and fibular head.", ("knee",)),
        ("Bone marrow edema in the talus and medial malleolus.", ("ankle",)),
        ("Bone marrow edema in the femoral head and acetabulum.", ("hip",)),
        ("Bone marrow edema.", ()),
    ],
)
def test_mention_joints(text: str, joints: tuple[str, ...]) -> None:
    """Each mention names the joints of its bones."""
    assert annotate(text).mentions[0].joints == joints


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"\b(?:links|linksseitig(?:e[nmrs]?)?|linke[rnms]?)\b", ("links", "linksseitig", "linke")),
        (r"\bbilateral(?:ly)?\b", ("bilateral",)),
        (r"(?:foo|bar)?x", None),
        (r"\b(?:l|r)\b", None),
        (r"\b(?:ab?|cd)x", None),
    ],
)
def test_required_any(pattern: str, expected: tuple[str, ...] | None) -> None:
    """Literals a match must contain, for gating a regex; None when unsure."""
    from nlp.anatomy import required_any

    assert required_any(pattern) == expected


def test_required_literal_reads_brackets_inside_a_class() -> None:
    """ "[,;:(]" is one character, not a group: the literal is the word, and a top-level
    alternation after such a class still means no literal."""
    from nlp.anatomy import required_literal

    assert required_literal(r"(?<=pain )ltx\b(?=\s*[,;:(]|$)") == "ltx"
    assert required_literal(r"[(]abc|def") is None


# --- literal-first patterns: the same matches, found faster ------------------------------


def _shipped_patterns() -> list[re.Pattern[str]]:
    """Every bone and laterality pattern of both rule sets."""
    out: list[re.Pattern[str]] = []
    for language in ("en", "de"):
        rules = load_ruleset(language)
        out += [rx for spec in rules.bones for rx in spec.patterns]
        out += [term.pattern for term in rules.laterality]
    return out


def _spans(rx: re.Pattern[str], text: str) -> list[tuple[tuple[int, int], tuple[str | None, ...]]]:
    return [(m.span(), m.groups()) for m in rx.finditer(text)]


SHIPPED = _shipped_patterns()
# Words of the patterns, glued and cut in many ways: boundaries inside and between words.
_PIECES = sorted(
    {w for rx in SHIPPED for w in re.findall(r"[a-zäöüß0-9]+", rx.pattern.lower())}
    | {" ", "-", ".", "/", "_", "x", "é", "1", "s1", "l4", "lt ", "rt.", "r ", "l "}
)
_TEXTS = st.lists(st.sampled_from(_PIECES), max_size=40).map("".join)


def test_literal_first_rewrites_the_slow_shipped_patterns() -> None:
    rewritten = [rx for rx in SHIPPED if literal_first(rx) is not rx]
    assert len(rewritten) >= 150  # bones and sides that start with \b and a word
    assert all(not literal_first(rx).pattern.startswith("\\b") for rx in rewritten)


@settings(max_examples=300, deadline=None)
@given(text=_TEXTS)
def test_literal_first_matches_where_the_pattern_does(text: str) -> None:
    """Same spans and groups for every shipped bone and laterality pattern."""
    for rx in SHIPPED:
        fast = literal_first(rx)
        if fast is not rx:
            assert _spans(fast, text) == _spans(rx, text), rx.pattern


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (r"\bl\b(?=\.?\s*knee)", "l knee, all knee, xl knee, l. knee, (l knee"),
        (r"\bknees?\b", "knee knees kneess oknee knee-joint"),
        (r"\bs[1-5]\b", "s1 xs1 s12 s5."),
        (r"\bab{2}c", "abbc xabbc abc abbbc"),
        (r"\bleft|right\b", "left cleft right brightly"),
        (r"\bLeft\b", "LEFT left Left cleft"),
    ],
)
def test_literal_first_edge_cases(pattern: str, text: str) -> None:
    """A quantifier on the word's last letter, a top-level alternation, IGNORECASE."""
    rx = re.compile(pattern, re.IGNORECASE if "Left" in pattern else 0)
    fast = literal_first(rx)
    assert fast is not rx
    assert _spans(fast, text) == _spans(rx, text)
    assert _spans(rx, text)  # the cases do match somewhere


def test_literal_first_leaves_other_patterns_alone() -> None:
    for pattern, flags in [
        (r"(?:postero)?lateral", 0),
        (r"\b(?:left|right)\b", 0),
        (r"\b\d+", 0),
        (r"\bknee  # verbose", re.VERBOSE),
    ]:
        rx = re.compile(pattern, flags)
        assert literal_first(rx) is rx


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "History: right-handed carpenter with left wrist pain.\n"
            "Findings: Bone marrow edema in the lunate.",
            {("lunate", "left")},
        ),
        (
            "History: posterior R heel pain.\nFindings: Bone marrow edema in the os calcis.",
            {("calcaneus", "right")},
        ),
        (
            "History: left shin pain.\nFindings: On the right, STIR shows marrow edema in the"
            " mid tibial shaft, and a faint band of high STIR signal across the mid fibular shaft.",
            {("tibial_shaft", "right"), ("fibular_shaft", "right")},
        ),
        (
            "Increased signal on fat-suppressed T2 images in the radial head and neck.",
            {("radial_head", None)},
        ),
        (
            "STIR shows high signal in the pars interarticularis of L5 on both sides.",
            {("posterior_elements", "bilateral")},
        ),
        (
            "A T1 hypointense lesion in the T8 vertebral body. Surrounding STIR hyperintense marrow"
            " edema extends into the right pedicle of T8.",
            {("vertebral_body", None), ("posterior_elements", "right")},
        ),
    ],
)
def test_sides_and_bones_of_archive_cases(text: str, expected: set) -> None:
    """Handedness is no side; "R heel"; a sentence that opens with its side; "radial head and
    neck" is no femoral neck; "pars of L5" is no vertebral body; edema that spreads from a
    lesion's bone keeps that bone."""
    assert sites(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Dactylitis of the right middle finger with edema-like signal in the marrow of the"
            " middle and distal phalanges of that finger on STIR.",
            {("finger_phalanx", "right")},
        ),
        (
            "History: limp of the left hip.\nFindings: Within the femoral capital epiphysis there"
            " is marrow edema.",
            {("femoral_head", "left")},
        ),
        (
            "Findings: A cavity in the distal tibial metaphysis. Around the cavity, edema-like"
            " signal extends through the metaphyseal marrow toward the tibial plafond.",
            {("distal_tibia", None)},
        ),
    ],
)
def test_bones_of_archive_wordings(text: str, expected: set) -> None:
    """ "phalanges of that finger", "femoral capital epiphysis", a signal around a cavity."""
    assert sites(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "History: dancer, pain under L first metatarsal head.\nFindings: Questionable "
            "edema-like signal in the lateral (fibular) sesamoid on STIR.",
            {("sesamoid", "left")},
        ),
        (
            "History: 19 yo, twisted R knee.\nFindings: Kissing bone bruises of the lateral "
            "femoral condyle and the posterolateral tibial platau.",
            {("lateral_femoral_condyle", "right"), ("lateral_tibial_plateau", "right")},
        ),
        (
            "Findings: The T11 and T12 vertebral bodies are T1 hypointense and STIR hyperintense "
            "on either side of the T11-12 disc.",
            {("vertebral_body", None)},
        ),
        (
            "History: 6-year-old, hot swollen left knee.\nFindings: Reactive bone marrow edema in"
            " the distal femoral and proximal tibial epiphyses.",
            {("distal_femur", "left"), ("proximal_tibia", "left")},
        ),
    ],
)
def test_bones_and_sides_of_the_eleventh_round(text: str, expected: set) -> None:
    """ "L first metatarsal head" names a side; "platau"; a signal "on either side of" a disc
    is beside it."""
    assert sites(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "History: L shoulder pain.\nFindings: Marrow edema in the distal clavical.",
            {("clavicle", "left")},
        ),
        (
            "History: R knee twisted.\nFindings: Bone brusies of the lateral femoral condyle and"
            " the lateral tibia plateau.",
            {("lateral_femoral_condyle", "right"), ("lateral_tibial_plateau", "right")},
        ),
        (
            "History: R big toe pain.\nFindings: T1-dark, STIR-bright lateral sesamoid of the 1st"
            " MTP.",
            {("sesamoid", "right")},
        ),
        (
            "Findings: Subchondral oedema in the trapezium and the 1st MC base.",
            {("trapezium", None), ("metacarpal", None)},
        ),
        (
            "History: lt shoulder.\nFindings: Bony Bankart fragment at the glenoid rim; the glenoid"
            " marrow is oedematous deep to it.",
            {("glenoid", "left")},
        ),
    ],
)
def test_bones_and_sides_of_the_thirteenth_round(text: str, expected: set) -> None:
    """Misspelt "clavical", "brusies", "tibia plateau"; "1st MTP" is a toe joint, "1st MC" a
    metacarpal; "R big toe"; "the marrow is oedematous"."""
    assert sites(text) == expected


def test_residual_edema_takes_the_bone_named_before() -> None:
    """ "Repeat imaging ... demonstrated a smaller area of residual marrow edema around the
    healing fracture line": the edema of the plateau named the sentence before."""
    text = (
        "Findings: The first MRI demonstrated marrow edema in the medial tibial plateau with a"
        " subchondral fracture line. Repeat imaging after 6 weeks demonstrated a smaller area of"
        " residual marrow edema around the healing fracture line."
    )
    assert sites(text) == {("medial_tibial_plateau", None)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "MRI BOTH KNEES\nR: Fragmented tibial tubercle with high T2 fat-sat signal in the"
            " tubercle marrow.\nL: Tubercle normal. No marrow edema.",
            {("proximal_tibia", "right")},
        ),
        (
            "MRI BOTH WRISTS\nRt wrist: no bone marrow oedema.\nLt wrist: mild synovitis."
            " Questionable faint STIR hyperintensity in the capitate.",
            {("capitate", "left")},
        ),
        # "from both sides" is how the heel was squeezed, not a side of the body
        (
            "History: right heel pain, tender on squeezing the heel from both sides.\n"
            "Findings: A band of marrow edema in the posterior calcaneus.",
            {("calcaneus", "right")},
        ),
    ],
)
def test_a_side_label_opening_a_line_gives_its_side(text: str, expected: set) -> None:
    """laterality.json `line_labels`: "R:", "Lt wrist:" like a block title "RIGHT KNEE:"."""
    assert sites(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Findings: Coronal STIR demonstrates diffuse bone marrow edema of the right femoral"
            " head extending into the neck.",
            {("femoral_head", "right"), ("femoral_neck", "right")},
        ),
        (
            "Findings: STIR shows periarticular bone marrow oedema on both the iliac and sacral"
            " sides of both joints, more marked on the left.",
            {("ilium", "bilateral"), ("sacrum", "bilateral")},
        ),
    ],
)
def test_the_neck_after_a_femoral_head_and_both_joints(text: str, expected: set) -> None:
    """ "the femoral head extending into the neck"; "sides of both joints" is bilateral."""
    assert sites(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "History: Knee pain.\nFindings: The medial femoral condyle is normal. There is a new"
            " ill-defined area of edema-like signal (low on T1, high on PD fat-sat) in the lateral"
            " tibial plateau.",
            {("lateral_tibial_plateau", None)},
        ),
        (
            "hx: 16yo dancer, left knee went out during a turn, big swelling right away\n\n"
            "findings: MRI left knee - hemarthrosis. bone contusions of the inferomedial patella.",
            {("patella", "left")},
        ),
        (
            "Findings: On the right there is extensive bone marrow oedema of the femoral head.",
            {("femoral_head", "right")},
        ),
    ],
)
def test_a_bracket_after_a_mention_and_right_away(text: str, expected: set) -> None:
    """A signal in brackets describes the mention before it and does not end its clause;
    "right away" is no side."""
    assert sites(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Findings: Coronal STIR image shows bone marrow edema around these bands in the left"
            " and right sacral alae, forming an H shape.",
            {("sacrum", "bilateral")},
        ),
        (
            "MRI pelvis:\n- Vertical low T1 fracture lines through both sacral alae with"
            " surrounding oedema on STIR, right more than left.\n- Further STIR oedema in the Lt"
            " superior pubic ramus near the symphysis.",
            {("sacrum", "bilateral"), ("pubis", "left")},
        ),
    ],
)
def test_a_side_word_inside_a_longer_side_term_and_lt_before_a_bone(
    text: str, expected: set
) -> None:
    """ "left and right", "right more than left" are bilateral, not their last word;
    "Lt superior pubic ramus" is left."""
    assert sites(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "History: bilat groin pain with marching.\nFindings:\n* R fem neck: STIR"
            " hyperintensity inferomedial with a short T1 low line.\n* L fem neck: STIR"
            " hyperintensity inferomedial, no fracture line.",
            {("femoral_neck", "bilateral")},
        ),
        (
            "MRI:\n- Dist radius: bone bruise at the dorsal lip of the lunate fossa.\n- Lunate"
            " normal.",
            {("distal_radius", None)},
        ),
    ],
)
def test_fem_neck_and_the_fossae_of_the_radius(text: str, expected: set) -> None:
    """ "fem neck" is the femoral neck; the lunate and scaphoid fossae are the radius's."""
    assert sites(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "MRI both legs: marrow edema mid to distal tibial shaft bilaterally.",
            {("tibial_shaft", "bilateral")},
        ),
        ("Findings: Edema in the mid-distal fibular shaft.", {("fibular_shaft", None)}),
        # the dev corpus's convention: the distal diaphysis alone is the bone's distal end
        ("Findings: Marrow edema in the distal fibular diaphysis.", {("distal_fibula", None)}),
    ],
)
def test_mid_to_distal_shaft_is_the_shaft(text: str, expected: set) -> None:
    assert sites(text) == expected


def test_r_before_an_abbreviated_metatarsal() -> None:
    text = (
        "Hx 66 yo diabetic, ulcer over lateral R 5th MT head\nFindings\nMRI foot: faint STIR"
        " hyperintensity in the 5th metatarsal head adjacent to the ulcer."
    )
    assert sites(text) == {("metatarsal", "right")}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "MRI SI joints: Bilateral periarticular bone marrow edema on STIR on both the sacral"
            " and the iliac sides, more pronounced on the left.",
            {("sacrum", "bilateral"), ("ilium", "bilateral")},
        ),
        # a bone after the comparison takes its side
        (
            "Findings: Bone marrow edema is present in both femoral heads, more extensive on the"
            " right where it extends into the femoral neck.",
            {("femoral_head", "bilateral"), ("femoral_neck", "right")},
        ),
    ],
)
def test_a_side_said_of_a_comparison(text: str, expected: set) -> None:
    assert sites(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Findings: On the STIR images there are confluent areas of periarticular high signal"
            " in the subchondral bone on both the iliac and the sacral sides of the joints,"
            " involving the right as well as the left sacroiliac joint.",
            {("ilium", "bilateral"), ("sacrum", "bilateral")},
        ),
        (
            "History: 58 yo F, L lateral hip pain, tender over trochanter.\nFindings: Small area"
            " of marrow edema in the greater trochanter at the footprint, likely reactive.",
            {("greater_trochanter", "left")},
        ),
        (
            "History: 15-year-old boy with right shoulder pain.\nFindings: Coronal STIR:"
            " ill-defined high signal fills much of the surrounding humeral head marrow well"
            " beyond the lesion margin.",
            {("humeral_head", "right")},
        ),
    ],
)
def test_as_well_as_l_before_a_region_and_the_surrounding_marrow(text: str, expected: set) -> None:
    """ "the right as well as the left"; "L lateral hip pain"; "the surrounding humeral head
    marrow" is marrow of that bone (heldout38)."""
    assert sites(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "History: 23 y/o M rower, L lateral chest wall pain.\nFindings: MRI: STIR-hyperintense"
            " marrow in the anterolateral L 6th rib w/ periosteal edema, no fracture line.",
            {("rib", "left")},
        ),
        (
            "Findings: MRI demonstrates diffuse low T1 and high STIR signal extending from the left"
            " femoral head through the neck to the intertrochanteric line.",
            {("femoral_head", "left"), ("femoral_neck", "left")},
        ),
    ],
)
def test_l_before_a_numbered_rib_and_the_head_through_the_neck(text: str, expected: set) -> None:
    assert sites(text) == expected


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
    assert sites(text) == expected


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
    assert sites(text) == {("sacrum", "right")}


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
    assert sites(text) == {("ilium", "bilateral"), ("sacrum", "bilateral")}
    # Written after their bones, a side is still theirs.
    english = (
        "Findings: edema in the right SI joint (sacral and iliac) and the sacral side of the left."
    )
    assert ("ilium", "right") in sites(english)


def test_left_as_a_verb_is_no_side() -> None:
    text = (
        "She fell onto her outstretched right hand. There is bone contusion in the "
        "capitellum, the imprint left as the radial head rotated past it."
    )
    found = sites(text)
    assert ("capitellum", "right") in found
    assert {side for _, side in found} == {"right"}


def test_a_comma_and_lt_at_the_end_of_a_title_line_is_the_side() -> None:
    text = (
        "Hook of hamate fatigue fracture, Lt\n"
        "MRI: STIR hyperintensity throughout the hook of the hamate."
    )
    assert sites("FINDINGS:\n" + text) == {("hamate", "left")}


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


def test_edema_around_a_lesion_takes_the_lesions_bone_when_its_clause_opens_the_sentence() -> None:
    text = (
        "Befund: Im Hüftkopf links Nekroseareal mit Doppellinienzeichen, umgebend "
        "Marködem, das bis in den Schenkelhals reicht."
    )
    assert sites(text) == {("femoral_head", "left"), ("femoral_neck", "left")}


def test_a_normal_side_given_as_a_label_is_no_side() -> None:
    text = (
        "FINDINGS:\nSlipped capital femoral epiphysis, left\n"
        "- edema-like marrow signal on STIR in the proximal femoral neck\n"
        "- right hip: normal physis, no marrow signal change"
    )
    assert sites(text) == {("femoral_neck", "left")}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Anterior knee pain Lt, ? maltracking\nFindings: bone bruise of the patella.", "left"),
        ("Charcot foot vs infection - R\n- Cuboid: bone bruise.", "right"),
    ],
)
def test_a_side_after_a_complaint_or_a_dash_in_a_title(text: str, expected: str) -> None:
    assert {side for _, side in sites(text)} == {expected}


def test_a_part_of_a_joint_is_not_both_its_sides() -> None:
    """ "both sides of each sacroiliac joint's sacral margin" is the sacrum alone."""
    text = (
        "Findings: vertical low T1 lines through both sacral alae with surrounding STIR "
        "hyperintensity on both sides of each sacroiliac joint's sacral margin."
    )
    assert {bone for bone, _ in sites(text)} == {"sacrum"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # both sides of the symphysis are both pubic bones: a midline joint
        (
            "Pelvis MRI: high STIR signal in the pubic bodies on either side of the symphysis.",
            {("pubis", "bilateral")},
        ),
        # the inner and outer condyles and plateaus of the knee
        (
            "Right knee: bright marrow on fat-saturated PD in the condyle on the inner side.",
            {("medial_femoral_condyle", "right")},
        ),
        (
            "Left knee: bone marrow edema of the outer tibial plateau.",
            {("lateral_tibial_plateau", "left")},
        ),
    ],
)
def test_midline_joints_and_inner_and_outer_parts(text: str, expected: set) -> None:
    assert sites(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Right ankle: bone bruse of the tip of the medial malleolous.",
            {("distal_tibia", "right")},
        ),
        (
            "Right elbow: STIR hyperintensity in the medial epicondylar apophysis.",
            {("distal_humerus", "right")},
        ),
        (
            "Left leg: bone marrow edema in the distal third of the shin bone.",
            {("tibial_shaft", "left")},
        ),
        ("Left knee: marrow edema fills the upper shin bone.", {("proximal_tibia", "left")}),
        # "R wrist nromal": the other side, however abbreviated and spelt
        (
            "Fell on the outstretched L hand. R wrist nromal.\nMRI: bone bruise of the scaphoid.",
            {("scaphoid", "left")},
        ),
    ],
)
def test_everyday_and_misspelt_places(text: str, expected: set) -> None:
    assert sites(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "History: 52M, rigth hip pain.\nFindings: faint increased STIR signal in the "
            "femoral head.",
            {("femoral_head", "right")},
        ),
        (
            "History: 15M, R anterior knee pain.\nFindings: faint STIR hyperintensity at the "
            "inferior pole of the patella.",
            {("patella", "right")},
        ),
    ],
)
def test_a_typists_right_and_an_abbreviated_side_before_a_region(text: str, expected: set) -> None:
    assert sites(text) == expected


def test_a_side_label_after_the_findings_header_is_its_lines_side() -> None:
    """ "Findings: Right femoral head: ..." over a history that names both hips."""
    text = (
        "History: right hip pain. Known left hip AVN.\n"
        "Findings: Right femoral head: crescent. Oedema femoral head and neck, marked.\n"
        "Left femoral head: necrotic segment, no oedema."
    )
    assert sites(text) == {("femoral_head", "right"), ("femoral_neck", "right")}
