"""Signal descriptions: BME when a fluid-sensitive signal is put in a bone, not otherwise."""

from __future__ import annotations

import pytest

from nlp import annotate
from tests.nlp.sites import sites as _sites

PRESENT = [
    ("Findings: Increased STIR signal in the medial femoral condyle.", {"medial_femoral_condyle"}),
    ("Findings: The talar body is T1 hypointense and STIR hyperintense.", {"talus"}),
    ("Findings: Low T1 and high T2 signal throughout the os calcis.", {"calcaneus"}),
    (
        "Findings: Figure 1: Coronal T1 shows a dark area in the lunate. "
        "Figure 2: On STIR this area became bright.",
        {"lunate"},
    ),
    ("Findings: Faint STIR signal L sacral ala.", {"sacrum"}),
    ("Findings: 2nd MT shaft: subtle STIR signal.", {"metatarsal"}),
    (
        "Findings: High signal intensity in the disc space and in the adjacent vertebral bodies "
        "on fat-suppressed T2 images.",
        {"vertebral_body"},
    ),
    (
        "Findings: The sagittal STIR sequence shows an area of high signal intensity. "
        "This area lies in the cuboid.",
        {"cuboid"},
    ),
    ("Befund: T2-hyperintense Signalanhebung im Markraum des Os cuboideum.", {"cuboid"}),
    ("Befund: Das Fibulaköpfchen ist in der STIR signalangehoben.", {"fibular_head"}),
    # the marrow's own fat, lost, is no soft tissue and no fat signal
    (
        "Findings: The marrow of the first metatarsal head is confluently dark on T1, replacing "
        "the normal fat, and bright on STIR.",
        {"metatarsal"},
    ),
    # a structure the report says is absent does not own the signal
    (
        "Findings: In the subchondral capitellum there is subtle increased signal on "
        "fat-suppressed PD images, without a fragment.",
        {"capitellum"},
    ),
    # a part's "of" after "in" keeps the signal in the bone
    ("Findings: Increased STIR signal in the base of the second metatarsal.", {"metatarsal"}),
]

ABSENT = [
    "Findings: A T2 hyperintense lesion in the distal femur, consistent with an enchondroma.",
    "Findings: High T2 signal within the spinal cord at C5, consistent with cord edema.",
    "Findings: The patellar tendon is thickened with high signal on fat-saturated images.",
    "Findings: Increased signal on fat-suppressed images adjacent to the greater trochanter "
    "within the soft tissues.",
    "Findings: The C5-C6 endplates are bright on T1 and suppress on STIR.",
    "Findings: Feathery edema-like signal throughout the infraspinatus muscle belly.",
    "Findings: Abnormal STIR signal at T4 and T7 consistent with metastases.",
    "Findings: Infiltrating lesion with high T2 signal intensity within the body of the sacrum.",
    "Findings: High T1 signal in the medial femoral condyle, fatty marrow.",
    "Findings: A cyst in the tibial plateau demonstrates high T2 signal.",
    "Findings: No increased STIR signal in the femoral head.",
    "Findings: Should the pain persist, a follow-up MRI might show high STIR signal in the talus.",
    "Befund: T2-hyperintense Läsion im distalen Femur, vereinbar mit einem Enchondrom.",
    "Findings: The L4 endplates are T2 hyperintense and STIR hypointense, Modic type 2.",
    "Findings: STIR hyperintensity in the humeral head does not represent bone marrow edema.",
    "Beurteilung: Die STIR-Hyperintensität im Talus ist nicht als Knochenmarködem zu werten.",
    "Findings: STIR hyperintensity in the talus is a motion artifact.",
    "Findings: T2 hyperintensity of the calcaneal apophysis, physiologic at this age and not "
    "marrow edema.",
    # a bone named only to say how far from it the signal lies
    "Findings: Feathery STIR hyperintensity in the semimembranosus, centred on its myotendinous "
    "junction 7 cm distal to the ischial tuberosity.",
    "Findings: Fluid-sensitive hyperintensity in the flexor tendon sheath, 2 cm proximal to the "
    "radial styloid.",
    # ... also when a part of the bone is named: its "of" is no relation of its own
    "Findings: Fluid-sensitive hyperintensity in the flexor tendon sheath, 2 cm proximal to the "
    "base of the proximal phalanx.",
    "Findings: STIR hyperintensity adjacent to the tip of the lateral malleolus.",
    # a bone's adjective before a tissue: the tissue is what has the signal
    "Findings: Focal high T2 signal and fissuring of the patellar cartilage at the median ridge.",
    "Findings: Increased STIR signal of the tibial periosteum along the middle third.",
]


@pytest.mark.parametrize(("text", "bones"), PRESENT)
def test_signal_in_a_bone_is_present_bme(text: str, bones: set[str]) -> None:
    annotation = annotate(text)
    assert annotation.bme == "present", [(m.text, m.status) for m in annotation.mentions]
    assert {s.bone for s in annotation.sites} == bones


