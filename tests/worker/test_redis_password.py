"""A Redis with `requirepass`: radflag takes the password in the URL and never prints it."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

from hl7.ack import parse_ack
from tests.hl7.messages import wrap_oru
from tests.servers import mllp_exchange, run_listener, wait_until
from worker import celery_app, keys
from worker.cli import main
from worker.listener import MllpListener
from worker.redis_server import find_binary, free_port
from worker.settings import Settings

pytestmark = pytest.mark.integration

PASSWORD = "s3cret-Redis-pw"


@pytest.fixture
def locked_redis(tmp_path: Path) -> Iterator[int]:
    """A real redis-server that answers only after AUTH with PASSWORD."""
    port = free_port()
    process = subprocess.Popen(
        [find_binary(None), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--requirepass", PASSWORD, "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        client = redis.Redis(port=port, password=PASSWORD, socket_timeout=1)
        wait_until(lambda: _answers(client), timeout=10, what="redis-server with a password")
        yield port
    finally:
        process.terminate()
        process.wait(10)


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def test_status_with_password_in_url(locked_redis: int, tmp_path: Path) -> None:
    """The right password reads Redis; a wrong one is reported without echoing it."""
    good = f"redis://:{PASSWORD}@127.0.0.1:{locked_redis}/0"
    result = CliRunner().invoke(
        main, ["status", "--json", "--redis-url", good, "--data-dir", str(tmp_path)]
    )
    report = json.loads(result.output)
    assert report["redis"]["ok"] is True and result.exit_code == 1  # no workers
    wrong = f"redis://:not-{PASSWORD}@127.0.0.1:{locked_redis}/0"
    refused = CliRunner().invoke(
        main, ["status", "--redis-url", wrong, "--data-dir", str(tmp_path)]
    )
    assert "unreachable" in refused.output and PASSWORD not in refused.output


def test_listener_queues_into_a_password_redis(locked_redis: int, tmp_path: Path) -> None:
    """The listener's Lua intake works through an authenticated connection: AA, queued."""
    url = f"redis://:{PASSWORD}@127.0.0.1:{locked_redis}/0"
    settings = Settings(data_dir=tmp_path, redis_url=url)
    celery_app.configure(settings, redis_url=url)

    async def scenario(listener: MllpListener) -> list[bytes]:
        import asyncio

        return await asyncio.to_thread(
            mllp_exchange, listener.port, [wrap_oru("x", control_id="PW1")]
        )

    answers = run_listener(settings, url, scenario)
    assert parse_ack(answers[0]).code == "AA"
    assert keys.queue_depth(keys.redis_client(url), keys.QUEUE_ANNOTATE) == 1
    assert PASSWORD not in repr(settings)
