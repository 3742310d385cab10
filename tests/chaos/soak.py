"""`python -m tests.chaos.soak` (`make soak`): a steady load for a long time; memory must stay flat.

    python -m tests.chaos.soak                   # 1 hour at 50 msg/s (make soak)
    python -m tests.chaos.soak --minutes 2       # a short look

The same service as the chaos suite (real Redis with `appendfsync always`,
listener, annotating and delivering workers, a destination answering AA), no
faults. Every minute it samples the resident memory of the listener and of
every worker process (main and pool), Redis' `used_memory`, the journal, the
queues and `unacked`. At the end: each process's RSS against its reading after
the first minute (warm-up: the NLP pipelines are loaded, the pools have run),
which must stay within +10 %; what Redis holds beyond the dedupe keys (which the
duplicate window keeps on purpose, one per message) must not grow; the journal,
queues and `unacked` must be back to 0; every acknowledged message delivered.
Exit status 1 when any of these fails.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from tests.chaos.harness import Destination, Service, make_messages, remove_tree, send_load
from tests.servers import wait_until
from worker import keys

RSS_GROWTH_LIMIT = 0.10
BATCH_SECONDS = 60.0


def _rss_all(service: Service) -> dict[str, float]:
    from tests.chaos.harness import _rss_mb

    out = {"listener": _rss_mb(service.listener.pid)} if service.listener else {}
    for kind, proc in service.workers.items():
        out[f"worker-{kind}"] = _rss_mb(proc.pid)
        for n, child in enumerate(sorted(proc.children())):
            out[f"worker-{kind}-pool{n}"] = _rss_mb(child)
    return out


def _redis_reading(service: Service) -> dict[str, int]:
    client = service.client()
    try:
        dedupe = sum(1 for _ in client.scan_iter(match=keys.DEDUPE_PREFIX + "*", count=1000))
        return {
            "used_memory": int(client.info("memory")["used_memory"]),
            "dedupe_keys": dedupe,
            "journal": int(client.hlen(keys.JOURNAL_KEY)),
            "queued": sum(int(client.llen(q)) for q in keys.QUEUES),
            "unacked": int(client.hlen(keys.UNACKED_KEY)),
        }
    finally:
        client.close()


def soak(minutes: float, rate: float, root: Path) -> int:
    destination = Destination()
    service = Service(root, destination)
    failures: list[str] = []
    try:
        service.start()
        batches = max(1, round(minutes * 60 / BATCH_SECONDS))
        per_batch = int(rate * min(BATCH_SECONDS, minutes * 60))
        acked: set[str] = set()
        warm: dict[str, float] = {}
        first_redis: dict[str, int] = {}
        started = time.monotonic()
        for batch in range(batches):
            load = make_messages(f"SOAK{batch:04d}-", per_batch)
            stats = send_load(service.listener_port, load, rate=rate, connections=4)
            acked |= stats.acked
            rss = _rss_all(service)
            reading = _redis_reading(service)
            if batch == 0:
                warm, first_redis = rss, reading
            print(
                f"{time.monotonic() - started:6.0f}s batch {batch + 1}/{batches}: "
                f"AA {len(stats.acked)}/{per_batch}, resends {stats.resends}, "
                + ", ".join(f"{k} {v:.0f} MB" for k, v in rss.items())
                + f", redis {reading['used_memory'] / 1e6:.1f} MB "
                f"({reading['dedupe_keys']} dedupe keys, journal {reading['journal']}, "
                f"queued {reading['queued']}, unacked {reading['unacked']})",
                flush=True,
            )
        wait_until(lambda: len(acked - set(destination.accepted)) == 0, timeout=300,
                   interval=1, what="every acknowledged message delivered")  # fmt: skip
        time.sleep(2 * 2.0)  # two reconciler intervals: the journal settles
        rss, reading = _rss_all(service), _redis_reading(service)
        print("end: " + ", ".join(f"{k} {v:.0f} MB (after warm-up {warm.get(k, 0):.0f})"
                                  for k, v in rss.items()), flush=True)  # fmt: skip
        for name, value in rss.items():
            base = warm.get(name)
            if base and value > base * (1 + RSS_GROWTH_LIMIT):
                failures.append(f"{name} RSS {base:.0f} -> {value:.0f} MB (> +10 %)")
        per_key = _bytes_beyond_dedupe(first_redis, reading)
        print(
            f"redis memory beyond the dedupe keys: {per_key / 1e6:+.2f} MB since the first minute"
        )
        if per_key > 5e6:
            failures.append(f"redis memory beyond dedupe keys grew {per_key / 1e6:.1f} MB")
        for name in ("journal", "queued", "unacked"):
            if reading[name]:
                failures.append(f"{name} not empty at the end: {reading[name]}")
        print(f"messages acknowledged {len(acked)}, delivered {len(destination.accepted)}")
    finally:
        service.stop()
        destination.close()
    for failure in failures:
        print("FAIL:", failure)
    print("soak:", "FAILED" if failures else "passed")
    return 1 if failures else 0


def _bytes_beyond_dedupe(first: dict[str, int], last: dict[str, int]) -> float:
    """Growth of Redis memory not explained by the dedupe keys added (estimated per key)."""
    added = last["dedupe_keys"] - first["dedupe_keys"]
    if added <= 0 or first["dedupe_keys"] <= 0:
        return float(last["used_memory"] - first["used_memory"])
    # The cost of one dedupe key: measured on this Redis as the growth per key in the
    # first minute would mix in start-up; take a generous fixed 200 bytes per key.
    return float(last["used_memory"] - first["used_memory"] - 200 * added)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos.soak")
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=50.0)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="radflag-soak-"))
    try:
        return soak(args.minutes, args.rate, root)
    finally:
        remove_tree(root)


if __name__ == "__main__":
    sys.exit(main())
