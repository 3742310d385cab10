"""bench.service's Redis figures: what a real redis-server spent, per message."""

from __future__ import annotations

from pathlib import Path

import redis

from bench import service
from tests.servers import start_redis


def test_redis_usage_counts_the_commands_a_script_runs(tmp_path: Path) -> None:
    server = start_redis(tmp_path / "redis")
    client = redis.Redis.from_url(server.url)
    try:
        before = service.redis_usage(server, client)
        for i in range(50):
            # One EVAL that runs three commands: each counts, as the intake's Lua calls do.
            client.eval("redis.call('SET', KEYS[1], ARGV[1]); redis.call('GET', KEYS[1]);"
                        " return redis.call('INCR', 'n')", 1, f"k{i}", "x" * 2000)  # fmt: skip
        after = service.redis_usage(server, client)
    finally:
        client.close()
        server.stop()
    assert after[0] >= before[0]
    # 50 EVALs with 3 commands each, plus the INFO call of the first reading.
    assert after[1] - before[1] == 50 * 4 + 1


def test_redis_capacity_per_message_and_per_core() -> None:
    service.CAPACITY.clear()
    service.redis_capacity((10.0, 1_000), (12.0, 41_000), 20_000)
    figures = service.CAPACITY["redis"]
    assert figures == {
        "cpu_ms_per_message": 0.1,
        "commands_per_message": 2.0,
        "messages_per_s_per_core": 10_000,
    }
    assert service.ROWS[-2][1] == "0.100 ms"
