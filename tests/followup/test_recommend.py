"""followup.recommend and followup.rules: structured recommendations from annotated reports."""

from __future__ import annotations

import json
from importlib import resources

import pytest

import nlp
from followup.model import Interval, Recommendation
from followup.recommend import recommend
from followup.rules import RecommendationRuleError, load_rules, parse_rules

KNEE = (
    "MRI LEFT KNEE\nFindings: Bone marrow edema in the medial femoral condyle.\n"
    "Impression: Medial femoral condyle bone marrow edema."
)


def test_default_from_the_flag_with_site_and_side() -> None:
    """A BME flag without a written recommendation gets the structured default."""
    (rec,) = recommend(nlp.annotate(KNEE, "MRI KNEE LEFT"), KNEE, "MRI KNEE LEFT")
    assert (rec.modality, rec.region, rec.side, rec.source) == ("MRI", "knee", "left", "default")
    assert rec.interval == Interval(42, 56) and rec.condition == "if pain persists"
    assert rec.evidence == () and rec.flag == "BME"


def test_the_radiologists_own_recommendation_wins() -> None:
    """ "Follow-up MRI in 3 months" replaces the MRI default; its sentence is the evidence."""
    text = KNEE + " Follow-up MRI in 3 months is recommended."
    (rec,) = recommend(nlp.annotate(text, "MRI KNEE LEFT"), text, "MRI KNEE LEFT")
    assert rec.source == "report" and rec.interval == Interval(75, 120)
    ((start, end),) = rec.evidence
    assert text[start:end] == "Follow-up MRI in 3 months is recommended."


def test_german_default_and_own() -> None:
    """German reports get German defaults, and "Kontrolle in 6 Wochen empfohlen" wins."""
    text = "Befund: Knochenmarködem im medialen Femurkondylus links.\nBeurteilung: Knochenmarködem."
    (default,) = recommend(nlp.annotate(text, language="de"), text)
    assert default.language == "de" and default.text.startswith("MRT-Verlaufskontrolle")
    own = text + " Kontrolle in 6 Wochen empfohlen."
    (rec,) = recommend(nlp.annotate(own, language="de"), own)
    assert rec.source == "report" and rec.interval == Interval(35, 56)


def test_one_default_per_modality_the_soonest() -> None:
    """Infection concern adds a lab work-up within a day; one MRI, not one per flag."""
    text = (
        "Findings: Bone marrow edema in the calcaneus with an adjacent ulcer.\n"
        "Impression: Calcaneal bone marrow edema, osteomyelitis suspected."
    )
    recs = recommend(nlp.annotate(text, "MRI ANKLE RIGHT"), text, "MRI ANKLE RIGHT")
    modalities = [r.modality for r in recs]
    assert sorted(modalities) == sorted(set(modalities))
    lab = next(r for r in recs if r.modality == "lab")
    assert lab.interval == Interval(0, 1) and lab.urgency == "urgent"


def test_escalation_adds_the_osteonecrosis_follow_up() -> None:
    """escalate=True brings the MRI in 2-4 weeks even without the flag."""
    (rec,) = recommend(nlp.annotate(KNEE, "MRI KNEE LEFT"), KNEE, "MRI KNEE LEFT", escalate=True)
    assert rec.flag == "OSTEONECROSIS_CONCERN" and rec.interval == Interval(14, 28)


def test_no_flag_no_recommendation() -> None:
    """A report without BME is not tracked, whatever it recommends."""
    text = "Findings: Normal marrow signal. Follow-up MRI in 6 weeks is recommended."
    assert recommend(nlp.annotate(text), text) == []


def test_plain_dict_round_trip() -> None:
    """to_dict is JSON-ready (for FHIR and the result) and from_dict reads it back."""
    (rec,) = recommend(nlp.annotate(KNEE, "MRI KNEE LEFT"), KNEE, "MRI KNEE LEFT")
    data = json.loads(json.dumps(rec.to_dict()))
    assert set(data) == {"modality", "region", "side", "interval_days", "due_window_days",
                         "urgency", "condition", "text", "source", "evidence", "flag",
                         "language"}  # fmt: skip
    assert data["due_window_days"] == [data["interval_days"]["min"], data["interval_days"]["max"]]
    assert Recommendation.from_dict(data) == rec


def test_every_flag_with_a_suggestion_has_a_default_or_is_untracked_on_purpose() -> None:
    """Each language's defaults cover the same flags; REACTIVE alone has none (treat the cause)."""
    for language in ("en", "de"):
        path = resources.files("nlp").joinpath("rules", language, "suggestions.json")
        flags = set(json.loads(path.read_text(encoding="utf-8"))["flags"])
        assert flags - set(load_rules(language).defaults) == {"REACTIVE"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"extra": 1}, "unknown"),
        ({"defaults": {"BME": {"modality": "PET", "interval_days": [1, 2], "urgency": "routine",
                               "condition": None, "text": "x"}}}, "modality"),
        ({"defaults": {"BME": {"modality": "MRI", "interval_days": [9, 2], "urgency": "routine",
                               "condition": None, "text": "x"}}}, "interval"),
    ],
)  # fmt: skip
def test_loader_rejects_bad_data(change: dict, message: str) -> None:
    """Unknown keys, modalities and backwards intervals are named errors."""
    path = resources.files("nlp").joinpath("rules", "en", "recommendations.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(change)
    with pytest.raises(RecommendationRuleError, match=message):
        parse_rules("en", data, "test.json")
