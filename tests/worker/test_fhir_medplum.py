"""radflag's Bundles against a real open-source FHIR server: Medplum's router and validator.

The server (tests/fhir_medplum.py) stores what radflag sends through Medplum's own
transaction handling, so these tests show the Bundles are taken by an
implementation radflag's authors did not write: conditional create and update
on identifiers, urn:uuid references resolved, resending changes nothing.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fhir_out import BundleOptions, build_bundle
from fhir_out.hl7_meta import report_meta
from hl7.extract import extract_report
from tests.fhir_check import validate_bundle
from tests.fhir_medplum import MedplumFhir
from worker.fhir_delivery import FhirDeliveryError, FhirRejected, encode_bundle, post_bundle
from worker.reports import annotate_report

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hl7"
OPTIONS = BundleOptions(patient_flag=True, now=datetime(2026, 1, 5, 10, 0, tzinfo=UTC))
ACCESSIONS = "urn:radflag:id:accession"


@pytest.fixture(scope="module")
def medplum(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MedplumFhir]:
    with MedplumFhir(tmp_path_factory.mktemp("medplum") / "server.log", token="tok") as server:
        yield server


def bundle_for(name: str) -> dict[str, Any]:
    report = extract_report((FIXTURES / name).read_bytes())
    bundle = build_bundle(annotate_report(report), report_meta(report), OPTIONS)
    validate_bundle(bundle)
    return bundle


def send(medplum: MedplumFhir, bundle: dict[str, Any]) -> str:
    headers = {"Authorization": "Bearer tok"}
    return post_bundle(medplum.url, encode_bundle(bundle), timeout=10, headers=headers).detail


def test_knee_bundle_is_stored_once_however_often_it_is_sent(medplum: MedplumFhir) -> None:
    bundle = bundle_for("oru_v251_knee_sections.hl7")
    first = send(medplum, bundle)
    assert "201" in first
    value = f"{ACCESSIONS}|ACC1001"
    [report] = medplum.search("DiagnosticReport", identifier=value)
    subject = report["subject"]["reference"]
    assert subject.startswith("Patient/")
    observations = medplum.search("Observation", subject=subject)
    issues = medplum.search("DetectedIssue", patient=subject)
    assert len(observations) >= 3 and issues
    assert {r["reference"].split("/")[0] for r in report["result"]} == {"Observation"}
    second = send(medplum, bundle)
    assert "201" not in second
    assert [r["id"] for r in medplum.search("DiagnosticReport", identifier=value)] == [report["id"]]
    assert len(medplum.search("Observation", subject=subject)) == len(observations)
    assert len(medplum.search("Patient", identifier="urn:radflag:id:patient|MRN1001")) == 1
    [flag] = medplum.search("Flag", subject=subject)
    assert flag["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "PL"


def test_german_bundle_keeps_its_text(medplum: MedplumFhir) -> None:
    send(medplum, bundle_for("mdm_v24_t04_utf8_de.hl7"))
    [report] = medplum.search("DiagnosticReport", identifier=f"{ACCESSIONS}|DOC3003")
    form = report["presentedForm"][0]
    assert form["language"] == "de"
    assert "Knochenmarködem" in base64.b64decode(form["data"]).decode("utf-8")


def test_invalid_resource_is_rejected_by_medplums_validator(medplum: MedplumFhir) -> None:
    bundle = json.loads(json.dumps(bundle_for("oru_v251_knee_sections.hl7")))
    observation = next(e["resource"] for e in bundle["entry"]
                       if e["resource"]["resourceType"] == "Observation")  # fmt: skip
    del observation["code"]
    with pytest.raises(FhirRejected, match="HTTP 400") as caught:
        send(medplum, bundle)
    assert "Missing required property Observation.code" in str(caught.value)
    assert "urn:uuid" not in str(caught.value)  # references are the transaction's to resolve


def test_every_bundle_medplum_received_passes_our_check_too(medplum: MedplumFhir) -> None:
    """What Medplum took, the R4B models and binding checks take as well."""
    for name in ("oru_v251_knee_sections.hl7", "mdm_v24_t04_utf8_de.hl7"):
        send(medplum, bundle_for(name))
    received = medplum.received()
    assert len(received) >= 2  # and those of the tests above (a broken one is refused)
    for bundle in received:
        validate_bundle(bundle)


def test_wrong_token_is_retried_not_rejected(medplum: MedplumFhir) -> None:
    body = encode_bundle(bundle_for("oru_v251_knee_sections.hl7"))
    with pytest.raises(FhirDeliveryError) as caught:
        post_bundle(medplum.url, body, timeout=10, headers={"Authorization": "Bearer nope"})
    assert caught.value.status == 401
