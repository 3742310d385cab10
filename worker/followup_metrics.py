"""Follow-up metrics for /metrics, read from the store at scrape time like the others."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy.exc import SQLAlchemyError

from followup.model import OPEN, OVERDUE, STATUSES
from hl7.errors import TransientError
from worker.followup_store import FollowupStore
from worker.store import Store

log = logging.getLogger(__name__)


def followup_metrics(store: Store | None) -> Iterator[Metric]:
    """radflag_followups_open, _overdue, _by_status and _adherence (nothing without a store)."""
    if store is None:
        return
    try:
        counts = FollowupStore(store.engine).counts()
    except (TransientError, SQLAlchemyError) as e:
        log.warning("follow-up metrics unavailable: %s", type(e).__name__)
        return
    for name, doc, status in (
        ("radflag_followups_open", "Follow-ups open (recommended, nothing booked)", OPEN),
        ("radflag_followups_overdue", "Follow-ups past their window with nothing done", OVERDUE),
    ):
        gauge = GaugeMetricFamily(name, doc)
        gauge.add_metric([], float(counts.by_status.get(status, 0)))
        yield gauge
    by_status = GaugeMetricFamily("radflag_followups", "Follow-ups by status", labels=["status"])
    for status in STATUSES:
        by_status.add_metric([status], float(counts.by_status.get(status, 0)))
    yield by_status
    completed = GaugeMetricFamily(
        "radflag_followups_completed", "Completed follow-ups by adherence", labels=["adherence"]
    )
    completed.add_metric(["adherent"], float(counts.completed_adherent))
    completed.add_metric(["late"], float(counts.completed_late))
    yield completed
    if counts.adherence is not None:
        adherence = GaugeMetricFamily(
            "radflag_followups_adherence",
            "Follow-ups completed in their window / (completed + overdue)",
        )
        adherence.add_metric([], counts.adherence)
        yield adherence