@pytest.mark.parametrize("text", ABSENT)
def test_signal_elsewhere_is_not_bme(text: str) -> None:
    annotation = annotate(text)
    assert annotation.bme == "absent", [(m.text, m.status) for m in annotation.mentions]


def test_signal_takes_the_bones_of_the_sentence_before_and_the_side_of_the_history() -> None:
    text = (
        "History: Progressive bilateral hip pain.\n\nFindings: Radiographs show sclerosis of "
        "the femoral heads. MR images show low T1 and high T2 signal in a subchondral pattern."
    )
    annotation = annotate(text)
    assert [(s.bone, s.laterality) for s in annotation.sites] == [("femoral_head", "bilateral")]


def test_a_named_mention_characterises_the_signal_in_its_sentence() -> None:
    text = "Findings: Subtle STIR signal in the femoral head that may represent early marrow edema."
    annotation = annotate(text)
    assert annotation.bme == "possible"


def test_a_signal_whose_only_cause_is_hedged_is_possible() -> None:
    """A signal is edema by what the report makes of it; hedging that hedges the edema."""
    hedged = "Findings: Faint STIR hyperintensity in the navicular, questionable stress reaction."
    assert annotate(hedged).bme == "possible"
    named = (
        "Findings: Faint STIR hyperintensity in the navicular, consistent with a stress reaction."
    )
    assert annotate(named).bme == "present"


def test_a_clause_after_a_semicolon_does_not_say_what_the_signal_is() -> None:
    text = (
        "Findings: Subtle PD fat-saturated hyperintensity in the hamate; stress reaction versus "
        "artifact from the adjacent fat."
    )
    annotation = annotate(text)
    assert annotation.bme == "possible"
    assert [s.bone for s in annotation.sites] == ["hamate"]
    cyst = "Findings: High T2 signal in the proximal tibia; consistent with a bone cyst."
    assert annotate(cyst).bme == "absent"


def test_an_identity_word_after_an_alternative_is_the_alternative_s() -> None:
    text = (
        "Findings: Faint T2 fat-suppressed hyperintensity in the lunate, which may represent "
        "early osteitis versus partial volume from the adjacent synovitis."
    )
    annotation = annotate(text)
    assert annotation.bme == "possible"
    assert [s.bone for s in annotation.sites] == ["lunate"]


def test_a_question_mark_after_a_space_asks_about_what_follows() -> None:
    text = (
        "Findings: Faint STIR hyperintensity in the posterior lateral tibial plateau ? BME vs "
        "partial volume from the popliteus tendon."
    )
    assert annotate(text).bme == "possible"


def test_a_named_mention_after_a_semicolon_naming_no_bone_is_the_signal_s() -> None:
    same = "Findings: Faint STIR hyperintensity in the femoral head; BME cannot be excluded."
    assert annotate(same).bme == "possible"
    elsewhere = "Findings: STIR hyperintensity in the femoral head; no BME in the acetabulum."
    assert annotate(elsewhere).bme == "present"


def test_the_side_from_the_history_beats_the_procedure() -> None:
    text = (
        "History: Right knee pain after a fall.\n"
        "Findings: Bone bruise of the lateral femoral condyle."
    )
    annotation = annotate(text, procedure="MRI KNEE LEFT")
    assert [(s.bone, s.laterality) for s in annotation.sites] == [
        ("lateral_femoral_condyle", "right")
    ]


def test_a_history_naming_both_sides_leaves_the_side_to_the_title() -> None:
    text = (
        "MRI RIGHT KNEE\nHistory: Prior left hip episode, now right knee pain.\n"
        "Findings: Bone marrow edema in the lateral femoral condyle."
    )
    assert annotate(text).sites[0].laterality == "right"


def test_a_block_title_gives_the_side_in_a_report_of_both_knees() -> None:
    text = (
        "MRI BOTH KNEES\nFindings:\nRIGHT KNEE:\nBone marrow edema in the medial tibial plateau.\n"
        "LEFT KNEE:\nNo marrow signal abnormality.\n"
    )
    assert [(s.bone, s.laterality) for s in annotate(text).sites] == [
        ("medial_tibial_plateau", "right")
    ]


