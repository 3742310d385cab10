"""fhir_out.build_bundle: the Bundle for real reports (HL7 fixtures, annotated by nlp)."""

from __future__ import annotations

import base64
import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fhir_out import BundleError, BundleOptions, RecommendationError, ReportMeta, build_bundle
from fhir_out.codes import EXT_DERIVATION_REFERENCE, RADFLAG, SNOMED
from fhir_out.hl7_meta import report_meta
from hl7.extract import extract_report
from nlp import annotate
from tests.fhir_check import BundleInvalid, validate_bundle
from worker.reports import annotate_report

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hl7"
NOW = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
OPTIONS = BundleOptions(radflag_version="9.9", ruleset_version="abc", now=NOW)


def bundle_for(name: str, **kwargs: Any) -> tuple[dict[str, Any], str]:
    report = extract_report((FIXTURES / name).read_bytes())
    annotation = annotate_report(report)
    options = kwargs.pop("options", OPTIONS)
    bundle = build_bundle(annotation, report_meta(report), options, **kwargs)
    validate_bundle(bundle)
    return bundle, report.text


def resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def evidence(resource: dict[str, Any], text: str) -> list[str]:
    out = []
    for ext in resource.get("extension", []):
        if ext["url"] == EXT_DERIVATION_REFERENCE:
            parts = {e["url"]: e for e in ext["extension"]}
            start = parts["offset"]["valueInteger"]
            out.append(text[start : start + parts["length"]["valueInteger"]])
    return out


def codes_of(concept: dict[str, Any], system: str) -> list[str]:
    return [c["code"] for c in concept.get("coding", []) if c["system"] == system]


def test_knee_report_maps_to_a_valid_transaction() -> None:
    bundle, text = bundle_for("oru_v251_knee_sections.hl7")
    [report] = resources(bundle, "DiagnosticReport")
    assert report["identifier"][0]["value"] == "ACC1001"
    assert report["identifier"][0]["type"]["coding"][0]["code"] == "ACSN"
    assert report["status"] == "preliminary"  # OBR-25 P
    assert report["effectiveDateTime"].startswith("2026-01-05T09:00:00")
    form = report["presentedForm"][0]
    assert base64.b64decode(form["data"]).decode() == text
    assert form["language"] == "en"
    [patient] = resources(bundle, "Patient")
    assert patient["identifier"][0]["value"] == "MRN1001"

    observations = resources(bundle, "Observation")
    bme = next(o for o in observations if "hasMember" in o)
    assert codes_of(bme["valueCodeableConcept"], SNOMED) == ["52101004"]  # present
    assert bme["status"] == "preliminary"
    etiologies = [codes_of(c["valueCodeableConcept"], RADFLAG)[0] for c in bme["component"]]
    assert "etiology:trauma" in etiologies
    mentions = evidence(bme, text)
    assert any("bone marrow edema" in m for m in mentions)

    sites = [o for o in observations if "bodySite" in o]
    assert len(sites) == len(bme["hasMember"]) >= 2
    for site in sites:
        [lat] = site["component"]
        assert codes_of(lat["valueCodeableConcept"], SNOMED) == ["24028007"]  # right
        assert site["bodySite"]["text"].startswith("right ")
        assert evidence(site, text)
    bones = {codes_of(s["bodySite"], RADFLAG)[0] for s in sites}
    assert "bone:lateral_femoral_condyle" in bones

    issues = resources(bundle, "DetectedIssue")
    assert {codes_of(i["code"], RADFLAG)[0] for i in issues} >= {"flag:BME", "flag:TRAUMA_OVERLOAD"}
    assert all(i["severity"] == "low" for i in issues)  # routine flags
    assert all(evidence(i, text) for i in issues)

    requests = resources(bundle, "ServiceRequest")
    assert len(requests) == len(issues)
    assert all(r["intent"] == "proposal" and r["code"]["text"] for r in requests)
    assert not resources(bundle, "Flag")  # the banner is off by default

    [provenance] = resources(bundle, "Provenance")
    assert provenance["recorded"] == "2026-01-05T10:00:00+00:00"
    assert "9.9" in provenance["agent"][0]["who"]["display"]
    targets = {t["reference"] for t in provenance["target"]}
    owned = {"Patient", "Provenance"}
    assert {
        e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] not in owned
    } == targets
    [device] = resources(bundle, "Device")
    assert [v["value"] for v in device["version"]] == ["9.9", "abc"]


