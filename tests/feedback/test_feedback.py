"""feedback: reviews, gold labels in the contract's format, agreement figures."""

from __future__ import annotations

import pytest

from feedback.labels import ReviewError, flags_for, gold_label, make_review
from feedback.quality import FlagVerdict, summarise

ANNOTATION = {
    "bme": "present",
    "sites": [{"bone": "medial_femoral_condyle", "laterality": "right"}],
    "etiology": ["osteonecrosis"],
    "flags": [{"code": "BME"}, {"code": "OSTEONECROSIS_CONCERN"}],
}
CODES = ["BME", "OSTEONECROSIS_CONCERN"]


def test_agreeing_keeps_radflags_label() -> None:
    review = make_review(CODES, {})
    assert all(v.agree for v in review.verdicts.values()) and not review.corrected
    assert gold_label(ANNOTATION, review) == {
        "bme": "present",
        "sites": [{"bone": "medial_femoral_condyle", "laterality": "right"}],
        "etiology": ["osteonecrosis"],
        "flags": ["BME", "OSTEONECROSIS_CONCERN"],
    }


def test_corrected_site_and_cause_change_sites_and_flags() -> None:
    review = make_review(
        CODES,
        {"OSTEONECROSIS_CONCERN": ("disagree", "wrong_cause")},
        sites=[("lateral_femoral_condyle", "left")],
        etiology=["trauma"],
    )
    gold = gold_label(ANNOTATION, review)
    assert gold["sites"] == [{"bone": "lateral_femoral_condyle", "laterality": "left"}]
    assert gold["etiology"] == ["trauma"] and gold["flags"] == ["BME", "TRAUMA_OVERLOAD"]


@pytest.mark.parametrize("reason", ["not_bme", "negated", "historical"])
def test_no_current_edema_reasons_make_the_status_absent(reason: str) -> None:
    gold = gold_label(ANNOTATION, make_review(CODES, {"BME": ("disagree", reason)}))
    assert gold == {"bme": "absent", "sites": [], "etiology": [], "flags": []}


def test_explicit_status_wins_over_the_reason() -> None:
    review = make_review(CODES, {"BME": ("disagree", "wrong_status")}, bme="possible")
    assert gold_label(ANNOTATION, review)["flags"] == ["BME_POSSIBLE", "OSTEONECROSIS_CONCERN"]


@pytest.mark.parametrize(
    ("verdicts", "kwargs", "message"),
    [
        ({"BME": ("disagree", "")}, {}, "say why"),
        ({"BME": ("maybe", "")}, {}, "agree or disagree"),
        ({"TUMOR_CONCERN": ("agree", "")}, {}, "no such flag"),
        ({}, {"bme": "likely"}, "status must be"),
        ({}, {"sites": [("femur_everywhere", "left")]}, "unknown bone"),
        ({}, {"sites": [("talus", "up")]}, "unknown side"),
        ({}, {"etiology": ["gremlins"]}, "unknown cause"),
    ],
)
def test_bad_reviews(verdicts: dict, kwargs: dict, message: str) -> None:
    with pytest.raises(ReviewError, match=message):
        make_review(CODES, verdicts, **kwargs)


def test_contract_bones_beyond_the_rules_are_accepted() -> None:
    review = make_review(CODES, {}, sites=[("scapula", None), ("posterior_elements", None)])
    assert review.sites == (("scapula", None), ("posterior_elements", None))


def test_flags_for_follows_the_contract_table() -> None:
    assert flags_for("absent", ["infection"]) == []
    assert flags_for("present", ["infection"]) == ["BME", "INFECTION_CONCERN", "REACTIVE"]
    assert flags_for("possible", []) == ["BME_POSSIBLE"]


def test_summarise_agreement_and_reasons() -> None:
    verdicts = [
        FlagVerdict("2026-03", "en", "BME", True, None),
        FlagVerdict("2026-03", "en", "BME", False, "negated"),
        FlagVerdict("2026-03", "de", "BME", True, None),
        FlagVerdict("2026-04", "en", "BME", True, None),
        FlagVerdict("2026-04", "en", "TRAUMA_OVERLOAD", False, "wrong_cause"),
    ]
    report = summarise(verdicts, missed=[("2026-04", "en")])
    assert report.by_code["BME"].agreed == 3 and report.by_code["BME"].reviewed == 4
    assert report.by_code["BME"].ppv == 0.75 and report.by_code["TRAUMA_OVERLOAD"].ppv == 0.0
    assert report.by_code_month_language[("BME", "2026-03", "en")].ppv == 0.5
    assert report.reasons == {("2026-04", "en", "wrong_cause"): 1, ("2026-03", "en", "negated"): 1}
    assert report.missed == {("2026-04", "en"): 1}
