"""FHIR delivery: post_bundle against the test FHIR endpoint (real HTTP on 127.0.0.1),
the answers' classification, the FHIR settings and the delivery state in the store."""

from __future__ import annotations

import json
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fhir_out import BundleOptions, build_bundle
from fhir_out.hl7_meta import report_meta
from hl7.extract import extract_report
from tests.fhir_server import FhirEndpoint
from tests.worker.test_listener_tls import _make_ca, _make_leaf
from worker.fhir_delivery import (
    FhirDeliveryError,
    FhirRejected,
    auth_headers,
    classify,
    encode_bundle,
    post_bundle,
)
from worker.fhir_store import fhir_delivery, record_fhir_delivery
from worker.reports import annotate_report
from worker.settings import Settings, SettingsError
from worker.store import open_store
from worker.tls import client_context

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hl7"
NOW = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
DR_SYSTEM = "urn:radflag:id:accession"


@pytest.fixture(scope="module")
def knee_bundle() -> dict[str, Any]:
    report = extract_report((FIXTURES / "oru_v251_knee_sections.hl7").read_bytes())
    options = BundleOptions(patient_flag=True, now=NOW)
    return build_bundle(annotate_report(report), report_meta(report), options)


@pytest.fixture
def endpoint() -> Any:
    with FhirEndpoint() as server:
        yield server


def test_bundle_is_stored_and_resending_changes_nothing(
    endpoint: FhirEndpoint, knee_bundle: dict[str, Any]
) -> None:
    body = encode_bundle(knee_bundle)
    first = post_bundle(endpoint.url, body, timeout=5)
    assert first.status == 200 and "201 Created" in first.detail
    stored = endpoint.count()
    assert stored == len(knee_bundle["entry"])
    [report] = endpoint.find("DiagnosticReport", DR_SYSTEM, "ACC1001")
    [patient] = endpoint.all("Patient")
    assert report["subject"]["reference"] == f"Patient/{patient['id']}"
    second = post_bundle(endpoint.url, body, timeout=5)
    assert "201" not in second.detail  # every entry matched: updated or left alone
    assert endpoint.count() == stored
    assert endpoint.find("DiagnosticReport", DR_SYSTEM, "ACC1001")[0]["id"] == report["id"]
    [flag] = endpoint.all("Flag")
    assert flag["subject"]["reference"] == f"Patient/{patient['id']}"


def test_existing_patient_is_reused_not_overwritten(
    endpoint: FhirEndpoint, knee_bundle: dict[str, Any]
) -> None:
    patient_entry = knee_bundle["entry"][0]
    seeded = json.loads(json.dumps(patient_entry))
    seeded["resource"]["name"] = [{"family": "Synthetic"}]
    seed = {"resourceType": "Bundle", "type": "transaction", "entry": [seeded]}
    post_bundle(endpoint.url, encode_bundle(seed), timeout=5)
    post_bundle(endpoint.url, encode_bundle(knee_bundle), timeout=5)
    [patient] = endpoint.all("Patient")
    assert patient["name"] == [{"family": "Synthetic"}]


def test_invalid_bundle_is_rejected_with_the_outcome(
    endpoint: FhirEndpoint, knee_bundle: dict[str, Any]
) -> None:
    broken = json.loads(json.dumps(knee_bundle))
    broken["entry"][2]["resource"]["status"] = "done"
    with pytest.raises(FhirRejected, match="HTTP 400: error invalid") as caught:
        post_bundle(endpoint.url, encode_bundle(broken), timeout=5)
    assert caught.value.status == 400
    assert endpoint.count() == 0


def test_down_or_failing_server_is_transient(
    endpoint: FhirEndpoint, knee_bundle: dict[str, Any]
) -> None:
    body = encode_bundle(knee_bundle)
    endpoint.down()
    with pytest.raises(FhirDeliveryError, match="cannot reach"):
        post_bundle(endpoint.url, body, timeout=2)
    endpoint.up()
    endpoint.fail_next(503, 429)
    for status in (503, 429):
        with pytest.raises(FhirDeliveryError) as caught:
            post_bundle(endpoint.url, body, timeout=2)
        assert caught.value.status == status
    assert post_bundle(endpoint.url, body, timeout=2).status == 200


