"""The one Celery app, configured so that no acknowledged message can be lost.

Strategy:
- `acks_late` + `task_reject_on_worker_lost`: a message leaves Redis only after
  its task returned; a pool process killed mid-task (SIGKILL, OOM) gets its
  message put back at once by the worker's main process.
- prefetch multiplier 1: a worker holds one message per pool process, so a
  killed worker strands little and a busy one does not hoard work.
- `visibility_timeout` (kombu's redelivery of messages whose worker vanished
  altogether) longer than the longest task (the hard time limit) *and* the
  longest retry delay: a retry waits in the worker with an ETA and stays
  unacknowledged that long, and would otherwise be run twice.
- JSON only; no result backend (results go to the store, not to Celery).
- separate queues: `annotate` (CPU), `deliver` (waits on the destination),
  `store` (records rejected messages), so a slow destination never holds up
  annotation when `deliver` has its own worker (as `radflag run` starts it).
- publishing (`publish`) never waits for a broker that is down: one quick
  reconnect, then the error goes up and the listener answers AE/CE.
"""

from __future__ import annotations

import base64
import functools
import gc
import random
import socket
from typing import Any
from uuid import UUID

from celery import Celery, signals
from kombu import Exchange, Queue
from kombu.exceptions import OperationalError as KombuOperationalError
from kombu.utils.json import dumps as json_dumps
from kombu.utils.uuid import uuid
from redis.exceptions import RedisError

from hl7.errors import TransientError
from worker import keys
from worker.settings import Settings

app = Celery(
    "radflag",
    include=[
        "worker.tasks",
        "worker.fhir_delivery",
        "worker.followup_tasks",
        "worker.backfill_tasks",
    ],
)
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_serializer="json",
    accept_content=["json"],
    result_serializer="json",
    task_ignore_result=True,
    task_store_errors_even_if_ignored=False,
    # Each queue its own direct exchange and key: with Celery's defaults every
    # queue would bind the default key, and kombu would copy a message into all.
    task_queues=tuple(
        Queue(name, Exchange(name, type="direct"), routing_key=name) for name in keys.QUEUES
    ),
    task_default_exchange=keys.QUEUE_ANNOTATE,
    task_default_routing_key=keys.QUEUE_ANNOTATE,
    task_default_queue=keys.QUEUE_ANNOTATE,
    task_routes={
        keys.TASK_ANNOTATE: {"queue": keys.QUEUE_ANNOTATE},
        keys.TASK_ANNOTATE_BATCH: {"queue": keys.QUEUE_ANNOTATE},
        keys.TASK_DELIVER: {"queue": keys.QUEUE_DELIVER},
        keys.TASK_RECORD_REJECTED: {"queue": keys.QUEUE_STORE},
        keys.TASK_DELIVER_FHIR: {"queue": keys.QUEUE_DELIVER},
        keys.TASK_FOLLOWUP_EVENT: {"queue": keys.QUEUE_STORE},
        keys.TASK_FOLLOWUP_CHECK: {"queue": keys.QUEUE_STORE},
        keys.TASK_BACKFILL: {"queue": keys.QUEUE_BACKFILL},
    },
    # Puts back what it held but had not started when the broker connection dropped
    # (a failover); see worker/failover_consumer.py.
    worker_consumer="worker.failover_consumer:RestoringConsumer",
    worker_hijack_root_logger=False,
    # Task events for Flower: off unless `task_events` (configure); Flower enables them in
    # running workers itself (its --enable_events, on by default). Arguments show as ids only.
    worker_send_task_events=False,
    task_send_sent_event=True,
    worker_redirect_stdouts=False,
    broker_connection_retry_on_startup=True,
    worker_cancel_long_running_tasks_on_connection_loss=False,
    enable_utc=True,
)

# Publishing: one reconnect attempt (a pooled connection may be stale after a
# Redis restart), then fail fast so that the sender gets AE/CE and resends.
PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0.05,
    "interval_step": 0.1,
    "interval_max": 0.2,
}


