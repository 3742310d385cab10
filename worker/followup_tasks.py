"""Follow-up tasks: track reports, store orders and appointments, check due dates.

Strategy: thin, like worker/tasks.py. The annotate task calls `plan_tracking_many`
for its reports (recommendations, completion of earlier ones, the course of
the edema) and puts what it returns into the result. Orders and appointments
arrive through the listener as `radflag.followup_event` on the `store` queue.
The beat (`radflag beat`) sends `radflag.followup_check_due`, which reads the
service's clock (`worker.followup_clock`), moves what is past its window to
overdue, and hands each notification to the ordinary delivery task (retries,
dead letters) with the follow-up destination. Only TransientError is retried.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis
from celery import Task

import nlp
from followup.course import SiteFindings, course_since, site_findings
from followup.events import clinical_event, patient_label
from followup.model import ClinicalEvent
from followup.recommend import finding_site, recommend
from followup.regions import region_of, side_of
from hl7.errors import InboundMessageError, TransientError
from hl7.followup_obx import Row, course_rows, recommendation_rows
from hl7.model import Report
from hl7.notification import build_overdue_notification, standard_order_segments, standard_sender
from hl7.orders import ScheduleMessage, read_event, read_report_event
from worker import dlq, journal, keys
from worker.celery_app import app, current_settings, publish
from worker.followup_clock import clock_for
from worker.followup_models import FollowupRow
from worker.followup_store import ExamRecord, NewFollowup, PriorRequest, open_followups
from worker.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrackedReport:
    """What tracking a report gives the annotate task."""

    rows: list[Row]  # OBX rows for the result, after the spec's
    recommendations: list[dict[str, Any]]  # Recommendation.to_dict() each (for FHIR)
    # What `record_tracked` writes (None: tracking failed, nothing to write).
    exam: ExamRecord | None = None
    new: tuple[NewFollowup, ...] = ()
    now: datetime | None = None
    control_id: str = ""
    # An archived report's recommendations whose window had ended by the service's
    # clock: in `rows` and `recommendations`, not in `new` (see `plan_tracking_many`).
    untracked: int = 0


def record_tracked(settings: Settings, tracked: TrackedReport) -> None:
    """Write what `plan_tracking` planned: the exam on the timeline, completions, new follow-ups.

    Called inside the annotate task's unit of work (worker.store_unit), so the
    follow-ups commit with the annotation. Raises TransientError.
    """
    if tracked.exam is None or tracked.now is None:
        return
    completed = open_followups(settings).record_report(
        tracked.exam, list(tracked.new), now=tracked.now
    )
    log.info(
        "follow-ups control_id=%s new=%d completed=%d course=%s",
        tracked.control_id,
        len(tracked.new),
        len(completed),
        tracked.exam.course.course if tracked.exam.course else "-",
    )


def track_report(
    settings: Settings,
    raw: bytes,
    report: Report,
    annotation: nlp.Annotation,
    dedupe_key: str,
    received_at: datetime,
) -> TrackedReport:
    """Plan and record a report's follow-ups in a transaction of their own (`plan_tracking`)."""
    tracked = plan_tracking(settings, raw, report, annotation, dedupe_key, received_at)
    record_tracked(settings, tracked)
    return tracked


def plan_tracking(
    settings: Settings,
    raw: bytes,
    report: Report,
    annotation: nlp.Annotation,
    dedupe_key: str,
    received_at: datetime,
) -> TrackedReport:
    """Plan a report's follow-ups: the OBX rows and recommendations its outputs carry.

    Reads the store (earlier findings) but writes nothing: `record_tracked` does,
    inside the message's unit of work. Raises TransientError (the store is down:
    the annotate task retries). Any other failure is logged by type and the
    outputs go without them.
    """
    return plan_tracking_many(settings, [(raw, report, annotation, dedupe_key, received_at)])[0]


# What planning a report starts from: (raw, report, annotation, dedupe_key, received_at).
PlanInput = tuple[bytes, Report, nlp.Annotation, str, datetime]