def test_every_entry_is_conditional_on_an_identifier() -> None:
    bundle, _ = bundle_for("oru_v251_knee_sections.hl7")
    for entry in bundle["entry"]:
        request, kind = entry["request"], entry["resource"]["resourceType"]
        if kind == "Patient":
            assert request["method"] == "POST" and request["ifNoneExist"].startswith("identifier=")
        elif kind == "Provenance":
            assert request == {"method": "PUT", "url": f"Provenance/{entry['resource']['id']}"}
        else:
            assert request["method"] == "PUT"
            assert request["url"].startswith(f"{kind}?identifier=")


def test_same_report_gives_the_same_bundle() -> None:
    first, _ = bundle_for("oru_v251_knee_sections.hl7")
    second, _ = bundle_for("oru_v251_knee_sections.hl7")
    assert first == second


def test_german_report_carries_its_text_and_the_same_codes() -> None:
    bundle, text = bundle_for("mdm_v24_t04_utf8_de.hl7")
    [report] = resources(bundle, "DiagnosticReport")
    form = report["presentedForm"][0]
    assert form["language"] == "de"
    assert "Knochenmarködem" in base64.b64decode(form["data"]).decode("utf-8")
    assert report["identifier"][0]["value"] == "DOC3003"
    bme = next(o for o in resources(bundle, "Observation") if "hasMember" in o)
    assert codes_of(bme["code"], RADFLAG) == ["finding:bme"]
    assert codes_of(bme["valueCodeableConcept"], SNOMED) == ["52101004"]
    assert any("Knochenmarködem" in m or "KMÖ" in m for m in evidence(bme, text))
    sites = [o for o in resources(bundle, "Observation") if "bodySite" in o]
    assert "bone:femoral_head" in {codes_of(s["bodySite"], RADFLAG)[0] for s in sites}
    assert {codes_of(s["component"][0]["valueCodeableConcept"], SNOMED)[0] for s in sites} == {
        "7771000"
    }
    issues = resources(bundle, "DetectedIssue")
    assert "flag:TRANSIENT_BME" in {codes_of(i["code"], RADFLAG)[0] for i in issues}
    # German suggestions stay German, in the ServiceRequests too.
    requests = resources(bundle, "ServiceRequest")
    assert {r["code"]["text"] for r in requests} == {i["detail"] for i in issues}


def test_absent_report_is_written_with_its_negated_mention() -> None:
    text = "FINDINGS: No bone marrow edema. Menisci intact."
    annotation = annotate(text, language="en")
    meta = ReportMeta(accession="A9", text=text, patient_id="P9", status="final")
    bundle = build_bundle(annotation, meta, OPTIONS)
    validate_bundle(bundle)
    [bme] = resources(bundle, "Observation")
    assert codes_of(bme["valueCodeableConcept"], SNOMED) == ["2667000"]
    assert evidence(bme, text) == ["bone marrow edema"]
    assert not resources(bundle, "DetectedIssue")
    assert not resources(bundle, "ServiceRequest")


def test_patient_banner_flag_carries_the_top_priority() -> None:
    options = BundleOptions(patient_flag=True, now=NOW)
    text = "IMPRESSION: Bone marrow edema of the left talus, concerning for osteomyelitis."
    annotation = annotate(text, language="en")
    assert annotation.top_priority == "urgent"
    bundle = build_bundle(annotation, ReportMeta("A1", text, patient_id="P1"), options)
    validate_bundle(bundle)
    [flag] = resources(bundle, "Flag")
    priority = flag["extension"][0]
    assert priority["valueCodeableConcept"]["coding"][0]["code"] == "PH"
    assert flag["subject"]["reference"] == bundle["entry"][0]["fullUrl"]
    assert "asap" in {r["priority"] for r in resources(bundle, "ServiceRequest")}