class BrokerUnavailable(TransientError):
    """Redis did not accept a publish (down, unreachable, or refusing writes)."""


QUEUE_ORDER = "worker.queue_order:LiveFirstCycle"
_SHOWN_ARGUMENTS = ("control_id", "result_control_id", "dedupe_key", "received_at", "batch_id")
_ORIGIN = f"radflag-listener@{socket.gethostname()}"
_settings: Settings | None = None
_build_pipeline = False


def configure(settings: Settings, *, redis_url: str, pool_limit: int = 10) -> Celery:
    """Point the app at `redis_url` and remember `settings` for the tasks of this process."""
    global _settings
    _settings = settings
    visibility = visibility_timeout(settings)
    # A new broker URL needs new pools: Celery caches them on first publish
    # (kombu keeps one pool per URL, so the old one stays usable for its URL).
    broker_url = keys.broker_url_for(redis_url)  # a Sentinel URL as kombu reads it
    if app.conf.broker_url != broker_url:
        app._after_fork()
    app.conf.update(
        broker_url=broker_url,
        broker_pool_limit=pool_limit,
        # A task over the soft limit is interrupted and dead-lettered by the task; over
        # the hard limit its process is killed and worker.outcomes dead-letters it.
        task_time_limit=settings.task_time_limit,
        task_soft_time_limit=settings.effective_soft_time_limit,
        worker_send_task_events=settings.task_events,
        broker_transport_options={
            "visibility_timeout": visibility,
            "socket_timeout": 5.0,
            "socket_connect_timeout": 2.0,
            "queue_order_strategy": QUEUE_ORDER,  # live queues before backfill
            **keys.broker_transport_options(redis_url, settings.redis_master_name),
        },
    )
    return app


def visibility_timeout(settings: Settings) -> float:
    """Seconds after which an unacknowledged task counts as abandoned by its worker.

    At least the longest task (the hard time limit) plus the longest retry delay
    (a task waiting for its ETA stays unacknowledged): delivery_backoff_max or
    store_retry_max.
    """
    longest_wait = max(settings.delivery_backoff_max, settings.store_retry_max)
    return max(settings.visibility_timeout, longest_wait + settings.task_time_limit + 10)


def broker_client(*, timeout: float = 5.0) -> Any:
    """A redis-py client on the broker this app is configured for (Sentinel-aware)."""
    options = app.conf.broker_transport_options or {}
    master_name = options.get("master_name", keys.DEFAULT_MASTER_NAME)
    return keys.redis_client(app.conf.broker_url, timeout=timeout, master_name=master_name)


def current_settings() -> Settings:
    """The settings `configure` was given in this process (or its parent before fork)."""
    if _settings is None:
        raise RuntimeError("worker.celery_app.configure() was not called in this process")
    return _settings


def enable_pipeline_build() -> None:
    """Build the NLP pipeline in each pool process at start (workers that annotate)."""
    global _build_pipeline
    _build_pipeline = True


def publish(task_name: str, kwargs: dict[str, Any], *, countdown: float | None = None) -> None:
    """Publish one task and return once Redis has accepted it (LPUSH answered).

    `countdown`: seconds before a worker may run it (a retry's backoff).

    Raises BrokerUnavailable when the broker cannot be reached. Thread-safe:
    each call borrows a producer from the app's pool.
    """
    try:
        app.send_task(
            task_name, kwargs=kwargs, retry=True, retry_policy=PUBLISH_RETRY_POLICY,
            argsrepr="()", kwargsrepr=safe_kwargsrepr(kwargs), countdown=countdown,
        )  # fmt: skip
    except (KombuOperationalError, RedisError, OSError) as e:
        raise BrokerUnavailable(f"cannot publish {task_name}: {type(e).__name__}") from e


def safe_kwargsrepr(kwargs: dict[str, Any]) -> str:
    """What Celery shows of a task's arguments (logs, flower): identifiers only, no health data."""
    shown = {k: kwargs[k] for k in _SHOWN_ARGUMENTS if k in kwargs}
    return repr(shown)


