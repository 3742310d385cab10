"""radflag messages search|show|reprocess and radflag resend, on a real store and redis-server."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner

from browse import Attempt, MessageQuery, delivery_state
from browse.criteria import CriteriaError
from tests.servers import RedisServer
from tests.worker.stored import record_inbound
from worker import keys
from worker.cli import main
from worker.settings import Settings
from worker.store import Store, open_store

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
RESULT = b"MSH|^~\\&|RADFLAG|HOSP|RIS|HOSP|20261120||ORU^R01^ORU_R01|RF1|P|2.5.1\r"


def _annotate(store: Store, key: str, accession: str, *, result: bool = True) -> None:
    store.record_annotation(
        dedupe_key=key, accession=accession, procedure="MRI KNEE",
        annotation={"bme": "present", "flags": [{"code": "BME", "priority": "routine"}]},
        result_control_id=f"R-{key}" if result else None,
        result_message=RESULT if result else None, annotated_at=NOW,
    )  # fmt: skip


@pytest.fixture
def stored(tmp_path: Path) -> Store:
    """Five messages: delivered, pending (no destination), failed, rejected by the
    destination, and one rejected on receipt (no result)."""
    store = open_store(Settings(data_dir=tmp_path))
    for n, name in enumerate(("DELIV", "PEND", "FAIL", "REJ", "BAD")):
        ack = "AR" if name == "BAD" else "AA"
        record_inbound(store, f"RIS|HOSP|{name}", at=NOW - timedelta(days=n), ack=ack)
        if name != "BAD":
            _annotate(store, f"RIS|HOSP|{name}", f"ACC-{name}")
    for name, outcome in (("DELIV", "failed"), ("DELIV", "delivered"), ("FAIL", "failed"),
                          ("REJ", "rejected")):  # fmt: skip
        attempt = 2 if (name, outcome) == ("DELIV", "delivered") else 1
        store.record_delivery(
            dedupe_key=f"RIS|HOSP|{name}", result_control_id=f"R-RIS|HOSP|{name}",
            attempt=attempt, outcome=outcome, detail=outcome, at=NOW + timedelta(minutes=attempt),
        )  # fmt: skip
    return store


def _invoke(tmp_path: Path, *args: str, redis_url: str | None = None) -> Any:
    env = {"RADFLAG_DATA_DIR": str(tmp_path), "RADFLAG_REDIS_URL": redis_url or ""}
    result = CliRunner().invoke(main, list(args), env=env)
    assert "Traceback" not in result.output
    return result


def _ids(output: str) -> list[str]:
    return [json.loads(line)["control_id"] for line in output.splitlines()]


def test_delivery_state_from_attempts() -> None:
    """Delivered wins; no result, no attempt, last attempt failed or rejected otherwise."""
    at = NOW
    failed, rejected = Attempt(1, "failed", "", at), Attempt(2, "rejected", "", at)
    assert delivery_state(True, [failed, Attempt(2, "delivered", "AA", at)]) == "delivered"
    assert delivery_state(False, []) == "no_result" and delivery_state(True, []) == "pending"
    assert delivery_state(True, [failed]) == "failed"
    assert delivery_state(True, [failed, rejected]) == "rejected"
    with pytest.raises(CriteriaError, match="unknown delivery state"):
        MessageQuery(delivery=("lost",))


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ([], ["DELIV", "PEND", "FAIL", "REJ", "BAD"]),
        (["--control-id", "FAIL"], ["FAIL"]),
        (["--accession", "ACC-REJ"], ["REJ"]),
        (["--from", "2026-11-18", "--to", "2026-11-19"], ["PEND", "FAIL"]),
        (["--ack", "AR"], ["BAD"]),
        (["--type", "ORU"], ["DELIV", "PEND", "FAIL", "REJ", "BAD"]),
        (["--type", "MDM"], []),
        (["--undelivered"], ["PEND", "FAIL", "REJ"]),
        (["--delivery", "delivered"], ["DELIV"]),
        (["--delivery", "no_result"], ["BAD"]),
        (["--undelivered", "--limit", "2"], ["PEND", "FAIL"]),
    ],
)
def test_search_filters(
    stored: Store, tmp_path: Path, options: list[str], expected: list[str]
) -> None:
    """Each search option narrows the list; newest first."""
    result = _invoke(tmp_path, "messages", "search", "--json", *options)
    assert result.exit_code == 0, result.output
    assert _ids(result.output) == expected


def test_search_bad_date_is_one_line(stored: Store, tmp_path: Path) -> None:
    """A date that is not YYYY-MM-DD: a one-line usage error, exit 2."""
    result = _invoke(tmp_path, "messages", "search", "--from", "last week")
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.output


def test_show_has_ack_annotation_result_and_attempts(stored: Store, tmp_path: Path) -> None:
    """`messages show` lists the ACK, the annotation, the result and every attempt."""
    row = json.loads(_invoke(tmp_path, "messages", "search", "--json", "--control-id", "DELIV")
                     .output)  # fmt: skip
    shown = _invoke(tmp_path, "messages", "show", str(row["id"]), "--result")
    assert shown.exit_code == 0, shown.output
    assert "ACK         AA" in shown.output and "flags: BME (routine)" in shown.output
    assert "delivery delivered" in shown.output
    assert "attempt 1" in shown.output and "attempt 2" in shown.output
    assert "ORU^R01^ORU_R01|RF1" in shown.output
    data = json.loads(_invoke(tmp_path, "messages", "show", str(row["id"]), "--json", "--raw")
                      .output)  # fmt: skip
    assert base64.b64decode(data["raw_b64"]).startswith(b"MSH|")
    assert [a["outcome"] for a in data["attempts"]] == ["failed", "delivered"]
    missing = _invoke(tmp_path, "messages", "show", "999999")
    assert missing.exit_code == 1 and "no stored message 999999" in missing.output


@pytest.mark.integration
def test_resend_undelivered_queues_deliveries(
    stored: Store, tmp_path: Path, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """`resend --undelivered --yes`: one deliver task per undelivered result, then a summary."""
    result = _invoke(tmp_path, "resend", "--undelivered", "--yes", redis_url=redis_server.url)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "resend: queued 3, skipped 0, failed 0"
    assert keys.queue_depth(redis_client, keys.QUEUE_DELIVER) == 3
    queued = [json.loads(raw) for raw in redis_client.lrange(keys.QUEUE_DELIVER, 0, -1)]
    ids = sorted(json.loads(base64.b64decode(m["body"]))[1]["control_id"] for m in queued)
    assert ids == ["FAIL", "PEND", "REJ"]


@pytest.mark.integration
def test_resend_skips_messages_without_result_and_asks(
    stored: Store, tmp_path: Path, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """A message rejected on receipt has nothing to resend; several messages need a yes."""
    bad = _invoke(tmp_path, "resend", "--control-id", "BAD", redis_url=redis_server.url)
    assert bad.output.splitlines()[-1] == "resend: queued 0, skipped 1, failed 0"
    asked = CliRunner().invoke(
        main, ["resend", "--from", "2026-11-01"], input="n\n",
        env={"RADFLAG_DATA_DIR": str(tmp_path), "RADFLAG_REDIS_URL": redis_server.url},
    )  # fmt: skip
    assert asked.exit_code == 1 and "Resend 5 messages?" in asked.output
    assert keys.queue_depth(redis_client, keys.QUEUE_DELIVER) == 0
    nothing = _invoke(tmp_path, "resend", redis_url=redis_server.url)
    assert nothing.exit_code == 2 and "give search options" in nothing.output


@pytest.mark.integration
def test_reprocess_queues_annotation(
    stored: Store, tmp_path: Path, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """`messages reprocess ID` queues the stored raw message for annotation again."""
    row = json.loads(_invoke(tmp_path, "messages", "search", "--json", "--control-id", "PEND")
                     .output)  # fmt: skip
    result = _invoke(tmp_path, "messages", "reprocess", str(row["id"]), redis_url=redis_server.url)
    assert result.exit_code == 0, result.output
    assert keys.queue_depth(redis_client, keys.QUEUE_ANNOTATE) == 1
    envelope = json.loads(redis_client.lindex(keys.QUEUE_ANNOTATE, 0))
    kwargs = json.loads(base64.b64decode(envelope["body"]))[1]
    assert kwargs["control_id"] == "PEND" and base64.b64decode(kwargs["raw_b64"]).startswith(b"MSH")
