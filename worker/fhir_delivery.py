"""FHIR output delivery: POST each report's transaction Bundle to `fhir_url`, with retries.

Strategy: the same machinery as the MLLP results, beside them. The annotate
task builds the Bundle (fhir_out, pure) and hands it to its own Celery task on
the `deliver` queue, whose state is its own row in the store
(worker/fhir_store.py). One attempt is one HTTP POST of the Bundle to the base
URL over a fresh connection (http.client: no proxies from the environment, no
redirects followed), bounded by `delivery_timeout` end to end. The answer
decides:

- 200/201 with a transaction-response Bundle whose entries are all 2xx:
  delivered;
- 400, 404, 405, 409, 410, 412, 413, 415, 422 (or a 2xx whose response
  Bundle holds a failed entry): rejected; resending the same Bundle cannot
  help, so it is dead-lettered at once (`radflag dlq`, stage `fhir`);
- anything else (refused, timeout, TLS failure, 401/403, 408, 429, 5xx):
  retried with the MLLP delivery's capped exponential backoff until
  `delivery_max_age`, then dead-lettered as exhausted.

A credentials problem (401/403) is retried rather than rejected: the operator
fixes the token and the waiting Bundles go through without a replay.
Resending is idempotent on the server's side (conditional create/update on
identifiers derived from the accession; see fhir_out.bundle), so at-least-once
delivery is safe. Logs name control ids, accessions and HTTP status codes,
never the Bundle or the server's diagnostics (which may quote it).
"""

from __future__ import annotations

import base64
import functools
import http.client
import importlib.metadata
import json
import logging
import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded

from fhir_out import BundleError, BundleOptions, build_bundle
from fhir_out.hl7_meta import report_meta
from hl7.errors import PermanentError, TransientError
from hl7.model import Report
from nlp.model import Annotation
from nlp.rules_version import ruleset_version
from worker import dlq, journal, keys, outcomes
from worker.celery_app import app, current_settings, publish
from worker.fhir_store import record_fhir_delivery
from worker.settings import Settings
from worker.store import open_store
from worker.tasks import _delay
from worker.tls import client_context

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 8 * 1024 * 1024
REJECTED_STATUSES = frozenset({400, 404, 405, 409, 410, 412, 413, 415, 422})
CONTENT_TYPE = "application/fhir+json; charset=utf-8"


class FhirDeliveryError(TransientError):
    """The FHIR server did not take the Bundle this time (down, timeout, 5xx, 401/403, 429)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class FhirRejected(PermanentError):
    """The FHIR server refused the Bundle (4xx, or a failed entry): resending cannot help."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class FhirAnswer:
    """A successful answer: the HTTP status and a summary of the entries' outcomes."""

    status: int
    detail: str


def bundle_options(settings: Settings) -> BundleOptions:
    """The Bundle options from the settings, with radflag's and the rule set's versions."""
    return BundleOptions(
        identifier_system=settings.fhir_identifier_system,
        patient_flag=settings.fhir_flag,
        radflag_version=_radflag_version(),
        ruleset_version=ruleset_version(),
    )