def test_bearer_and_basic_credentials(knee_bundle: dict[str, Any]) -> None:
    body = encode_bundle(knee_bundle)
    url = "http://127.0.0.1:1/fhir"
    with FhirEndpoint(token="s3cret") as server:
        url = server.url
        with pytest.raises(FhirDeliveryError) as caught:
            post_bundle(url, body, timeout=5, headers={"Authorization": "Bearer wrong"})
        assert caught.value.status == 401
        headers = auth_headers(Settings(fhir_url=url, fhir_token="s3cret"))
        assert post_bundle(url, body, timeout=5, headers=headers).status == 200
    with FhirEndpoint(basic=("radflag", "pw")) as server:
        headers = auth_headers(Settings(fhir_url=server.url, fhir_user="radflag",
                                        fhir_password="pw"))  # fmt: skip
        assert post_bundle(server.url, body, timeout=5, headers=headers).status == 200
        with pytest.raises(FhirDeliveryError):
            post_bundle(server.url, body, timeout=5)


def test_https_checked_against_the_ca(tmp_path: Path, knee_bundle: dict[str, Any]) -> None:
    ca = _make_ca(tmp_path, "fhir-test-ca")
    other_ca = _make_ca(tmp_path, "other-ca")
    cert, key = _make_leaf(
        tmp_path, "fhir", ca, "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
    )
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    body = encode_bundle(knee_bundle)
    with FhirEndpoint(ssl_context=server_context) as server:
        assert server.url.startswith("https://")
        answer = post_bundle(server.url, body, timeout=5, ssl_context=client_context(ca[0]))
        assert answer.status == 200
        with pytest.raises(FhirDeliveryError, match="SSL"):
            post_bundle(server.url, body, timeout=5, ssl_context=client_context(other_ca[0]))


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (200, {"resourceType": "Bundle", "entry": [{"response": {"status": "201 Created"}}]}, "ok"),
        (200, {"resourceType": "Bundle", "entry": [{"response": {"status": "422"}}]}, "rejected"),
        (201, None, "ok"),
        (412, {"resourceType": "OperationOutcome", "issue": []}, "rejected"),
        (422, None, "rejected"),
        (401, None, "retry"),
        (500, b"<html>", "retry"),
        (408, None, "retry"),
    ],
)
def test_classify(status: int, body: Any, outcome: str) -> None:
    payload = body if isinstance(body, bytes) else json.dumps(body).encode() if body else b""
    if outcome == "ok":
        assert classify(status, payload).status == status
    else:
        error = FhirRejected if outcome == "rejected" else FhirDeliveryError
        with pytest.raises(error):
            classify(status, payload)


def test_fhir_settings_are_checked_and_secrets_masked() -> None:
    settings = Settings(fhir_url="https://fhir.example/r4", fhir_token="tok-123")
    assert "tok-123" not in repr(settings)
    settings = Settings(fhir_url="https://fhir.example/r4", fhir_user="u", fhir_password="pw-9")
    assert "pw-9" not in repr(settings)
    bad: list[dict[str, Any]] = [
        {"fhir_url": "ftp://x/fhir"},
        {"fhir_url": "https://x/fhir?a=1"},
        {"fhir_url": "https://x", "fhir_token": "t", "fhir_user": "u", "fhir_password": "p"},
        {"fhir_url": "https://x", "fhir_user": "u"},
        {"fhir_url": "http://fhir.example", "fhir_token": "t"},
        {"fhir_url": "http://x", "fhir_tls_ca": Path("ca.pem")},
        {"fhir_token": "t"},
        {"fhir_identifier_system": "urn:x|y"},
        {"fhir_identifier_system": "no-scheme"},
    ]
    for values in bad:
        with pytest.raises(SettingsError):
            Settings(**values)
    Settings(fhir_url="http://127.0.0.1:8080/fhir", fhir_token="t")  # loopback may be plain
    env = {"RADFLAG_FHIR_URL": "https://h/fhir", "RADFLAG_FHIR_FLAG": "true"}
    assert Settings.from_mapping(env).fhir_flag is True


