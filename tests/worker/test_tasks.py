"""The Celery tasks run in this process (no worker), against a real Redis and a SQLite store."""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
import redis

from tests.hl7.messages import wrap_oru
from tests.servers import RedisServer
from worker import celery_app, dlq, keys, tasks
from worker.settings import Settings
from worker.store import open_store

pytestmark = pytest.mark.integration

REPORT = "Findings:\nBone marrow edema in the medial femoral condyle.\n\nImpression:\nBME."


def _kwargs(message: bytes, control_id: str) -> dict[str, str]:
    return {
        "raw_b64": base64.b64encode(message).decode("ascii"),
        "control_id": control_id,
        "dedupe_key": f"RIS|GENHOSP|{control_id}",
        "received_at": datetime.now(UTC).isoformat(),
        "ack_code": "AA",
    }


def test_no_destination_keeps_result(
    publishing: Settings, redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """No destination: the result is stored, nothing queued for delivery, no report text logged."""
    caplog.set_level(logging.INFO)
    tasks.annotate_message(
        **_kwargs(wrap_oru(REPORT, "MRI KNEE LEFT", control_id="KEEP1"), "KEEP1")
    )
    counts = open_store(publishing).counts()
    assert counts.annotations == 1
    assert keys.queue_depth(redis_client, keys.QUEUE_DELIVER) == 0
    logged = caplog.text
    assert "result kept" in logged and "KEEP1" in logged
    assert "femoral condyle" not in logged


def test_with_destination_hands_on(
    redis_server: RedisServer, redis_client: redis.Redis, settings: Settings
) -> None:
    """With a destination the result goes to the deliver queue, with a stable result MSH-10."""
    with_destination = Settings(data_dir=settings.data_dir, destination="127.0.0.1:9")
    celery_app.configure(with_destination, redis_url=redis_server.url)
    arguments = _kwargs(wrap_oru(REPORT, control_id="HAND1"), "HAND1")
    tasks.annotate_message(**arguments)
    assert keys.queue_depth(redis_client, keys.QUEUE_DELIVER) == 1
    expected = tasks.result_control_id(arguments["dedupe_key"], arguments["received_at"])
    assert expected.startswith("RF") and len(expected) == 20
    assert expected.encode() in redis_client.lindex(keys.QUEUE_DELIVER, 0)  # type: ignore[operator]
    assert tasks.result_control_id("other", arguments["received_at"]) != expected


def test_unprocessable_after_ack_is_dead_lettered(
    publishing: Settings, redis_client: redis.Redis
) -> None:
    """A message the full parse rejects (no report text) lands in the DLQ, not in silence."""
    empty = wrap_oru("", control_id="EMPTY1").replace(b"OBX|1|TX|RPT^Report^L||||||||F\r", b"")
    tasks.annotate_message(**_kwargs(empty, "EMPTY1"))
    entries = dlq.entries(redis_client)
    assert [(e.stage, e.reason, e.control_id) for e in entries] == [
        (dlq.STAGE_ANNOTATE, "unprocessable", "EMPTY1")
    ]
    assert keys.queue_depth(redis_client, keys.QUEUE_DELIVER) == 0


def test_record_rejected_writes_the_store(publishing: Settings) -> None:
    """The store task records a rejected message with its ACK code and error."""
    tasks.record_rejected(
        raw_b64=base64.b64encode(b"MSH|^~\\&|A|B|C|D|2026||ADT^A01|R1|P|2.5.1\r").decode(),
        dedupe_key="A|B|R1",
        ack_code="AR",
        error="message type ADT^A01 is not a report",
        received_at=datetime.now(UTC).isoformat(),
    )
    counts = open_store(publishing).counts()
    assert counts.messages == {("ADT^A01", "AR"): 1}


def test_a_batch_of_new_messages_keeps_each_child_row_with_its_own_parent(
    publishing: Settings,
) -> None:
    """New messages of a batch are inserted in bulk at the commit: flags, follow-up keys and
    audit entries must each point at their own message's row, and a rerun inserts nothing."""
    from sqlalchemy import text as sql

    from tests.followup.messages import KNEE, report

    quiet = "MRI RIGHT HIP\nFindings:\nNo bone marrow edema.\nImpression:\nNormal hip."
    batch = [
        (report("BK1", "MRN8101", KNEE), "BK1"),
        (report("BK2", "MRN8102", quiet, procedure="MRI HIP RIGHT"), "BK2"),
        (report("BK3", "MRN8103", KNEE.replace("medial", "lateral")), "BK3"),
    ]
    items = [_kwargs(raw, control_id) for raw, control_id in batch]
    outcomes = tasks.annotate_accepted_many(items, publishing)
    assert all(isinstance(outcome, tuple) for outcome in outcomes), outcomes

    queries = {
        "flags": "SELECT a.dedupe_key, f.code FROM flags f JOIN annotations a"
        " ON a.id = f.annotation_id ORDER BY a.dedupe_key, f.code",
        "annotations": "SELECT dedupe_key, annotation, bme FROM annotations ORDER BY dedupe_key",
        "keys": "SELECT u.dedupe_key, k.key, u.version FROM followup_patient_keys k"
        " JOIN followups u ON u.id = k.followup_id ORDER BY u.dedupe_key",
        "audit": "SELECT u.dedupe_key, a.reference, a.to_status FROM followup_audit a"
        " JOIN followups u ON u.id = a.followup_id ORDER BY u.dedupe_key",
        "exams": "SELECT dedupe_key, patient_key, findings IS NULL FROM followup_exams"
        " ORDER BY dedupe_key",
    }

    def rows() -> dict[str, list[Any]]:
        with open_store(publishing).engine.connect() as connection:
            return {name: list(connection.execute(sql(q))) for name, q in queries.items()}

    first = rows()
    knee = [item["dedupe_key"] for item in (items[0], items[2])]
    flagged = {key for key, _ in first["flags"]}
    assert flagged == set(knee)  # the hip has no flag, and no knee flag went to the hip
    for key, annotation, _ in first["annotations"]:
        codes = sorted(f["code"] for f in json.loads(annotation)["flags"])
        assert [code for k, code in first["flags"] if k == key] == codes
    assert [(key, mrn.split("|")[-1], version) for key, mrn, version in first["keys"]] == [
        (knee[0], "MRN8101", 1),
        (knee[1], "MRN8103", 1),
    ]
    assert first["audit"] == [(key, key, "open") for key in knee]
    assert [(key, patient.split("|")[-1]) for key, patient, _ in first["exams"]] == [
        (item["dedupe_key"], mrn)
        for item, mrn in zip(items, ("MRN8101", "MRN8102", "MRN8103"), strict=True)
    ]
    tasks.annotate_accepted_many(items, publishing)  # a rerun updates: the same rows, no more
    assert rows() == first
