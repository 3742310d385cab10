"""Sections and sentences from the report's lines."""

from __future__ import annotations

import pytest

from nlp import annotate
from nlp.layout import LayoutReader
from nlp.ruleset import load_ruleset
from tests.nlp.sites import sites as _sites


@pytest.fixture(scope="module")
def reader() -> LayoutReader:
    return LayoutReader(load_ruleset("en"))


@pytest.mark.parametrize(
    ("line", "section"),
    [
        ("FINDINGS:", "findings"),
        ("Findings:", "findings"),
        ("findings", "findings"),
        ("FINDINGS", "findings"),
        ("Findings: The menisci are intact.", "findings"),
        ("IMPRESSION Normal study.", "impression"),
        ("Impression - normal study", "impression"),
        ("Conclusion:", "impression"),
        ("CLINICAL HISTORY: Runner.", "history"),
        ("Clinical Indication: pain", "history"),
        ("Reason for exam: pain", "history"),
        ("Indication: pain", "history"),
        ("TECHNIQUE: Sagittal PD FS.", "technique"),
        ("Sequences: Sagittal T1.", "technique"),
        ("COMPARISON: None.", "comparison"),
        ("ADDENDUM: On review ...", "addendum"),
        ("EXAM: MRI LEFT KNEE", "exam"),
        ("PROCEDURE: MRI of the right knee.", "exam"),
        ("BONE MARROW: Normal.", None),
        ("Bone marrow: No edema.", None),
        ("Cartilage: Intact.", None),
        ("MRI LEFT KNEE WITHOUT CONTRAST", None),
        ("History of trauma is reported by the patient.", None),
    ],
)
def test_header_lines(reader: LayoutReader, line: str, section: str | None) -> None:
    """Headers are found in any case, with or without colons; sub-headings are not sections."""
    assert reader.section_of_line(line) == section


def test_sub_headings_stay_in_findings(reader: LayoutReader) -> None:
    """Lines under FINDINGS with their own sub-heading belong to findings and keep the heading."""
    layout = reader.read(
        "FINDINGS:\nBONE MARROW:\n- Bone contusion.\nScaphoid: Marrow edema.\nIMPRESSION:\n1. Edema."  # noqa: E501
    )
    assert [line.section for line in layout.lines] == ["findings"] * 4 + ["impression"] * 2
    assert layout.lines[3].heading == "scaphoid"


def test_title_line_before_headers_is_the_exam_block(reader: LayoutReader) -> None:
    """Text before the first header is the exam/title block."""
    layout = reader.read("MRI RIGHT KNEE WITHOUT CONTRAST\n\nFindings: Normal.")
    assert layout.lines[0].section == "exam"
    assert "right" in layout.exam_text


def test_report_without_headers_is_all_current(reader: LayoutReader) -> None:
    """Dictation without headers has no sections, and its first line still serves as title."""
    layout = reader.read("MRI left knee\nThere is bone marrow edema. No fracture.")
    assert {line.section for line in layout.lines} == {None}
    assert layout.exam_text == "mri left knee"


SPLITS = [
    (
        "No fracture. Bone marrow edema in the talus.",
        ["No fracture.", "Bone marrow edema in the talus."],
    ),
    (
        "1. Bone contusion of the LFC.\n2. No fracture.",
        ["1. Bone contusion of the LFC.", "2. No fracture."],
    ),
    ("- Bone contusion 2.0 cm. No depression.", ["- Bone contusion 2.0 cm.", "No depression."]),
    ("FINDINGS:\nBONE MARROW:\n1) Contusion.", ["FINDINGS:", "BONE MARROW:", "1) Contusion."]),
    ("Edema vs. artifact. Next one.", ["Edema vs. artifact.", "Next one."]),
    ("Measures 2.5 x 1.8 cm. Next.", ["Measures 2.5 x 1.8 cm.", "Next."]),
    ("Impression:\n\n1.   Edema.", ["Impression:", "1.   Edema."]),
]


@pytest.mark.parametrize(("text", "expected"), SPLITS)
def test_sentences(reader: LayoutReader, text: str, expected: list[str]) -> None:
    """Sentences split at line ends and at '. X', not after list markers, numbers or abbreviations."""  # noqa: E501
    layout = reader.read(text)
    assert [text[s.start : s.end] for s in layout.sentences] == expected


