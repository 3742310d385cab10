"""How far the listener goal is from what any listener reaches on this machine.

    python -m bench.listener_bound --corpus ../shared/corpus/dev.jsonl [--rounds 6]

Issue 13's listener goal is durable ACKs/s over 8 connections >= 0.6x a bare asyncio
echo server's, both measured in the same run. This bench sets three listeners against
that echo, all on one embedded Redis (`appendfsync everysec`, as `make bench` measures
the goal), in paired rounds (the echo, then each listener, 8 connections, `--seconds`
each):

- `radflag listen`, the service;
- bench/minimal_listener.py, an asyncio listener that does only the durable path
  (frames, MSH-3/4/10, journal entries, one group write of worker/intake_batch.lua in
  flight, the ACK after Redis answered): what a Python listener costs at the least;
- bench/listener_bound.c, the same path in C with epoll (built here with `cc`): what a
  compiled listener costs at the least.

Per round it prints ACKs/s, the ratio to the echo, and the CPU each process used per
message (the load generator, the listener, Redis), read from /proc. The two bounds are
measurements, not listeners to run: they check nothing and count nothing.
docs/throughput.md ("The twentieth pass") has the figures and what they mean.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.service import _echo_server, ack_rate, cpu_seconds, messages
from tests.servers import accepts, free_port, service_env, start_listener, start_redis, wait_until

ROOT = Path(__file__).resolve().parent.parent


def own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def build_bound(out: Path) -> Path:
    """bench/listener_bound.c compiled into `out`; exits 2 with one line when no compiler."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        print("listener_bound: no C compiler (cc or gcc) on PATH", file=sys.stderr)
        sys.exit(2)
    binary = out / "listener_bound"
    subprocess.run(
        [compiler, "-O2", "-o", str(binary), str(ROOT / "bench" / "listener_bound.c")], check=True
    )
    return binary


def measured(
    port: int, pid: int, redis_pid: int, source: object, seconds: float
) -> tuple[float, float, float, float]:
    """ACKs/s over 8 connections, and CPU µs per message: generator, listener, Redis."""
    listener0, redis0, own0 = cpu_seconds(pid), cpu_seconds(redis_pid), own_cpu()
    rate, _ = ack_rate(port, source, 8, seconds)  # type: ignore[arg-type]
    done = max(rate * seconds, 1.0)

    def per_message(before: float, after: float) -> float:
        return 1e6 * (after - before) / done

    return (
        rate,
        per_message(own0, own_cpu()),
        per_message(listener0, cpu_seconds(pid)),
        per_message(redis0, cpu_seconds(redis_pid)),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="reports (JSONL) to send")
    parser.add_argument("--rounds", type=int, default=6, help="paired rounds (default 6)")
    parser.add_argument("--seconds", type=float, default=3.0, help="each listener's turn")
    args = parser.parse_args(argv)
    if not args.corpus.is_file():
        print(f"listener_bound: no corpus at {args.corpus}", file=sys.stderr)
        return 2
    rounds = max(1, min(args.rounds, 50))
    reports = [json.loads(line) for line in args.corpus.read_text().splitlines() if line.strip()]
    source = messages(reports, "ACK")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        binary = build_bound(base)
        server = start_redis(base / "redis")
        children: list[Callable[[], None]] = [server.stop]
        try:
            import redis

            client = redis.Redis.from_url(server.url)
            redis_port = str(client.connection_pool.connection_kwargs["port"])
            sha = client.script_load((ROOT / "worker" / "intake_batch.lua").read_text())
            env = service_env(base / "data", server.url)
            listener, port = start_listener(env, base)
            children.append(listener.stop)
            os.environ.update(env)
            from worker.celery_app import batch_task

            queue, task = batch_task("x" * 26, "2026-01-01T00:00:00.000000+00:00")
            (base / "task").write_text(task)
            bounds = {
                "minimal Python": [sys.executable, "-m", "bench.minimal_listener"],
                "compiled": [str(binary)],
            }
            ports = {"radflag listen": (port, listener.pid)}
            for name, command in bounds.items():
                bound_port = free_port()
                process = subprocess.Popen(
                    [*command, str(bound_port), redis_port, sha, queue, str(base / "task")],
                    cwd=ROOT,
                )
                children.append(process.terminate)
                wait_until(lambda p=bound_port: accepts(p), timeout=20, what=name)
                ports[name] = (bound_port, process.pid)
            echo_port = free_port()
            echo = multiprocessing.Process(target=_echo_server, args=(echo_port,), daemon=True)
            echo.start()
            children.append(echo.terminate)
            wait_until(lambda: accepts(echo_port), timeout=20, what="asyncio echo")
            for bound_port, _ in ports.values():
                ack_rate(bound_port, source, 8, 1.0)  # warm up
            ratios: dict[str, list[float]] = {name: [] for name in ports}
            for number in range(1, rounds + 1):
                echo_rate, generator, server_cpu, _ = measured(
                    echo_port, echo.pid or 0, server.process.pid, source, args.seconds
                )
                print(
                    f"round {number}: echo {echo_rate:,.0f} ACKs/s"
                    f" (generator {generator:.0f} µs, echo server {server_cpu:.0f} µs a message)"
                )
                for name, (listen_port, pid) in ports.items():
                    rate, generator, own, redis_cpu = measured(
                        listen_port, pid, server.process.pid, source, args.seconds
                    )
                    ratios[name].append(rate / echo_rate)
                    print(
                        f"  {name:15} {rate:8,.0f} ACKs/s  {rate / echo_rate:.2f} of the echo"
                        f"  (generator {generator:.0f}, listener {own:.0f},"
                        f" Redis {redis_cpu:.0f} µs a message)"
                    )
            print("median of the paired rounds (goal: >= 0.6):")
            for name, values in ratios.items():
                print(f"  {name:15} {statistics.median(values):.2f}"
                      f"  ({min(values):.2f}-{max(values):.2f})")  # fmt: skip
        finally:
            for stop in reversed(children):
                stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