@pytest.mark.parametrize(
    ("text", "bme"),
    [
        # the sequence written with a hyphen
        (
            "Increased signal on the inversion-recovery sequence in the medial talar dome.",
            "present",
        ),
        # T1 preserved: still edema on STIR
        (
            "The base of the proximal phalanx shows mild STIR hyperintensity with preserved T1"
            " fatty marrow.",
            "present",
        ),
        # bright on T1 and T2: fat, a hemangioma, not edema
        ("A round focus in the L2 vertebral body is hyperintense on T1 and T2.", "absent"),
        # a structure named after a dash owns the signal
        (
            "A 6 mm focus in the lunate, dark on T1 and very bright on T2 fat-sat - intraosseous"
            " ganglion.",
            "absent",
        ),
        # along the periosteum: "middle and distal" does not join a second place
        (
            "Linear high STIR signal along the periosteal surface of the middle and distal tibial"
            " shaft.",
            "absent",
        ),
        # a joint's fluid is not marrow
        ("Fluid-bright STIR signal in the left L4-5 facet joint.", "absent"),
    ],
)
def test_signal_wordings_of_archive_cases(text: str, bme: str) -> None:
    assert annotate(text).bme == bme


def test_the_same_signal_in_another_bone_is_edema_there() -> None:
    """A sesamoid that "shows the same confluent signal" has the edema too."""
    text = (
        "Low T1 signal replaces the fatty marrow of the first metatarsal head, with high STIR"
        " signal; the medial sesamoid shows the same confluent signal."
    )
    assert {s.bone for s in annotate(text).sites} == {"metatarsal", "sesamoid"}


def test_a_signal_the_summary_explains_only_as_a_possibility_is_possible() -> None:
    """Findings give a bare signal; the impression only "Possible stress reaction"."""
    text = (
        "Findings: Sagittal STIR shows increased signal in the medial cuneiform.\n"
        "Impression: Possible stress reaction of the medial cuneiform; could be physiological."
    )
    assert annotate(text).bme == "possible"
    named = text.replace("increased signal in", "bone marrow edema in")
    assert annotate(named).bme == "present"


@pytest.mark.parametrize(
    ("text", "bme"),
    [
        ("Impression: Modic type 1 (edematous) endplate changes at L4-L5.", "present"),
        ("L4-5: Modic type 2 endplate changes.", "absent"),
        ("L4-5: mixed Modic type 1/2 endplate changes.", "absent"),
        ("No Modic type 1 change.", "absent"),
    ],
)
def test_modic_type_1_is_edema_of_the_endplates(text: str, bme: str) -> None:
    """Modic 1 names edema-like endplate marrow; type 2 is fat, a mixed 1/2 is not called."""
    assert annotate(text).bme == bme


@pytest.mark.parametrize(
    ("text", "bme"),
    [
        (
            "MRI left foot: Increased fluid signal within the marrow of the 2nd metatarsal shaft on"
            " STIR.",
            "present",
        ),
        ("Findings: High fluid signal in the suprapatellar recess.", "absent"),
        (
            "findings: lobulated T2 bright lesion in the distal femoral metadiaphysis approx 3cm,"
            " chondroid looking, rings and arcs calcification on the xray, endosteal scalloping"
            " less than 2/3 cortex.",
            "absent",
        ),
    ],
)
def test_fluid_signal_and_a_lesions_signal_far_from_a_bone(text: str, bme: str) -> None:
    """ "increased fluid signal within the marrow" is edema; a lesion's signal stays the
    lesion's when a bone word comes many words later, joined by nothing."""
    assert annotate(text).bme == bme


@pytest.mark.parametrize(
    ("text", "bones"),
    [
        (
            "MRI: Confluent low T1 / high STIR marrow signal 1st MT head and base of the proximal"
            " phalanx of the great toe.",
            {"metatarsal", "toe_phalanx"},
        ),
        ("Findings: 1st MT head: T1 confluent low, STIR high.", {"metatarsal"}),
        (
            "MRI - confluent low T1 signal replacing the fat in the 1st metatarsal head w"
            " corresponding high STIR sigal.",
            {"metatarsal"},
        ),
    ],
)
def test_signal_of_osteomyelitis_in_notes(text: str, bones: set) -> None:
    """ "high STIR marrow signal", "STIR high", "sigal": three helpers' forefoot osteomyelitis."""
    annotation = annotate(text)
    assert annotation.bme == "present"
    assert {s.bone for s in annotation.sites} == bones


def test_a_signal_word_before_edema_is_its_adjective() -> None:
    """ "lesion in the L3 vertebral body with surrounding STIR hyperintense edema": the edema
    around a metastasis, not the lesion's own signal."""
    text = (
        "MRI L-spine: 2.1 cm round T1 hypointense lesion in the L3 vertebral body with"
        " surrounding STIR hyperintense edema.\nImpression: Osseous metastasis, L3."
    )
    annotation = annotate(text)
    assert (annotation.bme, annotation.etiology) == ("present", ("tumor",))
    assert {s.bone for s in annotation.sites} == {"vertebral_body"}