@pytest.mark.parametrize(
    ("text", "section"),
    [
        ("FINDINGS:\nBone marrow edema in the talus.", "findings"),
        ("findings\nBone marrow edema in the talus.", "findings"),
        ("Impression: Bone marrow edema in the talus.", "impression"),
        ("CLINICAL HISTORY: bone marrow edema, follow-up.", "history"),
        ("Bone marrow edema in the talus.", None),
        ("ADDENDUM:\nBone contusion of the talus.", "addendum"),
    ],
)
def test_mention_sections(text: str, section: str | None) -> None:
    """Each mention carries the contract name of its section, or null without headers."""
    assert annotate(text).mentions[0].section == section


def test_pipeline_sentences_match_layout() -> None:
    """The spaCy Doc's sentences are the layout's sentences."""
    from nlp.pipeline import build_pipeline

    text = "FINDINGS:\n1. No fracture. Bone marrow edema.\n2. Effusion."
    doc = build_pipeline("en")(text)
    sentences = [s.text.strip() for s in doc.sents if s.text.strip()]
    assert sentences == ["FINDINGS:", "1. No fracture.", "Bone marrow edema.", "2. Effusion."]


@pytest.mark.parametrize(
    ("text", "sections"),
    [
        # No FINDINGS header: the body after a one-line history header is current text.
        (
            "MRI LEFT HIP\nHistory: 58F, groin pain.\nBand of edema in the femoral neck.\n"
            "Impression: Stress fracture.",
            ["exam", "history", None, "impression"],
        ),
        # With a FINDINGS header, a history that runs over two lines stays history.
        (
            "History: 58F, groin pain.\nKnown osteopenia.\nFindings:\nNormal.",
            ["history", "history", "findings", "findings"],
        ),
        # A bare history header owns the lines under it.
        (
            "HISTORY:\n58F, groin pain.\nImpression: Normal.",
            ["history", "history", "impression"],
        ),
    ],
)
def test_one_line_history_header_without_findings_header(
    reader: LayoutReader, text: str, sections: list[str | None]
) -> None:
    """A one-line 'History: ...' holds only its line when the report has no FINDINGS header."""
    assert [line.section for line in reader.read(text).lines] == sections


def test_sections_joined_into_one_line_are_read_apart() -> None:
    """Sections a system joined into one line ("History: ...  Findings: ...") read apart."""
    text = (
        "History: 19 y/o runner with left foot pain.  Findings: Bone marrow edema in the"
        " navicular. Diagnosis: Stress reaction.  Discussion: In other cases bone marrow edema"
        " of the cuboid is seen."
    )
    result = annotate(text)
    assert result.bme == "present"
    assert (result.mentions[0].section, result.mentions[0].status) == ("findings", "present")
    assert [(s.bone, s.laterality) for s in result.sites] == [("navicular", "left")]


@pytest.mark.parametrize(
    "line",
    [
        "Bone marrow edema in the navicular, the diagnosis: stress reaction.",  # lower case
        "Bone marrow edema in the navicular; Findings: above.",  # after neither "." nor spaces
        "Bone marrow edema in the navicular. Note: stress reaction.",  # no section title
    ],
)
def test_a_title_inside_a_line_needs_its_place(reader: LayoutReader, line: str) -> None:
    """Only a capitalised title after a sentence's end or a run of spaces opens a section."""
    assert len(reader.read(line).lines) == 1


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


def test_an_export_that_joined_its_fields_keeps_them_apart(reader: LayoutReader) -> None:
    """A case database's fields run together on one line: each label opens its section,
    the longest label winning ("Differential Diagnosis:", not "Diagnosis:")."""
    text = (
        "Title: Stress injury of the navicular History: 22F sprinter, midfoot pain "
        "Findings: navicular STIR bright, no line Differential Diagnosis: stress reaction, "
        "coalition Case Diagnosis: navicular stress reaction"
    )
    layout = reader.read(text)
    sections = [(line.section, text[line.start : line.end].split(":")[0]) for line in layout.lines]
    assert sections == [
        ("exam", "Title"),
        ("history", "History"),
        ("findings", "Findings"),
        ("differential", "Differential Diagnosis"),
        ("impression", "Case Diagnosis"),
    ]


def test_a_label_of_two_words_opening_its_line_stays_whole(reader: LayoutReader) -> None:
    text = "OPERATIVE NOTE\nPREOPERATIVE DIAGNOSIS: Scaphoid waist fracture, left.\n"
    layout = reader.read(text)
    assert [text[line.start : line.end] for line in layout.lines][1].startswith("PREOPERATIVE")