def plan_tracking_many(
    settings: Settings, inputs: list[PlanInput], *, archived: bool = False
) -> list[TrackedReport]:
    """`plan_tracking` for reports of different patients, their earlier findings read at once.

    `archived`: the reports come from an archive (`radflag backfill`), not as
    they are written. A recommendation whose window has ended by the service's
    clock is then not tracked: it would be overdue at once, and the beat would
    notify each one of an archive's thousands. It stays in the result and the
    stored recommendations, and the report still completes earlier follow-ups
    and has its course. A recommendation still in its window is tracked as a
    live report's is.

    A failure other than TransientError costs only its own report its follow-ups.
    """
    sites: list[_Site | None] = []
    for raw, report, annotation, _, received_at in inputs:
        try:
            sites.append(_site_of(raw, report, annotation, received_at))
        except Exception as e:
            _failed(report, e)
            sites.append(None)
    requests = [
        PriorRequest(site.event.patient_keys, site.region, site.side, site.event.at, key)
        for site, (_, _, _, key, _) in zip(sites, inputs, strict=True)
        if site is not None
    ]
    try:
        priors = iter(open_followups(settings).prior_findings_many(requests))
    except Exception as e:
        for (_, report, *_), site in zip(inputs, sites, strict=True):
            if site is not None:
                _failed(report, e)
        return [TrackedReport([], []) for _ in inputs]
    planned: list[TrackedReport] = []
    for site, (_, report, annotation, dedupe_key, received_at) in zip(sites, inputs, strict=True):
        if site is None:
            planned.append(TrackedReport([], []))
            continue
        prior = next(priors)
        try:
            now = clock_for(settings)()
            tracked = _track_report(
                site, prior, report, annotation, dedupe_key, received_at, now, archived
            )
        except Exception as e:
            _failed(report, e)
            tracked = TrackedReport([], [])
        planned.append(tracked)
    return planned


def _failed(report: Report, error: Exception) -> None:
    if isinstance(error, TransientError):
        raise error
    log.error(
        "follow-up tracking failed control_id=%s: %s", report.control_id, type(error).__name__
    )


@dataclass(frozen=True)
class _Site:
    """A report's exam, the site it is about, and what it says there (before the store is read)."""

    message: ScheduleMessage
    event: ClinicalEvent
    region: str | None
    side: str | None
    findings: SiteFindings


def _site_of(
    raw: bytes, report: Report, annotation: nlp.Annotation, received_at: datetime
) -> _Site:
    message = read_report_event(raw, received_at, report.header)
    found_region, found_side = finding_site(annotation, report.procedure)
    region = region_of(report.procedure) or found_region
    side = side_of(report.procedure) or found_side
    event = clinical_event(message, region=region, side=side)
    return _Site(message, event, region, side, site_findings(annotation, report.text, region, side))


def _track_report(
    site: _Site,
    prior: SiteFindings | None,
    report: Report,
    annotation: nlp.Annotation,
    dedupe_key: str,
    received_at: datetime,
    now: datetime,
    archived: bool,
) -> TrackedReport:
    message, event, findings = site.message, site.event, site.findings
    course = course_since(prior, findings, annotation, report.text)
    recommendations = recommend(
        annotation,
        report.text,
        report.procedure,
        escalate=bool(course and course.escalate_osteonecrosis),
    )
    application, facility = standard_sender(report)
    new = [
        NewFollowup(
            recommendation=rec, position=position, dedupe_key=dedupe_key,
            control_id=report.control_id, accession=report.accession,
            procedure=report.procedure, patient=patient_label(message),
            patient_keys=event.patient_keys, sending_application=application,
            sending_facility=facility, order_segments=standard_order_segments(report),
            report_at=message.at,
        )
        for position, rec in enumerate(recommendations)
        if event.patient_keys  # without PID-3 nothing could ever match it
    ]  # fmt: skip
    untracked = 0
    if archived:  # only what is still in its window, as the beat's clock sees it
        current = [n for n in new if n.window[1] >= now]  # the clock's time is in UTC
        untracked, new = len(new) - len(current), current
    exam = ExamRecord(dedupe_key, event, received_at, findings, course)
    dicts = [r.to_dict() for r in recommendations]
    rows = recommendation_rows(dicts, report.text, message.at)
    if course is not None:
        rows += course_rows(
            {
                "course": course.course,
                "escalate_osteonecrosis": course.escalate_osteonecrosis,
                "reason": course.reason,
            }
        )
    return TrackedReport(rows, dicts, exam, tuple(new), now, report.control_id, untracked)


