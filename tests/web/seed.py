"""Fill a store with corpus reports as the service records them (used until and beside
the end-to-end test): real ORU^R01 bytes, hl7.extract, nlp.annotate and the Store API."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nlp
from hl7.extract import extract_report
from tests.hl7.messages import wrap_oru
from worker.store import Store

START = datetime(2026, 3, 2, 7, 30, tzinfo=UTC)


def seed_corpus(store: Store, corpus: Path, *, limit: int = 40) -> int:
    """Record up to `limit` corpus reports as received, annotated and delivered; returns count."""
    lines = corpus.read_text(encoding="utf-8").splitlines()[:limit]
    for number, line in enumerate(lines):
        item = json.loads(line)
        control_id = f"SEED{number:04d}"
        raw = wrap_oru(
            item["text"],
            item.get("procedure"),
            control_id=control_id,
            accession=f"A{260300 + number}",
        )
        report = extract_report(raw)
        key = report.header.dedupe_key
        received = START + timedelta(minutes=37 * number)
        store.record_inbound(
            dedupe_key=key,
            control_id=control_id,
            sending_application=report.header.sending_application,
            sending_facility=report.header.sending_facility,
            message_type=f"{report.header.message_type}^{report.header.trigger_event}",
            raw=raw,
            ack_code="AA",
            error=None,
            received_at=received,
        )
        annotation = nlp.annotate(report.text, procedure=report.procedure)
        result_id = f"RF{number:06d}"
        store.record_annotation(
            dedupe_key=key,
            accession=report.accession,
            procedure=report.procedure,
            annotation=annotation.to_json_dict(),
            result_control_id=result_id,
            result_message=b"MSH|result",
            report_text=report.text,
            evidence={flag.code: list(flag.evidence) for flag in annotation.flags},
            annotated_at=received + timedelta(seconds=2),
        )
        store.record_delivery(
            dedupe_key=key,
            result_control_id=result_id,
            attempt=1,
            outcome="delivered",
            detail="AA",
            at=received + timedelta(seconds=3),
        )
    return len(lines)
