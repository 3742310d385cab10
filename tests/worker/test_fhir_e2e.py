"""End to end, FHIR: HL7 in over MLLP -> listener -> Celery workers -> Bundle at a FHIR endpoint.

Real redis-server, real `radflag listen` / `radflag worker` subprocesses, the
test FHIR endpoint (tests/fhir_server.py, which validates every Bundle against
the R4B models) on 127.0.0.1. The endpoint starts down: the Bundle must be
retried until it comes up, then arrive once, whatever the MLLP result does.
"""

from __future__ import annotations

import base64
import contextlib
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fhir_out.codes import RADFLAG, SNOMED
from tests.fhir_check import validate_bundle
from tests.fhir_medplum import MedplumFhir
from tests.fhir_server import FhirEndpoint
from tests.servers import (
    ROOT,
    MllpDestination,
    RadflagProcess,
    RedisServer,
    mllp_exchange,
    service_env,
    start_listener,
    start_redis,
    start_worker,
    wait_until,
)
from worker.fhir_store import fhir_delivery
from worker.settings import Settings
from worker.store import open_store

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hl7"
ACCESSIONS = "urn:radflag:id:accession"


@dataclass
class FhirService:
    redis_server: RedisServer
    endpoint: FhirEndpoint
    listener: RadflagProcess
    port: int
    workers: list[RadflagProcess]
    env: dict[str, str]
    data_dir: Path

    def state(self, dedupe_key: str) -> dict[str, Any] | None:
        return fhir_delivery(open_store(Settings(data_dir=self.data_dir)), dedupe_key)


@contextlib.contextmanager
def _service(
    tmp_path: Path, destination: MllpDestination, fhir_url: str, endpoint: FhirEndpoint
) -> Iterator[FhirService]:
    server = start_redis(tmp_path / "redis")
    data_dir = tmp_path / "data"
    env = service_env(
        data_dir, server.url, destination=destination.address, fhir_url=fhir_url,
        fhir_flag="true",
    )  # fmt: skip
    processes: list[RadflagProcess] = []
    try:
        listener, port = start_listener(env, tmp_path)
        processes.append(listener)
        processes.append(start_worker(env, tmp_path, queues="annotate,store", concurrency=1))
        processes.append(start_worker(env, tmp_path, queues="deliver", concurrency=1))
        yield FhirService(server, endpoint, listener, port, processes[1:], env, data_dir)
    finally:
        for proc in processes:
            proc.stop()
        server.stop()


@pytest.fixture
def fhir_service(tmp_path: Path, destination: MllpDestination) -> Iterator[FhirService]:
    endpoint = FhirEndpoint().start()
    endpoint.down()  # the port is known, connections are refused
    try:
        with _service(tmp_path, destination, endpoint.url, endpoint) as service:
            yield service
    finally:
        endpoint.down()


def _send(service: FhirService, name: str) -> bytes:
    raw = (FIXTURES / name).read_bytes()
    [ack] = mllp_exchange(service.port, [raw])
    assert b"MSA|AA|" in ack or b"MSA|CA|" in ack
    return raw


def _report(endpoint: FhirEndpoint, accession: str) -> dict[str, Any] | None:
    found = endpoint.find("DiagnosticReport", ACCESSIONS, accession)
    return found[0] if found else None


def test_bundle_arrives_after_the_endpoint_comes_up(
    fhir_service: FhirService, destination: MllpDestination
) -> None:
    service, endpoint = fhir_service, fhir_service.endpoint
    _send(service, "oru_v251_knee_sections.hl7")
    key = "RIS|GENHOSP|KNEE0001"
    # The MLLP result does not wait for FHIR; the Bundle is retried while the server is down.
    destination.wait_for(1, timeout=60)
    state = wait_until(
        lambda: (s := service.state(key)) and s["state"] == "retrying" and s["attempts"] >= 2 and s,
        timeout=60, what="two failed FHIR attempts",
    )  # fmt: skip
    assert "cannot reach" in state["detail"]
    assert endpoint.count() == 0
    endpoint.up()
    report = wait_until(lambda: _report(endpoint, "ACC1001"), timeout=60, what="the report")
    wait_until(lambda: (s := service.state(key)) and s["state"] == "delivered", timeout=30,
               what="delivered state")  # fmt: skip
    assert len(endpoint.bundles) == 1
    validate_bundle(endpoint.bundles[0])
    text = base64.b64decode(report["presentedForm"][0]["data"]).decode()
    assert "bone marrow edema" in text
    observations = endpoint.all("Observation")
    bme = next(o for o in observations if "hasMember" in o)
    assert bme["subject"] == report["subject"]
    assert {m["reference"].split("/")[0] for m in bme["hasMember"]} == {"Observation"}
    [flag] = endpoint.all("Flag")
    assert flag["subject"] == report["subject"]
    assert endpoint.all("ServiceRequest") and endpoint.all("Provenance")
    log = "".join(w.log() for w in service.workers)
    assert "Jordan" not in log and "MRN1001" not in log  # no patient identifiers in logs