@app.task(
    name=keys.TASK_FOLLOWUP_EVENT,
    bind=True,
    max_retries=None,
    Request="worker.outcomes:OutcomeRequest",
)
def followup_event(
    self: Task, *, raw_b64: str, control_id: str, dedupe_key: str, received_at: str, ack_code: str
) -> None:
    """Store an order or appointment and apply it to the follow-ups it matches.

    Its intake journal entry is settled once that is stored (or the message is
    dead-lettered, stage `followup`, which `radflag dlq replay` sends back here).
    """
    from worker import outcomes
    from worker.tasks import _record_inbound, _store_retry

    raw = base64.b64decode(raw_b64)
    settings = current_settings()
    entry = journal.entry_id(keys.TASK_FOLLOWUP_EVENT, dedupe_key)
    outcomes.touch(entry)
    try:
        _record_inbound(raw, dedupe_key, ack_code, None, received_at)
        try:
            message = read_event(raw)
        except InboundMessageError as e:
            log.warning(
                "unprocessable after ACK control_id=%s code=%s", control_id, e.hl7_error_code
            )
            detail = f"{e.hl7_error_code}: {e.text}"
            outcomes.dead_letter(
                _letter("unprocessable", detail, raw_b64, control_id, dedupe_key), entry
            )
            return
        exam = ExamRecord(dedupe_key, clinical_event(message), datetime.fromisoformat(received_at))
        changed = open_followups(settings).record_event(exam, now=clock_for(settings)())
        outcomes.settle(entry)
        log.info(
            "%s %s control_id=%s follow-ups changed=%d",
            message.kind,
            message.action,
            control_id,
            len(changed),
        )
    except TransientError as e:
        log.warning("follow-up event retry control_id=%s: %s", control_id, type(e).__name__)
        raise _store_retry(self, e) from e
    except Exception as e:  # a bug must not lose an acknowledged message: keep it in the DLQ
        log.error("follow-up event failed control_id=%s: %s", control_id, type(e).__name__)
        letter = _letter("failed", type(e).__name__, raw_b64, control_id, dedupe_key)
        try:
            outcomes.dead_letter(letter, entry)
        except TransientError as retry:
            raise _store_retry(self, retry) from retry


def _letter(
    reason: str, detail: str, raw_b64: str, control_id: str, dedupe_key: str
) -> dlq.DeadLetter:
    return dlq.DeadLetter(
        stage=dlq.STAGE_FOLLOWUP,
        reason=reason,
        detail=detail,
        dedupe_key=dedupe_key,
        control_id=control_id,
        message_b64=raw_b64,
    )


def _note_check(now: datetime) -> None:
    """Keep the clock time of the last finished check (status, tests); never fails the check."""
    try:
        keys.redis_client(app.conf.broker_url).set(keys.FOLLOWUP_LAST_CHECK_KEY, now.isoformat())
    except redis.RedisError as e:
        log.warning("last due check not noted: %s", type(e).__name__)


@app.task(name=keys.TASK_FOLLOWUP_CHECK, bind=True, max_retries=3)
def followup_check_due(self: Task) -> None:
    """Move follow-ups past their window to overdue and send one notification per change."""
    settings = current_settings()
    try:
        now = clock_for(settings)()
        store = open_followups(settings)
        builder = None
        if settings.followup_destination is not None:

            def builder(row: FollowupRow, control_id: str) -> bytes:
                return build_overdue_notification(
                    order_segments=tuple(row.order_segments),
                    receiving_application=row.sending_application,
                    receiving_facility=row.sending_facility,
                    original_control_id=row.control_id,
                    followup_id=row.public_id,
                    recommendation=row.recommendation,
                    report_at=row.report_at,
                    control_id=control_id,
                    timestamp=now,
                )

        store.check_due(now, builder)
        for pending in store.pending_notifications():
            publish(
                keys.TASK_DELIVER,
                {
                    "result_b64": base64.b64encode(pending.message).decode("ascii"),
                    "result_control_id": pending.control_id,
                    "dedupe_key": f"followup|{pending.followup_public_id}",
                    "control_id": pending.control_id,
                    "first_attempt_at": datetime.now(UTC).isoformat(),
                    "destination": settings.followup_destination,
                },
            )
            store.mark_published(pending.control_id, now)
            log.info("overdue notification queued control_id=%s", pending.control_id)
        _note_check(now)
    except TransientError as e:
        # The next beat tick checks again; retry a few times meanwhile.
        log.warning("follow-up due check retry: %s", type(e).__name__)
        raise self.retry(exc=e, countdown=5) from e
