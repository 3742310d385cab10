"""Radiologists' agreement with radflag's flags as Prometheus gauges (scraped from the store)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from worker.store import Store
from worker.store_feedback import feedback_of

log = logging.getLogger(__name__)


class FeedbackCollector(Collector):
    """radflag_flag_agreement{code,language} and radflag_flag_reviews{code,language,verdict}."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        try:
            report = feedback_of(self.store).quality()
        except SQLAlchemyError as e:
            log.warning("feedback metrics unavailable: %s", type(e).__name__)
            return
        agreement = GaugeMetricFamily(
            "radflag_flag_agreement",
            "Share of reviewed flags the radiologist agreed with (PPV from reviews); "
            'language="all" over every language',
            labels=["code", "language"],
        )
        reviews = GaugeMetricFamily(
            "radflag_flag_reviews",
            "Reviewed flags by verdict (newest review of each report version)",
            labels=["code", "language", "verdict"],
        )
        per_language: Counter[tuple[str, str, bool]] = Counter()
        for (code, _month, language), counts in report.by_code_month_language.items():
            per_language[(code, language, True)] += counts.agreed
            per_language[(code, language, False)] += counts.reviewed - counts.agreed
        for code, counts in report.by_code.items():
            if counts.ppv is not None:
                agreement.add_metric([code, "all"], counts.ppv)
        for code, language in sorted({(c, lang) for c, lang, _ in per_language}):
            agreed, disagreed = (
                per_language[(code, language, True)],
                per_language[(code, language, False)],
            )
            if agreed + disagreed:
                agreement.add_metric([code, language], agreed / (agreed + disagreed))
            reviews.add_metric([code, language, "agree"], agreed)
            reviews.add_metric([code, language, "disagree"], disagreed)
        yield agreement
        yield reviews