def test_german_report_and_a_resend(fhir_service: FhirService) -> None:
    service, endpoint = fhir_service, fhir_service.endpoint
    endpoint.up()
    raw = _send(service, "mdm_v24_t04_utf8_de.hl7")
    report = wait_until(lambda: _report(endpoint, "DOC3003"), timeout=60, what="the report")
    form = report["presentedForm"][0]
    assert form["language"] == "de"
    assert "Knochenmarködem" in base64.b64decode(form["data"]).decode("utf-8")
    bme = next(o for o in endpoint.all("Observation") if "hasMember" in o)
    assert [c["code"] for c in bme["code"]["coding"] if c["system"] == RADFLAG] == ["finding:bme"]
    assert [c["code"] for c in bme["valueCodeableConcept"]["coding"]
            if c["system"] == SNOMED] == ["52101004"]  # fmt: skip
    stored = endpoint.count()
    # The same report again under a new control id (a resend by the sender): same resources.
    _send_raw(service, raw.replace(b"|DE0001|", b"|DE0002|"))
    wait_until(lambda: len(endpoint.bundles) == 2, timeout=60, what="the second bundle")
    assert endpoint.count() == stored
    assert _report(endpoint, "DOC3003") == {**report, "meta": {"versionId": "2"}}


def test_rejected_bundle_is_dead_lettered_and_replayed(fhir_service: FhirService) -> None:
    service, endpoint = fhir_service, fhir_service.endpoint
    endpoint.up()
    endpoint.fail_next(422)
    _send(service, "oru_v251_knee_sections.hl7")
    key = "RIS|GENHOSP|KNEE0001"
    wait_until(lambda: (s := service.state(key)) and s["state"] == "rejected", timeout=60,
               what="rejected state")  # fmt: skip
    listing = _radflag(service, "dlq", "list")
    assert " fhir " in listing and "rejected" in listing
    _radflag(service, "dlq", "replay", "--all")
    wait_until(lambda: _report(endpoint, "ACC1001"), timeout=60, what="the replayed report")
    wait_until(lambda: (s := service.state(key)) and s["state"] == "delivered", timeout=30,
               what="delivered after replay")  # fmt: skip


def test_bundle_reaches_medplum_after_it_comes_up(
    tmp_path: Path, destination: MllpDestination
) -> None:
    """The same path to a real open-source FHIR server (Medplum's router and validator)."""
    medplum = MedplumFhir(tmp_path / "medplum.log")  # not started: refused
    with _service(tmp_path, destination, medplum.url, FhirEndpoint()) as service:
        _send(service, "oru_v251_knee_sections.hl7")
        key = "RIS|GENHOSP|KNEE0001"
        wait_until(
            lambda: (s := service.state(key)) and s["state"] == "retrying" and s["attempts"] >= 2,
            timeout=60, what="two failed FHIR attempts",
        )  # fmt: skip
        with medplum:
            [report] = medplum.wait_for(
                "DiagnosticReport", identifier=f"{ACCESSIONS}|ACC1001", timeout=60
            )
            wait_until(lambda: (s := service.state(key)) and s["state"] == "delivered",
                       timeout=30, what="delivered state")  # fmt: skip
            subject = report["subject"]["reference"]
            assert medplum.search("Observation", subject=subject)
            assert medplum.search("Flag", subject=subject)
            assert medplum.search("ServiceRequest", subject=subject)
            [bundle] = medplum.received()
            validate_bundle(bundle)  # our check too, beside Medplum's


def _send_raw(service: FhirService, raw: bytes) -> None:
    [ack] = mllp_exchange(service.port, [raw])
    assert b"MSA|CA|" in ack or b"MSA|AA|" in ack


def _radflag(service: FhirService, *args: str) -> str:
    code = "import sys; from worker.cli import main; sys.exit(main(prog_name='radflag'))"
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=service.env, cwd=ROOT,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout
