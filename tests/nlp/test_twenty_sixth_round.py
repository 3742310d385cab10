"""Twenty-sixth round: sides said with one mention of a bilateral disease, earlier exams
labelled by month (tests/fixtures/reports/VOICES.md).

Every text here is written for this test.
"""

from __future__ import annotations

from nlp import annotate
from nlp.model import Annotation


def sites(annotation: Annotation) -> set[tuple[str, str | None]]:
    return {(s.bone, s.laterality) for s in annotation.sites}


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
