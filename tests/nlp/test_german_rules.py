"""German rule families, one data file each in tests/fixtures/reports/de/: every case must hold."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nlp import annotate

CASES = Path(__file__).resolve().parent.parent / "fixtures" / "reports" / "de"


def cases(name: str) -> list[Any]:
    """The rows of one fixture file, each as a pytest param named by its text."""
    rows = []
    with (CASES / name).open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                rows.append(pytest.param(row, id=row["text"].replace("\n", " | ")[:70]))
    return rows


@pytest.mark.parametrize("case", cases("targets.jsonl"))
def test_synonym_is_a_mention(case: dict[str, Any]) -> None:
    """Each German BME synonym is found with exact offsets and read as German."""
    annotation = annotate(case["text"], language="de")
    found = [m.text.lower() for m in annotation.mentions]
    assert case["mention"] in found
    for m in annotation.mentions:
        assert case["text"][m.start : m.end] == m.text


@pytest.mark.parametrize("case", cases("not_bme.jsonl"))
def test_look_alike_is_not_a_mention(case: dict[str, Any]) -> None:
    """Soft-tissue edema, normal marrow signal and soft-tissue contusion are no BME."""
    annotation = annotate(case["text"], language="de")
    assert annotation.mentions == ()
    assert annotation.bme == "absent"


@pytest.mark.parametrize("case", cases("sections.jsonl"))
def test_section_header(case: dict[str, Any]) -> None:
    """German section headers map to the contract's sections."""
    (mention,) = annotate("MRT Sprunggelenk rechts\n" + case["text"], language="de").mentions
    assert mention.section == case["section"]


@pytest.mark.parametrize("case", cases("context.jsonl"))
def test_context_status(case: dict[str, Any]) -> None:
    """Negation, uncertainty, history, hypothesis and persistence in German phrasing."""
    mentions = annotate(case["text"], language="de").mentions
    assert mentions, "no mention found"
    assert mentions[0].status == case["status"]


@pytest.mark.parametrize("case", cases("anatomy.jsonl"))
def test_bones_and_sides(case: dict[str, Any]) -> None:
    """German bone names and laterality words (rechts, li., bds., beidseits) give the sites."""
    annotation = annotate(case["text"], case.get("procedure"), language="de")
    sites = sorted((s.bone, s.laterality) for s in annotation.sites)
    assert sites == sorted((bone, side) for bone, side in case["sites"])


@pytest.mark.parametrize("case", cases("etiology.jsonl"))
def test_etiology(case: dict[str, Any]) -> None:
    """German cause terms related to the edema; negated ones and look-alikes are left out."""
    annotation = annotate(case["text"], language="de")
    assert annotation.bme != "absent"
    assert sorted(annotation.etiology) == sorted(case["etiology"])


SENTENCES = [
    ("Stressfraktur im 2. Mittelfußknochen mit KMÖ.", 1),
    ("KMÖ im Köpfchen des 3. Mittelfußknochens. Keine Fraktur.", 2),
    ("Innenbandzerrung Grad 2. Kein Knochenmarködem.", 2),
    ("V.a. diskretes KMÖ. Z.n. Distorsion. Ca. 3 x 2 cm.", 3),
    ("KMÖ im Talus li. Keine Fraktur.", 2),
    ("Kein Erguss li. Im re. Talus ausgedehntes KMÖ.", 2),
    ("KMÖ im li. Talus und re. Kalkaneus.", 1),
    ("Lig. talofibulare anterius rupturiert. Kein KMÖ.", 2),
]


@pytest.mark.parametrize(("text", "count"), SENTENCES)
def test_sentences_keep_ordinals_and_abbreviations(text: str, count: int) -> None:
    """'im 2. Mittelfußknochen', 'V.a.', 'Z.n.', 'li.' and 'Lig.' do not end a German sentence."""
    from nlp.layout import LayoutReader
    from nlp.ruleset import load_ruleset

    assert len(LayoutReader(load_ruleset("de")).read(text).sentences) == count


WRAPPED = [
    ("Befund:\nKnochenmarködem im medialen\nFemurkondylus.", True),
    ("Befund:\nKnochenmarködem bei aktivierter\nGonarthrose.", True),
    ("Befund:\nKein Erguss\nKnochenmarködem im Talus.", False),
    ("Befund:\nMenisken intakt\nKnochenmarködem im Talus.", False),
    ("Befund: Ausgedehntes Knochenmarködem im\nmedialen Femurkondylus.", True),
    ("Befund:\nKnochenmarködem im Talus.", False),
]