def test_delivery_state_moves_forward_only(tmp_path: Path) -> None:
    store = open_store(Settings(data_dir=tmp_path))
    run = NOW

    def record(state: str, attempts: int, seconds: int, **kw: Any) -> None:
        record_fhir_delivery(store, dedupe_key="k", state=state, attempts=attempts,
                             at=NOW + timedelta(seconds=seconds), **{"accession": None,
                             "run_started": run, **kw})  # fmt: skip

    record("pending", 0, 0, accession="A1")
    record("retrying", 2, 5, detail="HTTP 503", http_status=503)
    record("retrying", 1, 6, detail="late")  # an earlier attempt, recorded late
    state = fhir_delivery(store, "k")
    assert state is not None
    assert (state["state"], state["attempts"], state["http_status"]) == ("retrying", 2, 503)
    assert state["accession"] == "A1"
    record("dead", 9, 20)
    # A replay from the dead-letter store is a new run: its attempt 1 counts.
    record("delivered", 1, 30, run_started=NOW + timedelta(seconds=25))
    state = fhir_delivery(store, "k")
    assert state is not None and (state["state"], state["attempts"]) == ("delivered", 1)
    assert state["delivered_at"] == NOW + timedelta(seconds=30)
    record("retrying", 8, 31)  # the old run, late: ignored
    state = fhir_delivery(store, "k")
    assert state is not None and state["state"] == "delivered"
    with pytest.raises(ValueError, match="unknown"):
        record("gone", 10, 40)


def test_report_without_accession_is_recorded_not_sent(tmp_path: Path) -> None:
    from dataclasses import replace

    from worker.fhir_delivery import hand_on

    report = extract_report((FIXTURES / "oru_v251_knee_sections.hl7").read_bytes())
    report = replace(report, accession="")
    settings = Settings(data_dir=tmp_path, fhir_url="http://127.0.0.1:9/fhir")
    # No broker is configured: reaching publish() would fail the test.
    hand_on(report, annotate_report(report), dedupe_key="k2", control_id="C", settings=settings)
    state = fhir_delivery(open_store(settings), "k2")
    assert state is not None and state["state"] == "rejected"
    assert "accession" in state["detail"]


def test_hard_time_limit_dead_letters_the_bundle_and_leaves_the_message_journalled(
    publishing: Settings, redis_client: Any
) -> None:
    """A Bundle killed by the hard limit is dead-lettered (stage fhir); the message's journal
    entry stays, since its HL7 result is not settled by what happens to the Bundle."""
    from unittest.mock import Mock

    from celery.contrib.testing.mocks import TaskMessage
    from kombu.utils.imports import symbol_by_name

    import worker.fhir_delivery  # noqa: F401  (registers the task)
    from worker import dlq, journal, keys
    from worker.celery_app import app
    from worker.outcomes import OutcomeRequest

    task = app.tasks[keys.TASK_DELIVER_FHIR]
    assert symbol_by_name(task.Request) is OutcomeRequest
    annotate_entry = journal.entry_id(keys.TASK_ANNOTATE, "RIS|H|C9")
    pipe = redis_client.pipeline(transaction=True)
    journal.add_to_pipeline(pipe, annotate_entry, keys.TASK_ANNOTATE, {"x": 1}, now=1.0)
    pipe.execute()
    kwargs = {"bundle_b64": "e30=", "dedupe_key": "RIS|H|C9", "control_id": "C9",
              "first_attempt_at": NOW.isoformat()}  # fmt: skip
    on_ack = Mock()
    request = OutcomeRequest(TaskMessage(keys.TASK_DELIVER_FHIR, kwargs=kwargs), app=app,
                             task=task, on_ack=on_ack)  # fmt: skip
    request.on_timeout(False, 8.0)
    [letter] = dlq.entries(redis_client)
    assert (letter.stage, letter.reason, letter.message_b64) == ("fhir", "time limit", "e30=")
    assert journal.size(redis_client) == 1  # the annotate entry is still there
    on_ack.assert_called_once()
