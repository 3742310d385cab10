"""The operators' message browser over real HTTP: search, view, resend and reprocess."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from tests.servers import RedisServer
from tests.web.test_app import http_client
from tests.worker.conftest import redis_client, redis_server  # noqa: F401  (fixtures)
from tests.worker.test_messages_cli import stored  # noqa: F401  (fixture)
from worker import keys
from worker.settings import Settings
from worker.store import Store

pytestmark = pytest.mark.integration


@pytest.fixture
def client(
    stored: Store,  # noqa: F811
    tmp_path: Path,
    redis_server: RedisServer,  # noqa: F811
) -> Iterator[httpx.Client]:
    settings = Settings(data_dir=tmp_path, redis_url=redis_server.url)
    with http_client(settings, stored) as client:
        yield client


def _message_url(client: httpx.Client, control_id: str) -> str:
    page = client.get("/messages", params={"control_id": control_id}).text
    return re.findall(r'href="(/messages/\d+)"', page)[0]


def _token(page: str) -> str:
    return re.findall(r'name="csrf_token" value="([^"]+)"', page)[0]


def test_search_filters_by_delivery_state(client: httpx.Client) -> None:
    """The list filters like the CLI; a bad date is a 400, not a crash."""
    page = client.get("/messages", params={"delivery": "pending"}).text
    assert re.search(r"<td>PEND</td>", page) and not re.search(r"<td>FAIL</td>", page)
    everything = client.get("/messages").text
    assert all(f"<td>{c}</td>" in everything for c in ("DELIV", "PEND", "FAIL", "REJ", "BAD"))
    assert client.get("/messages", params={"date_from": "soon"}).status_code == 400


def test_message_view_shows_every_part(client: httpx.Client) -> None:
    """Raw message, ACK, annotation, result and each delivery attempt are on the page."""
    page = client.get(_message_url(client, "DELIV")).text
    assert 'id="raw">MSH|^~\\&amp;|RIS|HOSP' in page
    assert 'id="ack">AA' in page and '"bme": &#34;present&#34;' not in page
    assert "&#34;bme&#34;: &#34;present&#34;" in page
    assert "ORU^R01^ORU_R01|RF1" in page
    attempts = re.findall(r"<tr><td>(\d+)</td><td>[^<]*</td><td>(\w+)</td>", page)
    assert attempts == [("1", "failed"), ("2", "delivered")]
    assert client.get("/messages/999999").status_code == 404


def test_resend_and_reprocess_one(
    client: httpx.Client,
    redis_client: redis.Redis,  # noqa: F811
) -> None:
    """The buttons queue a delivery and an annotation; without the CSRF token, 403."""
    url = _message_url(client, "PEND")
    token = _token(client.get(url).text)
    assert client.post(url + "/resend", data={"csrf_token": "x"}).status_code == 403
    done = client.post(url + "/resend", data={"csrf_token": token}, follow_redirects=True)
    assert done.status_code == 200 and "queued 1, skipped 0" in done.text
    assert keys.queue_depth(redis_client, keys.QUEUE_DELIVER) == 1
    client.post(url + "/reprocess", data={"csrf_token": token})
    assert keys.queue_depth(redis_client, keys.QUEUE_ANNOTATE) == 1


def test_resend_a_search(
    client: httpx.Client,
    redis_client: redis.Redis,  # noqa: F811
) -> None:
    """Resending a search's results queues each one with a result; others are skipped."""
    token = _token(client.get("/messages").text)
    done = client.post(
        "/messages",
        data={"csrf_token": token, "action": "resend", "date_from": "2026-11-16"},
        follow_redirects=True,
    )
    assert "queued 4, skipped 1" in done.text
    assert keys.queue_depth(redis_client, keys.QUEUE_DELIVER) == 4