@pytest.mark.parametrize(
    "text",
    [
        "Findings: Patchy T2 hyperintensity in the radial half of the lunate, with subtle T1"
        " signal loss. This may represent early marrow edema; early Kienboeck disease cannot be"
        " excluded. The scaphoid is normal.",
        "Findings: Mildly increased STIR signal in both distal tibial metaphyses, symmetric. This"
        " probably reflects residual red marrow, but an early marrow edema pattern cannot be"
        " entirely excluded.",
    ],
)
def test_a_signal_the_next_sentence_hedges_is_possible(text: str) -> None:
    """ "Signal in the lunate. This may represent early marrow edema": one hedged finding."""
    annotation = annotate(text)
    assert annotation.bme == "possible"
    assert annotation.sites


def test_a_signal_the_next_sentence_affirms_stays_present() -> None:
    text = (
        "Findings: Increased STIR signal in the medial femoral condyle. This represents bone"
        " marrow edema from a contusion."
    )
    assert annotate(text).bme == "present"


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


def test_a_lesion_replacing_marrow_is_no_edema_of_that_marrow() -> None:
    """The participle tells what the lesions do, not a second place of their signal."""
    text = (
        "Findings: rounded T1-hypointense, STIR-hyperintense lesions in the T9 and L2 "
        "vertebral bodies, replacing fatty marrow. No fracture."
    )
    assert annotate(text).bme == "absent"
    edema = "Findings: STIR-hyperintense signal in the L2 vertebral body and in the marrow."
    assert annotate(edema).bme == "present"


@pytest.mark.parametrize(
    ("text", "sites"),
    [
        # a typist's "singal", and "hyperintens" without its ending
        (
            "MRI: faint increased STIR singal in the anterior femoral head, left.",
            {("femoral_head", "left")},
        ),
        ("Findings: the talar dome marrow is STIR hyperintens, right ankle.", {("talus", "right")}),
        # the marrow "lights up" on a fluid-sensitive sequence
        (
            "Right foot. The marrow of the navicular lights up on the fat-saturated images.",
            {("navicular", "right")},
        ),
        # a place set off by a comma, with no relation word
        (
            "Left chest wall: focal STIR hyperintensity and low T1 signal, anterior left 6th rib.",
            {("rib", "left")},
        ),
        # the bone's own marrow, however spelt, before a signal that ends with "adjacent"
        (
            "Right shoulder: small Bankart fragment, glenoid marow also STIR bright adjacent.",
            {("glenoid", "right")},
        ),
    ],
)
def test_signal_wordings_of_a_quick_hand(text: str, sites: set[tuple[str, str | None]]) -> None:
    assert _sites(text) == sites


def test_a_but_clause_raises_an_alternative_not_what_the_signal_is() -> None:
    """ "... but this may be partial volume from a facet effusion": a hedge, not an identity."""
    text = (
        "MRI lumbar spine: the left L4 pars shows possible faint high signal on STIR, "
        "but partial volume from a small facet effusion cannot be excluded."
    )
    result = annotate(text)
    assert result.bme == "possible"
    assert {(s.bone, s.laterality) for s in result.sites} == {("posterior_elements", "left")}


@pytest.mark.parametrize(
    ("text", "sites"),
    [
        # the lateral mass of the sacrum is bone, not a mass
        (
            "Left buttock pain. On STIR there is increased signal intensity within the lateral "
            "mass of the sacrum on the left.",
            {("sacrum", "left")},
        ),
        # compared with fat on T1, and normal T1 marrow fat beside: no fat of its own
        (
            "Right knee. On fat-suppressed PD images the medial femoral condyle contains "
            "hyperintense marrow signal, and on T1 the region is darker than the surrounding fat.",
            {("medial_femoral_condyle", "right")},
        ),
        (
            "Left foot. Sagittal STIR shows ill-defined high signal in the navicular, "
            "with normal T1 marrow fat and no fracture line.",
            {("navicular", "left")},
        ),
        # a comparison of brightness, a typist's "incresed" and "scaphiod"
        (
            "Right wrist. The lunate is slightly brighter than the other carpal bones on "
            "fat-suppressed PD images.",
            {("lunate", "right")},
        ),
        ("Left wrist. Scaphiod waist shows incresed signal on STIR.", {("scaphoid", "left")}),
    ],
)
def test_signal_beside_words_that_look_like_other_things(text: str, sites: set) -> None:
    assert _sites(text) == sites


@pytest.mark.parametrize(
    ("text", "sites"),
    [
        # a writer whose English puts the verb after the noun
        (
            "Findings: In the right femur neck there is signal increased on STIR at the "
            "inferomedial cortex, with low T1 signal.",
            {("femoral_neck", "right")},
        ),
        (
            "Findings: In the calcaneus of both sides there is signal increased on STIR in the "
            "posterior tuberosity.",
            {("calcaneus", "bilateral")},
        ),
    ],
)
def test_signal_after_its_noun(text: str, sites: set) -> None:
    assert _sites(text) == sites
