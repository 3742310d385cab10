"""Every synonym family of the contract is found; look-alikes are not."""

from __future__ import annotations

import pytest

from nlp import annotate

SYNONYMS = [
    ("Bone marrow edema in the talus.", "bone marrow edema"),
    ("Bone marrow oedema in the talus.", "bone marrow oedema"),
    ("Bone-marrow edema in the talus.", "bone-marrow edema"),
    ("Marrow edema in the talus.", "marrow edema"),
    ("Marrow oedema in the talus.", "marrow oedema"),
    ("Bone marrow edema-like signal in the talus.", "bone marrow edema-like signal"),
    ("Marrow edema-like signal in the talus.", "marrow edema-like signal"),
    ("Subchondral edema-like marrow signal in the acetabular roof.", "edema-like marrow signal"),
    ("Edema-like signal along the medial femoral neck.", "edema-like signal"),
    ("Edema pattern in the marrow of the talus.", "edema pattern in the marrow"),
    (
        "Subchondral bone marrow lesions in the medial femoral condyle.",
        "subchondral bone marrow lesions",
    ),
    ("New BML in the medial tibial plateau.", "bml"),
    ("Subchondral BME in the medial tibial plateau.", "bme"),
    ("Subchondral BMO in the lateral tibial plateau.", "bmo"),
    ("Bone bruise of the lateral femoral condyle.", "bone bruise"),
    ("Bone contusions of the medial patella.", "bone contusions"),
    ("Contusion of the fibular head.", "contusion"),
    ("Subchondral edema in the lateral femoral condyle.", "subchondral edema"),
    ("STIR hyperintense marrow signal in the calcaneus.", "stir hyperintense marrow signal"),
    (
        "Marrow hyperintensity on fat-suppressed images in the cuboid.",
        "marrow hyperintensity on fat",
    ),
]

NOT_BME = [
    "Soft tissue edema over the lateral ankle.",
    "Subcutaneous edema along the medial knee.",
    "Periligamentous edema about the MCL.",
    "Anterolateral soft tissue contusion.",
    "Contusion of the vastus medialis muscle.",
    "Edema in Hoffa's fat pad.",
    "Intramuscular edema of the gastrocnemius.",
    "Perifascial edema consistent with plantar fasciitis.",
]


@pytest.mark.parametrize(("text", "found"), SYNONYMS)
def test_synonym_is_a_present_mention(text: str, found: str) -> None:
    """Each synonym family gives a present mention with exact offsets."""
    annotation = annotate(text)
    assert annotation.bme == "present"
    mention = annotation.mentions[0]
    assert text[mention.start : mention.end] == mention.text
    assert mention.text.lower().startswith(found)


@pytest.mark.parametrize("text", NOT_BME)
def test_soft_tissue_edema_is_not_bme(text: str) -> None:
    """Edema outside the marrow is no mention."""
    annotation = annotate(text)
    assert annotation.mentions == ()
    assert annotation.bme == "absent"


def test_bone_bruise_implies_trauma() -> None:
    """A bone bruise is BME with etiology trauma."""
    annotation = annotate("Bone bruise of the lateral femoral condyle.")
    assert annotation.etiology == ("trauma",)
    assert {f.code for f in annotation.flags} == {"BME", "TRAUMA_OVERLOAD"}
