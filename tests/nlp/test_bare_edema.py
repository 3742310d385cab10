"""A bare "edema" counts as marrow edema only where its clause ties it to a bone.

The rule (targets.jsonl `bone_owned`, clauses.json `owners`): the owner is a
relation word right after the edema ("along", "surrounding the"), else a tissue
word just before it, else the first tissue word after it, else the last one
before it, else the sub-heading's bone. Bone wording: vocabulary bones, bone
parts (tuberosity, malleolus), marrow/osseous words. Soft tissue: fat pad,
tendon, bursa, muscle, fascia, ligament, effusion, ...
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from nlp import annotate
from nlp.ruleset import RuleFileError, read_ruleset, rules_root


@pytest.mark.parametrize(
    ("text", "bme", "bones"),
    [
        (
            "Subcortical cysts and mild edema in the greater tuberosity of the humeral head.",
            "present",
            {"humeral_head"},
        ),
        ("Reactive edema at the lesser tuberosity.", "present", {"humeral_head"}),
        (
            "Lytic lesions in the right iliac bone and sacrum with surrounding edema, "
            "in keeping with metastases.",
            "present",
            {"ilium", "sacrum"},
        ),
        (
            "Subtle signal in the talar neck, which may reflect early edema or red marrow.",
            "possible",
            {"talus"},
        ),
        ("Oedema within the base of the second metatarsal.", "present", {"metatarsal"}),
        ("Talus: patchy edema.", "present", {"talus"}),
    ],
)
def test_edema_tied_to_a_bone_counts(text: str, bme: str, bones: set[str]) -> None:
    """A bone (or bone part) that owns the bare edema makes it a mention at that bone."""
    annotation = annotate(text)
    assert annotation.bme == bme
    assert {s.bone for s in annotation.sites} == bones


@pytest.mark.parametrize(
    "text",
    [
        # dev-073: the fat pad owns it, though a condyle is named in the clause.
        "There is edema in the superolateral aspect of Hoffa's fat pad, interposed between "
        "the lateral femoral condyle and the patellar tendon.",
        "Gluteus medius tendinosis with peritendinous edema at the greater trochanter.",
        "Split tear with fluid and edema along the tendon sheath behind the lateral malleolus.",
        "Grade 2 sprain with edema surrounding the MCL superficial to the medial femoral condyle.",
        "Edema in the retrocalcaneal bursa next to the calcaneus.",
        "Mild edema in the adjacent soft tissues of the second metatarsal.",
        "Edema tracks along the fascia to the anterior inferior iliac spine.",
        "Soft tissue swelling and edema at the lateral malleolus.",
        "Diffuse denervation edema of the intrinsic foot muscles.",
        "Pitting edema of both legs.",
        # the spelling without the e
        "Impression: Periostal edema of the posteromedial tibia without marrow involvement.",
    ],
)
def test_edema_owned_by_soft_tissue_is_no_mention(text: str) -> None:
    """Soft tissue that owns the edema keeps it out, whatever bone stands nearby."""
    annotation = annotate(text)
    assert annotation.bme == "absent"
    assert not annotation.mentions


def test_negated_bare_edema_at_a_bone_is_a_negated_mention() -> None:
    """'Without edema' at a bone is evidence of absence, not a finding."""
    annotation = annotate("Old T12 compression deformity without edema.")
    assert annotation.bme == "absent"
    assert [m.status for m in annotation.mentions] == ["negated"]


def _copy_rules(tmp_path: Path) -> Path:
    root = tmp_path / "rules"
    shutil.copytree(str(rules_root() / "en"), root / "en")
    return root


def test_owners_reject_unknown_keys_and_bad_regexes(tmp_path: Path) -> None:
    """clauses.json `owners` is checked like every rule file."""
    root = _copy_rules(tmp_path)
    path = root / "en" / "clauses.json"
    obj = json.loads(path.read_text(encoding="utf-8"))
    obj["owners"]["cartilage"] = ["chondral"]
    path.write_text(json.dumps(obj), encoding="utf-8")
    with pytest.raises(RuleFileError, match=r"owners: unknown key"):
        read_ruleset("en", root)
    del obj["owners"]["cartilage"]
    obj["owners"]["soft_tissue"] = ["(unclosed"]
    path.write_text(json.dumps(obj), encoding="utf-8")
    with pytest.raises(RuleFileError, match=r"soft_tissue\[\] is not a valid regex"):
        read_ruleset("en", root)


def test_bone_owned_must_be_boolean(tmp_path: Path) -> None:
    """A target's `bone_owned` is true or false."""
    root = _copy_rules(tmp_path)
    path = root / "en" / "targets.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    obj = json.loads(lines[-1])
    obj["bone_owned"] = "yes"
    lines[-1] = json.dumps(obj)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(RuleFileError, match=r"bone_owned and signal must be true or false"):
        read_ruleset("en", root)


@pytest.mark.parametrize(
    ("text", "bme", "bones"),
    [
        # the swelling is what is "consistent with edema", not the finger it lies around
        (
            "Findings: Spindle-shaped soft tissue swelling about the DIP joint of the left index "
            "finger, consistent with edema. No fracture.",
            "absent",
            set(),
        ),
        (
            "Findings: Thickening of the plantar fascia at its calcaneal origin, compatible with "
            "edema.",
            "absent",
            set(),
        ),
        # the subject is the signal in the bone
        (
            "Findings: Ill-defined low T1 signal in the hamate, consistent with edema.",
            "present",
            {"hamate"},
        ),
        # after "and", the part that is characterised is the bone's
        (
            "Findings: Swelling of the Achilles paratenon and high signal in the posterior "
            "calcaneus, consistent with edema.",
            "present",
            {"calcaneus"},
        ),
    ],
)
def test_what_a_consistent_with_edema_characterises_owns_it(
    text: str, bme: str, bones: set[str]
) -> None:
    """clauses.json `owners.characterising`: the subject before "consistent with edema" owns it."""
    annotation = annotate(text)
    assert annotation.bme == bme
    assert {s.bone for s in annotation.sites} == bones


def test_a_fat_saturated_sequence_is_no_fat_that_owns_the_edema() -> None:
    """ "on PD fat-saturated images, possibly early oedema": the hedged edema is the signal's."""
    annotation = annotate(
        "History: right wrist pain.\nFindings: Faint increased signal in the scaphoid on PD "
        "fat-saturated images, possibly early oedema versus artefact."
    )
    assert annotation.bme == "possible"
    assert {(s.bone, s.laterality) for s in annotation.sites} == {("scaphoid", "right")}
