"""followup.course: the course of the edema from comparison language and the two annotations."""

from __future__ import annotations

import pytest

from followup.course import SiteFindings, course_of, has_collapse, stated_course

BME = SiteFindings(edema=True, bones=frozenset({"femoral_head"}), severity=2)
NONE = SiteFindings(edema=False)


@pytest.mark.parametrize(
    ("sentence", "course"),
    [
        ("The marrow edema has progressed.", "progressed"),
        ("Persistent but increased edema of the femoral head.", "progressed"),
        ("The edema has decreased since the prior study.", "improved"),
        ("Resolving bone marrow edema.", "improved"),
        ("The previously seen edema has resolved.", "resolved"),
        ("No longer seen: the marrow edema.", "resolved"),
        ("Unchanged bone marrow edema.", "persistent"),
        ("New bone marrow edema in the talus.", "new"),
        ("Das Knochenmarködem ist rückläufig.", "improved"),
        ("Progredientes Knochenmarködem.", "progressed"),
        ("Das Ödem ist nicht mehr nachweisbar.", "resolved"),
        ("Unverändertes Knochenmarködem.", "persistent"),
    ],
)
def test_stated_course(sentence: str, course: str) -> None:
    """English and German comparison wording gives the course and its sentence."""
    assert stated_course([(0, len(sentence), sentence)]) == (course, (0, len(sentence)))


def test_no_comparison_words_no_statement() -> None:
    """A plain finding states no course."""
    assert stated_course([(0, 20, "Bone marrow edema.")]) is None


@pytest.mark.parametrize(
    ("prior", "current", "course"),
    [
        (BME, NONE, "resolved"),
        (NONE, BME, "new"),
        (BME, SiteFindings(True, frozenset({"femoral_head"}), 4), "progressed"),
        (BME, SiteFindings(True, frozenset({"femoral_head"}), 1), "improved"),
        (BME, SiteFindings(True, frozenset({"femoral_head", "acetabulum"}), 0), "progressed"),
        (BME, BME, "persistent"),
    ],
)
def test_course_from_annotations(prior: SiteFindings, current: SiteFindings, course: str) -> None:
    """Without comparison language the two findings decide."""
    result = course_of(prior, current, None)
    assert (result.course, result.basis) == (course, "annotations")


def test_progression_or_new_collapse_escalates() -> None:
    """Progressed escalates; so does a collapse the earlier exam did not have; not otherwise."""
    assert course_of(BME, BME, ("progressed", (0, 5))).escalate_osteonecrosis
    collapsed = SiteFindings(True, frozenset({"femoral_head"}), 2, collapse=True)
    escalated = course_of(BME, collapsed, None)
    assert escalated.escalate_osteonecrosis and "collapse" in escalated.reason
    assert not course_of(collapsed, collapsed, None).escalate_osteonecrosis
    assert not course_of(BME, BME, ("improved", (0, 5))).escalate_osteonecrosis


def test_collapse_must_be_affirmed() -> None:
    """ "No collapse" and "kein Einbruch" are not a collapse; "a crescent is seen" is."""
    assert has_collapse([(0, 30, "No subchondral collapse.")]) is None
    assert has_collapse([(0, 30, "Kein Einbruch der Gelenkfläche.")]) is None
    assert has_collapse([(5, 40, "A subchondral crescent is now seen.")]) == (5, 40)


def test_site_findings_and_course_since_from_real_annotations() -> None:
    """The knee's bones, severity and an affirmed collapse; the history line does not count."""
    import nlp
    from followup.course import course_since, site_findings

    first = "Findings: Mild bone marrow edema in the medial femoral condyle of the left knee."
    later = (
        "History: collapse of the right hip years ago.\nFindings: Extensive bone marrow edema "
        "in the medial femoral condyle of the left knee, which has progressed."
    )
    before = site_findings(nlp.annotate(first, "MRI KNEE LEFT"), first, "knee", "left")
    annotation = nlp.annotate(later, "MRI KNEE LEFT")
    now = site_findings(annotation, later, "knee", "left")
    assert before.edema and before.bones == frozenset({"medial_femoral_condyle"})
    assert now.severity > before.severity and not now.collapse
    assert site_findings(annotation, later, "hip", None) == SiteFindings(edema=False)
    course = course_since(before, now, annotation, later)
    assert course is not None and (course.course, course.basis) == ("progressed", "comparison")
    assert course_since(None, now, annotation, later) is None
    assert course_since(NONE, NONE, annotation, later) is None