def task_envelope(task_name: str, kwargs: dict[str, Any]) -> tuple[str, str]:
    """The task as kombu's Redis transport stores it: (queue list name, JSON text).

    What `publish` sends, built without publishing, so that the listener can
    LPUSH it inside its own Lua script (duplicate check, queueing and mark in
    one atomic round trip). A Celery worker cannot tell the two apart.
    """
    return _envelope(
        task_name, kwargs, task_id=uuid(), tag=uuid(), kwargsrepr=safe_kwargsrepr(kwargs),
        base64_body=True,
    )  # fmt: skip


def _envelope(
    task_name: str, kwargs: dict[str, Any], *, task_id: str, tag: str, kwargsrepr: str,
    base64_body: bool,
) -> tuple[str, str]:  # fmt: skip
    """(queue, the task as kombu's Redis transport stores it); the body base64 or plain JSON."""
    queue = app.conf.task_routes[task_name]["queue"]
    message = app.amqp.as_task_v2(
        task_id, task_name, kwargs=kwargs, argsrepr="()", kwargsrepr=kwargsrepr, origin=_ORIGIN
    )
    properties = dict(
        message.properties,
        delivery_mode=2,
        delivery_info={"exchange": "", "routing_key": queue},
        priority=0,
        delivery_tag=tag,
    )
    body = json_dumps(message.body)
    if base64_body:
        properties["body_encoding"] = "base64"
        body = base64.b64encode(body.encode()).decode("ascii")
    envelope = {
        "body": body,
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": message.headers,
        "properties": properties,
    }
    return queue, json_dumps(envelope)


def batch_task(batch_id: str, received_at: str) -> tuple[str, str]:
    """A `radflag.annotate_batch` task as kombu's Redis transport stores it: (queue, JSON).

    Built from a template made once per process (Celery's message and its JSON cost
    the listener 7% of its CPU when built per batch): the task id, delivery tag,
    batch id and receipt time are put in. The body is plain JSON, not base64 as
    `task_envelope`'s, so that they can be: kombu reads a body without
    `body_encoding` as it is.
    """
    queue, template = _batch_template()
    values = {
        _TEMPLATE_ID: _fast_uuid(), _TEMPLATE_TAG: _fast_uuid(), _TEMPLATE_BATCH: batch_id,
        _TEMPLATE_AT: received_at,
    }  # fmt: skip
    for placeholder, value in values.items():
        template = template.replace(placeholder, value)
    return queue, template


def _fast_uuid() -> str:
    """A random UUID without a system call (uuid4 reads os.urandom): ids, not secrets."""
    return str(UUID(int=random.getrandbits(128), version=4))


_TEMPLATE_ID = "00000000-task-id0-0000-radflag00000"
_TEMPLATE_TAG = "00000000-delivery-tag-radflag000000"
_TEMPLATE_BATCH = "0000-batch-id-radflag-0000"
_TEMPLATE_AT = "0000-received-at-radflag-0000"


@functools.cache
def _batch_template() -> tuple[str, str]:
    kwargs: dict[str, Any] = {"batch": _TEMPLATE_BATCH, "received_at": _TEMPLATE_AT}
    return _envelope(
        keys.TASK_ANNOTATE_BATCH, kwargs, task_id=_TEMPLATE_ID, tag=_TEMPLATE_TAG,
        kwargsrepr=repr({"batch": _TEMPLATE_BATCH}), base64_body=False,
    )  # fmt: skip


@signals.worker_process_init.connect
def _build_pipeline_once(**_: Any) -> None:
    # Once per pool process, before the first task, so no task pays for it:
    # the pipeline of every rule language (German reports arrive too).
    if not _build_pipeline:
        return
    from nlp.pipeline import build_pipeline
    from nlp.ruleset import available_languages

    for language in available_languages():
        build_pipeline(language)
    # What the process holds from here on (the pipelines, rules, mappers and modules,
    # some 200,000 objects) stays for its life: the collector stops scanning it. Its
    # full collections went over all of it: 2.2 % of an annotating process, 1.1 % after.
    gc.collect()
    gc.freeze()
