"""`python -m bench.durability`: what `appendfsync always` costs against `everysec`, measured.

A real redis-server (the embedded one, or `--redis-binary`) and a real
`radflag listen`; durable ACKs per second over 1 and 8 connections that each
wait for their ACK, alternating the two policies for `--rounds` rounds so that
a busy machine hurts both alike. Prints the medians and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from bench.service import ack_rate, messages
from tests.servers import RedisServer, running, service_env, start_listener


def measure(policy: str, base: Path, connections: int, seconds: float, binary: str | None,
            prefix: str) -> float:  # fmt: skip
    data = base / policy / prefix
    redis = RedisServer(data / "redis", appendfsync=policy, binary=binary,
                        log_path=base / f"redis-{policy}.log").start()  # fmt: skip
    try:
        env = service_env(data, redis.url, log_level="INFO")
        listener, port = start_listener(env, base)
        with running(listener):
            reports = [{"text": "FINDINGS:\nBone marrow edema in the talus.\n", "procedure": None}]
            rate, _ = ack_rate(port, messages(reports, prefix), connections, seconds)
        return rate
    finally:
        redis.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.durability")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--redis-binary", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="radflag-durability-") as tmp:
        base = Path(tmp)
        for connections in (1, 8):
            rates: dict[str, list[float]] = {"always": [], "everysec": []}
            for n in range(args.rounds):
                for policy in rates:
                    prefix = f"D{policy[0]}{connections}x{n}-"
                    rates[policy].append(measure(policy, base, connections, args.seconds,
                                                 args.redis_binary, prefix))  # fmt: skip
            always, everysec = (statistics.median(rates[p]) for p in ("always", "everysec"))
            print(f"{connections} connection(s): always {always:,.0f} ACKs/s, everysec "
                  f"{everysec:,.0f} ACKs/s, always/everysec {always / everysec:.0%}  "
                  f"(rounds: {rates})", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