def encode_bundle(bundle: dict[str, Any]) -> bytes:
    """The Bundle as the UTF-8 JSON that is sent."""
    return json.dumps(bundle, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def auth_headers(settings: Settings) -> dict[str, str]:
    """Bearer token or HTTP Basic from the settings (none when neither is set)."""
    if settings.fhir_token:
        return {"Authorization": f"Bearer {settings.fhir_token}"}
    if settings.fhir_user and settings.fhir_password:
        pair = f"{settings.fhir_user}:{settings.fhir_password}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
    return {}


def post_bundle(
    url: str,
    body: bytes,
    *,
    timeout: float,
    headers: dict[str, str] | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> FhirAnswer:
    """POST one transaction Bundle to the server's base `url`; classify the answer.

    Returns FhirAnswer when every entry succeeded; raises FhirRejected or
    FhirDeliveryError (see the module docstring).
    """
    parts = urlsplit(url)
    deadline = time.monotonic() + timeout
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(
            parts.hostname or "", parts.port, timeout=timeout, context=ssl_context
        )
    else:
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    try:
        connection.request(
            "POST",
            parts.path or "/",
            body=body,
            headers={"Content-Type": CONTENT_TYPE, "Accept": "application/fhir+json",
                     **(headers or {})},
        )  # fmt: skip
        response = connection.getresponse()
        payload = _read(response, deadline)
        status = response.status
    except TimeoutError as e:
        raise FhirDeliveryError(f"no answer from the FHIR server within {timeout:g} s") from e
    except (OSError, http.client.HTTPException) as e:
        raise FhirDeliveryError(f"cannot reach the FHIR server: {type(e).__name__}: {e}") from e
    finally:
        connection.close()
    return classify(status, payload)


def classify(status: int, payload: bytes) -> FhirAnswer:
    """Turn an HTTP status and body into FhirAnswer, FhirRejected or FhirDeliveryError."""
    body = _json(payload)
    if 200 <= status < 300:
        failed = _failed_entries(body)
        if failed:
            raise FhirRejected(f"HTTP {status} with failed entries: {'; '.join(failed)}", status)
        entries = body.get("entry") if isinstance(body, dict) else None
        outcomes = [str((e.get("response") or {}).get("status", "?")) for e in entries or []]
        return FhirAnswer(status, f"HTTP {status}: " + (", ".join(outcomes) or "no entries"))
    detail = f"HTTP {status}" + (f": {_outcome_text(body)}" if _outcome_text(body) else "")
    if status in REJECTED_STATUSES:
        raise FhirRejected(detail, status)
    raise FhirDeliveryError(detail, status)


def hand_on(
    report: Report,
    annotation: Annotation,
    *,
    dedupe_key: str,
    control_id: str,
    settings: Settings,
    recommendations: Sequence[Mapping[str, Any]] | None = None,
) -> None:
    """Queue the report's Bundle for the FHIR server when `fhir_url` is set.

    `recommendations`: the structured follow-ups (docs/followups.md) for the
    ServiceRequests; None: one per flag from its suggestion.

    A report that cannot become a Bundle (no accession) is recorded as rejected
    and logged; the MLLP result goes on regardless. Raises TransientError when
    the store or the broker is unavailable (the annotate task retries).
    """
    if settings.fhir_url is None:
        return
    store = open_store(settings)
    run_started = datetime.now(UTC)
    try:
        bundle = build_bundle(
            annotation,
            report_meta(report),
            bundle_options(settings),
            recommendations=recommendations,
        )
    except BundleError as e:
        log.warning("no FHIR bundle control_id=%s: %s", control_id, e)
        record_fhir_delivery(store, dedupe_key=dedupe_key, accession=report.accession,
                             state="rejected", attempts=0, run_started=run_started,
                             detail=str(e))  # fmt: skip
        return
    record_fhir_delivery(store, dedupe_key=dedupe_key, accession=report.accession,
                         state="pending", attempts=0, run_started=run_started)  # fmt: skip
    publish(
        keys.TASK_DELIVER_FHIR,
        {
            "bundle_b64": base64.b64encode(encode_bundle(bundle)).decode("ascii"),
            "dedupe_key": dedupe_key,
            "control_id": control_id,
            "first_attempt_at": run_started.isoformat(),
        },
    )


@app.task(
    name=keys.TASK_DELIVER_FHIR, bind=True, max_retries=None,
    Request="worker.outcomes:OutcomeRequest",  # dead-letters a Bundle killed by the time limit
)  # fmt: skip
def deliver_bundle(
    self: Task, *, bundle_b64: str, dedupe_key: str, control_id: str, first_attempt_at: str
) -> None:
    """POST one Bundle; retry with backoff; dead-letter on rejection or old age."""
    settings = current_settings()
    attempt = self.request.retries + 1
    if settings.fhir_url is None:
        log.info("FHIR bundle kept, no fhir_url configured control_id=%s", control_id)
        return
    letter = {
        "stage": dlq.STAGE_FHIR, "dedupe_key": dedupe_key, "control_id": control_id,
        "message_b64": bundle_b64, "attempts": attempt, "first_attempt_at": first_attempt_at,
    }  # fmt: skip
    try:
        answer = post_bundle(
            settings.fhir_url,
            base64.b64decode(bundle_b64),
            timeout=settings.delivery_timeout,
            headers=auth_headers(settings),
            ssl_context=_tls_context(settings),
        )
    except FhirRejected as e:
        _record(dedupe_key, first_attempt_at, "rejected", attempt, str(e), e.status)
        log.warning("FHIR bundle rejected control_id=%s status=%s", control_id, e.status)
        _dead_letter(self, attempt, dlq.DeadLetter(reason="rejected", detail=str(e), **letter))
        return
    except SoftTimeLimitExceeded:
        detail = f"soft time limit of {settings.effective_soft_time_limit:g} s"
        _record(dedupe_key, first_attempt_at, "dead", attempt, detail, None)
        _dead_letter(self, attempt, dlq.DeadLetter(reason="time limit", detail=detail, **letter))
        return
    except FhirDeliveryError as e:
        age = (datetime.now(UTC) - datetime.fromisoformat(first_attempt_at)).total_seconds()
        if age >= settings.delivery_max_age:
            _record(dedupe_key, first_attempt_at, "dead", attempt, str(e), e.status)
            _dead_letter(self, attempt, dlq.DeadLetter(reason="exhausted", detail=str(e), **letter))
            return
        _record(dedupe_key, first_attempt_at, "retrying", attempt, str(e), e.status)
        log.info("FHIR delivery retry control_id=%s attempt=%d status=%s",
                 control_id, attempt, e.status)  # fmt: skip
        raise self.retry(exc=e, countdown=_delay(attempt)) from e
    _record(dedupe_key, first_attempt_at, "delivered", attempt, answer.detail, answer.status)
    log.info("FHIR bundle delivered control_id=%s attempt=%d status=%d",
             control_id, attempt, answer.status)  # fmt: skip


def fhir_journal_entry(dedupe_key: str) -> str:
    """The journal id under which a Bundle's dead letter is written.

    The Bundle has no journal entry of its own (the message's annotate entry
    waits for the MLLP result only), so settling this id is a no-op: a FHIR dead
    letter must not settle the message while its HL7 result is still on its way.
    """
    return journal.entry_id(keys.TASK_DELIVER_FHIR, dedupe_key)


def _dead_letter(task: Task, attempt: int, letter: dlq.DeadLetter) -> None:
    # The dead-letter store is in Redis: if it cannot take the entry, keep the
    # Bundle by retrying the task rather than letting it be acknowledged.
    try:
        outcomes.dead_letter(letter, fhir_journal_entry(letter.dedupe_key))
    except TransientError as e:
        raise task.retry(exc=e, countdown=_delay(attempt)) from e
    log.warning("dead-lettered FHIR bundle control_id=%s reason=%s entry=%s",
                letter.control_id, letter.reason, letter.id)  # fmt: skip


def _record(
    dedupe_key: str, run: str, state: str, attempt: int, detail: str, status: int | None
) -> None:
    # A store outage must not undo (or repeat) a delivery: the state is then only logged.
    try:
        record_fhir_delivery(
            open_store(current_settings()), dedupe_key=dedupe_key, accession=None, state=state,
            attempts=attempt, run_started=datetime.fromisoformat(run), detail=detail,
            http_status=status,
        )  # fmt: skip
    except TransientError as e:
        log.warning("FHIR delivery state not recorded state=%s: %s", state, type(e).__name__)


@functools.cache
def _tls_context(settings: Settings) -> ssl.SSLContext | None:
    # One context per process and settings: loading the CA file is not free.
    if settings.fhir_url is None or urlsplit(settings.fhir_url).scheme != "https":
        return None
    return client_context(settings.fhir_tls_ca)


@functools.cache
def _radflag_version() -> str:
    try:
        return importlib.metadata.version("radflag")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _read(response: http.client.HTTPResponse, deadline: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > deadline:
            raise TimeoutError
        chunk = response.read(65536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise http.client.HTTPException(f"answer larger than {MAX_RESPONSE_BYTES} bytes")
        chunks.append(chunk)


def _json(payload: bytes) -> Any:
    try:
        return json.loads(payload) if payload.strip() else None
    except (ValueError, UnicodeDecodeError):
        return None


def _failed_entries(body: Any) -> list[str]:
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        return []
    failed = []
    for number, entry in enumerate(body.get("entry") or []):
        status = str((entry.get("response") or {}).get("status", ""))
        if status and not status.startswith("2"):
            failed.append(f"entry {number}: {status}")
    return failed


def _outcome_text(body: Any) -> str:
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return ""
    issues = body.get("issue") or []
    texts = [
        " ".join(
            str(part) for part in (i.get("severity"), i.get("code"), i.get("diagnostics")) if part
        )
        for i in issues[:5]
        if isinstance(i, dict)
    ]
    return "; ".join(texts)[:500]
