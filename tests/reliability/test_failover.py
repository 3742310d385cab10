"""Sentinel failover under load: real redis-server primary + 2 replicas + 3 redis-sentinel.

The listener (RADFLAG_REDIS_MIN_REPLICAS=1) and the Celery workers reach Redis
through the Sentinel URL only. A resending sender pushes messages at a steady
rate; the primary is SIGKILLed in the middle. What must show: AE (or no answer)
while there is no confirmed primary, AA again on the new primary, and every
message that got AA delivered to the destination: 0 acknowledged and lost.

Known Celery/kombu Sentinel bugs this covers (see README "Replicas and failover"):
- celery 6348 (workers not failing over when the primary's connection is lost):
  the workers must go on consuming from the new primary; the messages sent
  after the kill can only arrive through them.
- celery 7997 (no socket timeouts on the Sentinel connections): radflag passes
  `sentinel_kwargs` with timeouts; checked in tests/reliability/test_redis_url.py.
- celery 5142/3945 (`master_name` not reaching the result backend): radflag has
  no result backend (task_ignore_result); not applicable.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.hl7.messages import wrap_oru
from tests.reliability.engine import Outcome, ResendingSender
from tests.sentinel_cluster import MASTER_NAME, SentinelCluster
from tests.servers import MllpDestination, running, service_env, start_listener, start_worker

pytestmark = pytest.mark.integration

REPORT = (
    "MRI LEFT KNEE\n\nFindings:\nBone marrow edema in the medial femoral condyle.\n\n"
    "Impression:\nBone marrow edema of the medial femoral condyle."
)
_ORIGINAL = re.compile(rb"ORIGINAL_CONTROL_ID[^\r]*?\|(FO\d{5})")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[SentinelCluster]:
    started = SentinelCluster(tmp_path / "cluster")
    try:
        yield started.start()
    finally:
        started.stop()


def _delivered_control_ids(destination: MllpDestination) -> Counter[str]:
    found: Counter[str] = Counter()
    for message in list(destination.received):
        match = _ORIGINAL.search(message)
        if match:
            found[match.group(1).decode()] += 1
    return found


def _whereabouts(cluster: SentinelCluster, control_ids: list[str]) -> dict[str, list[str]]:
    """Where Redis still holds each lost message (journal, queues, unacked): for the report."""
    from worker import keys

    client = keys.redis_client(cluster.url, timeout=2.0, master_name=MASTER_NAME)
    places: dict[str, list[str]] = {c: [] for c in control_ids}
    journal = client.hgetall(keys.JOURNAL_KEY)
    unacked = client.hgetall(keys.UNACKED_KEY)
    queued = {q: client.lrange(q, 0, -1) for q in keys.QUEUES}
    for control_id in control_ids:
        needle = control_id.encode()
        places[control_id] += [f"journal {k!r}" for k, v in journal.items() if needle in v]
        places[control_id] += [
            f"unacked {k!r} at {client.zscore(keys.UNACKED_INDEX_KEY, k)}"
            for k, v in unacked.items()
            if needle in v
        ]
        places[control_id] += [q for q, items in queued.items() for v in items if needle in v]
    return places


def test_sentinel_url_reaches_the_primary_and_follows_it(
    cluster: SentinelCluster, tmp_path: Path
) -> None:
    from worker import keys, status
    from worker.settings import Settings

    client = keys.redis_client(cluster.url, timeout=2.0, master_name=MASTER_NAME)
    client.set("radflag:test", "1")
    # radflag status / /readyz / /metrics read Redis through the same Sentinel URL.
    settings = Settings(data_dir=tmp_path, redis_url=cluster.url, redis_master_name=MASTER_NAME)
    reading = status.gather(settings, store=None, ping_timeout=0.5)
    assert reading.redis_ok, reading.redis_error
    assert reading.queue_depths == {q: 0 for q in keys.QUEUES}
    old = cluster.kill_primary()
    new = cluster.wait_new_primary(old)
    # The first command after the failover may fail once; then it is the new primary.
    deadline = time.monotonic() + 20
    while True:
        try:
            client.set("radflag:test", "2")
            break
        except redis.RedisError:
            assert time.monotonic() < deadline, "client never reached the new primary"
            time.sleep(0.2)
    assert client.connection_pool.connection_kwargs.get("port") in (None, new)
    assert redis.Redis(port=new).get("radflag:test") == b"2"


def test_primary_killed_under_load_loses_no_acknowledged_message(
    cluster: SentinelCluster, tmp_path: Path
) -> None:
    destination = MllpDestination().start()
    env = service_env(
        tmp_path / "data",
        cluster.url,
        destination=destination.address,
        redis_master_name=MASTER_NAME,
        redis_min_replicas=1,
        redis_replica_timeout=0.5,
        # The journal's reconciler brings back what a worker lost in the failover (a
        # retry Celery could not publish is rejected without requeue): soon, for a test.
        journal_requeue_after=5.0,
        journal_interval=1.0,
        # A task of the dropped connection whose reject failed is put back one time
        # limit after the drop (worker/failover_consumer.py): short, for a test.
        task_time_limit=15.0,
    )
    logs = tmp_path / "logs"
    logs.mkdir()
    listener, port = start_listener(env, logs)
    annotate = start_worker(env, logs, queues="annotate,store")
    deliver = start_worker(env, logs, queues="deliver")
    total, kill_after = 240, 80
    outcomes: list[Outcome] = []
    killed_at: list[float] = []

    def load() -> None:
        sender = ResendingSender(port, ack_timeout=3.0)
        try:
            for index in range(total):
                control_id = f"FO{index:05d}"
                message = wrap_oru(REPORT, control_id=control_id, accession=f"ACC{control_id}")
                outcomes.append(sender.send(control_id, message))
                time.sleep(0.04)  # about 20 messages/s when Redis answers
        finally:
            sender.close()

    with running(listener, annotate, deliver):
        try:
            thread = threading.Thread(target=load, daemon=True)
            thread.start()
            deadline = time.monotonic() + 60
            while len(outcomes) < kill_after and time.monotonic() < deadline:
                time.sleep(0.05)
            old = cluster.kill_primary()
            killed_at.append(time.monotonic())
            cluster.wait_new_primary(old)
            thread.join(240)
            assert not thread.is_alive(), "the sender did not finish within 240 s"

            acked = {o.control_id for o in outcomes if o.acked}
            not_ok = [o for o in outcomes if any(c not in ("AA", "CA") for c in o.codes)]
            after_kill = [o for o in outcomes if o.acked_at and o.acked_at > killed_at[0]]
            assert len(acked) == total, f"{total - len(acked)} never acknowledged"
            assert any("AE" in o.codes for o in not_ok), "no AE during the failover"
            assert len(after_kill) >= total - kill_after - 5

            def all_delivered() -> bool:
                return acked <= set(_delivered_control_ids(destination))

            deadline = time.monotonic() + 120
            while not all_delivered() and time.monotonic() < deadline:
                time.sleep(0.5)
            delivered = _delivered_control_ids(destination)
            lost = sorted(acked - set(delivered))
            twice = sorted(a for a, n in delivered.items() if n > 1)
            print(
                f"\nfailover: sent {total}, acked {len(acked)}, attempts not AA "
                f"{sum(len(o.codes) - 1 for o in outcomes)} on {len(not_ok)} messages, "
                f"delivered {len(delivered)}, delivered twice {len(twice)}, "
                f"acked but lost {len(lost)} (destination got {len(destination.received)})"
            )
            assert lost == [], f"acknowledged and lost: {lost[:10]}: {_whereabouts(cluster, lost)}"
        finally:
            destination.stop()