def test_recommendations_become_service_requests_with_a_due_window() -> None:
    text = (
        "IMPRESSION: Bone marrow edema of the right medial femoral condyle. "
        "Follow-up MRI in 6 weeks."
    )
    annotation = annotate(text, language="en")
    meta = ReportMeta("A2", text, patient_id="P2", effective=datetime(2026, 3, 1, tzinfo=UTC))
    start = text.index("Follow-up")
    recs = [
        {"text": "MRI right knee in 6 weeks", "modality": "MRI", "region": "knee", "side": "right",
         "due_window_days": [35, 49], "urgency": "routine", "source": "report",
         "evidence": [{"start": start, "end": len(text)}]},
    ]  # fmt: skip
    bundle = build_bundle(annotation, meta, OPTIONS, recommendations=recs)
    validate_bundle(bundle)
    [request] = resources(bundle, "ServiceRequest")
    assert request["occurrencePeriod"] == {"start": "2026-04-05", "end": "2026-04-19"}
    assert request["bodySite"] == [{"text": "right knee"}]
    assert evidence(request, text) == ["Follow-up MRI in 6 weeks."]
    assert "recommended in the report" in request["note"][0]["text"]


@pytest.mark.parametrize(
    ("rec", "message"),
    [
        ({"modality": "MRI"}, "text"),
        ({"text": "x", "due_window_days": [10, 5]}, "due window"),
        ({"text": "x", "urgency": "soon"}, "urgency"),
        ({"text": "x", "evidence": [[0, 9999]]}, "evidence"),
        ({"text": "x", "side": "up"}, "side"),
    ],
)
def test_bad_recommendations_are_named(rec: dict[str, Any], message: str) -> None:
    annotation = annotate("Bone marrow edema in the patella.", language="en")
    with pytest.raises(RecommendationError, match=message):
        build_bundle(
            annotation, ReportMeta("A3", "t", patient_id="P"), OPTIONS, recommendations=[rec]
        )


def test_without_patient_no_subject_and_no_requests() -> None:
    text = "Bone marrow edema in the left patella."
    bundle = build_bundle(annotate(text, language="en"), ReportMeta("A4", text), OPTIONS)
    validate_bundle(bundle)
    assert not resources(bundle, "Patient") and not resources(bundle, "ServiceRequest")
    assert all("subject" not in r for r in resources(bundle, "Observation"))


def test_bad_report_metadata_is_refused() -> None:
    annotation = annotate("Bone marrow edema.", language="en")
    with pytest.raises(BundleError, match="accession"):
        build_bundle(annotation, ReportMeta(" ", "Bone marrow edema."), OPTIONS)
    with pytest.raises(BundleError, match="status"):
        build_bundle(annotation, ReportMeta("A", "x", status="done"), OPTIONS)


def test_the_check_catches_broken_bundles() -> None:
    bundle, _ = bundle_for("oru_v251_knee_sections.hl7")
    broken = copy.deepcopy(bundle)
    broken["entry"][2]["resource"]["status"] = "finished"
    with pytest.raises(BundleInvalid, match="required value set"):
        validate_bundle(broken)
    dangling = copy.deepcopy(bundle)
    dangling["entry"] = [e for e in dangling["entry"] if e["resource"]["resourceType"] != "Device"]
    with pytest.raises(BundleInvalid, match="resolves to no entry"):
        validate_bundle(dangling)
    missing = copy.deepcopy(bundle)
    del missing["entry"][-1]["resource"]["recorded"]
    with pytest.raises(BundleInvalid, match="recorded"):
        validate_bundle(missing)


@pytest.mark.parametrize(
    ("status", "observation", "request_status", "flag"),
    [
        ("final", "final", "active", "active"),
        ("preliminary", "preliminary", "draft", "active"),
        ("partial", "preliminary", "draft", "active"),
        ("corrected", "corrected", "active", "active"),
        ("cancelled", "cancelled", "revoked", "inactive"),
        ("entered-in-error", "entered-in-error", "entered-in-error", "entered-in-error"),
    ],
)
def test_report_status_carries_over(
    status: str, observation: str, request_status: str, flag: str
) -> None:
    text = "IMPRESSION: Bone marrow edema of the left talus."
    meta = ReportMeta("A5", text, patient_id="P5", status=status)
    bundle = build_bundle(annotate(text, language="en"), meta, BundleOptions(patient_flag=True))
    validate_bundle(bundle)
    assert resources(bundle, "DiagnosticReport")[0]["status"] == status
    assert {o["status"] for o in resources(bundle, "Observation")} == {observation}
    assert {i["status"] for i in resources(bundle, "DetectedIssue")} == {observation}
    assert {r["status"] for r in resources(bundle, "ServiceRequest")} == {request_status}
    assert resources(bundle, "Flag")[0]["status"] == flag
