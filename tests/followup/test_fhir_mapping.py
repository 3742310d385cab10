"""Structured recommendations as the FHIR Bundle takes them (fhir_out reads them as they are)."""

from __future__ import annotations

import json

import pytest

import nlp
from fhir_out import BundleOptions, ReportMeta, build_bundle
from followup.recommend import recommend
from tests.conftest import FIXTURES
from tests.fhir_check import validate_bundle


def _reports() -> list[dict]:
    found = []
    for path in sorted((FIXTURES / "followup").glob("recommendations_*.jsonl")):
        found += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return found


@pytest.mark.parametrize("language", ["en", "de"])
def test_every_recommendation_of_the_corpora_becomes_a_valid_service_request(
    language: str,
) -> None:
    """Defaults and the radiologists' own, English and German: one ServiceRequest each."""
    seen = 0
    for number, report in enumerate(r for r in _reports() if r["language"] == language):
        text = report["text"]
        annotation = nlp.annotate(text, language=language)
        recs = [r.to_dict() for r in recommend(annotation, text)]
        if not recs:
            continue
        meta = ReportMeta(f"A{number}", text, patient_id="P1")
        bundle = build_bundle(annotation, meta, BundleOptions(), recommendations=recs)
        validate_bundle(bundle)
        requests = [
            e["resource"]
            for e in bundle["entry"]
            if e["resource"]["resourceType"] == "ServiceRequest"
        ]
        assert len(requests) == len(recs)
        seen += len(recs)
    assert seen >= 10