@pytest.mark.parametrize(("text", "soft"), WRAPPED)
def test_hard_wrapped_lines(text: str, soft: bool) -> None:
    """The last break is soft after a lower-case inflected word, hard after a noun or header."""
    from nlp.layout import LayoutReader
    from nlp.ruleset import load_ruleset

    unwrapped = LayoutReader(load_ruleset("de")).unwrap(text)
    assert len(unwrapped) == len(text)
    assert unwrapped.count("\n") == text.count("\n") - (1 if soft else 0)


def _de_sites(text: str) -> set[tuple[str, str | None]]:
    return {(s.bone, s.laterality) for s in annotate(text, language="de").sites}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "MRT Knie li: Knochenmarködem in der gewichttragenden medialen Oberschenkelrolle.",
            {("medial_femoral_condyle", "left")},
        ),
        (
            "MRT Knie re: Kontusionsödem dorsolat. Schienbeinkopf und im Wadenbeinkoepfchen.",
            {("lateral_tibial_plateau", "right"), ("fibular_head", "right")},
        ),
        # "T1-signalarm und STIR-hyperintens": the sequence pair is one description
        (
            "MRT Fuß links: das Würfelbein stellt sich T1-signalarm und STIR-hyperintens dar.",
            {("cuboid", "left")},
        ),
    ],
)
def test_german_everyday_bones_and_a_sequence_pair(text: str, expected: set) -> None:
    assert _de_sites(text) == expected


def test_a_letters_course_tells_the_current_exam() -> None:
    """ "Verlauf:" after a letter's diagnosis list is its course, not more diagnoses."""
    text = (
        "Diagnosen:\n- Z.n. Knochenmarködem der rechten Hüfte 2023, ausgeheilt\n\n"
        "Verlauf:\nDie aktuelle MRT beider Hüften zeigt regelrechte Signalverhältnisse, "
        "das frühere Ödem ist nicht mehr abgrenzbar."
    )
    assert annotate(text, language="de").bme == "absent"


def test_still_speaks_of_its_own_clause() -> None:
    """ "weiterhin" after a comma tells of the next finding, not the regressed edema."""
    text = (
        "Befund: Das damals beschriebene Knochenmarködem im medialen Tibiaplateau ist nicht "
        "mehr abgrenzbar, weiterhin disloziertes Korbhenkelfragment des Innenmeniskus."
    )
    assert annotate(text, language="de").bme == "absent"
    assert annotate(
        "Befund: Das Knochenmarködem ist weiterhin nachweisbar.", language="de"
    ).bme == ("present")


def test_short_german_labels_open_their_sections() -> None:
    """ "Frage: ... KMÖ?" asks; "Bef.:" and "Beurt.:" answer."""
    text = (
        "MRT Hüfte re.\nFrage: Trochanterschmerz, KMÖ?\n"
        "Bef.: Hüftkopf rund, kein Knochenmarködem.\nBeurt.: Bursitis trochanterica."
    )
    assert annotate(text, language="de").bme == "absent"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the big toe's joint is no toe phalanx; "fragmentiert" is no fragment
        (
            "MRT Vorfuß links: Mediales Sesambein des Großzehengrundgelenks in der TIRM "
            "signalangehoben und in T1 abgesenkt, nicht fragmentiert.",
            {("sesamoid", "left")},
        ),
        # T1 said to be normal after the signal is no fat
        (
            "MRT Vorfuß re: Im Köpfchen des fünften Mittelfußknochens diskrete "
            "STIR-Signalanhebung, in T1 regelrechtes Fettmarksignal.",
            {("metatarsal", "right")},
        ),
        # up to the growth plate is still in the bone; the growth plates themselves are not bone
        (
            "MRT OSG links: In der distalen Tibiametaphyse STIR-hyperintenses Marksignal bis an "
            "die Wachstumsfuge.",
            {("distal_tibia", "left")},
        ),
        (
            "MRT beider Rückfüße: Die Apophysenfugen sind in der STIR beidseits bandförmig "
            "signalreich, altersentsprechend.",
            set(),
        ),
    ],
)
def test_german_signal_owners(text: str, expected: set) -> None:
    assert _de_sites(text) == expected
