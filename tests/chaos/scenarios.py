"""The chaos scenarios and the runner that prints their table.

`run_suite(short=True)` is what `make test` runs (tests/chaos/test_chaos.py);
`python -m tests.chaos` (`make chaos`) runs the full form: more messages, the
store away for 5 minutes, and the Redis kill under load repeated 20 times.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.chaos.harness import (
    Destination,
    Outcome,
    Service,
    count,
    fill_disk,
    free_disk,
    make_messages,
    markdown_table,
    mount_tmpfs,
    remove_tree,
    send_load,
    unmount,
)
from tests.pg import running_postgres


@dataclass
class Context:
    """What a fault may touch."""

    service: Service
    destination: Destination
    pg: object | None = None
    disk: Path | None = None
    state: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    code: str  # MSH-10 prefix (fixed width)
    name: str
    fault: Callable[[Context], None]
    heal: Callable[[Context], None] | None
    hold: float  # seconds between the fault and the heal
    group: str = "main"  # which service runs it: main, or postgres (store outage)


def _dest(mode: str) -> Callable[[Context], None]:
    return lambda ctx: ctx.destination.set_mode(mode)


def _fill(ctx: Context) -> None:
    assert ctx.disk is not None
    ctx.state["filler"] = fill_disk(ctx.disk)


def _unfill(ctx: Context) -> None:
    free_disk(ctx.state.pop("filler"))  # type: ignore[arg-type]
    # With `appendfsync always` Redis exits on a failed AOF write rather than answer
    # for data it could not keep; start it again (radflag run's supervisor would).
    # A write that failed just before the disk was freed may end it a moment
    # later: a write of our own settles which it is.
    if not _redis_writes(ctx, seconds=5.0):
        ctx.service.redis.process = None
        ctx.service.restart_redis()


def _redis_writes(ctx: Context, *, seconds: float) -> bool:
    """True once Redis takes a write; False when it has exited or not within `seconds`."""
    server = ctx.service.redis
    client = redis.Redis(host=server.host, port=server.port, socket_timeout=1.0)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            process = server.process
            if process is None or process.poll() is not None:
                return False
            try:
                client.set("chaos:disk-probe", "1")
                return True
            except redis.RedisError:
                time.sleep(0.1)
    finally:
        client.close()
    server.kill()
    return False


def scenarios(*, short: bool, redis_kills: int, store_outage: float) -> list[Scenario]:
    pause = 3.0 if short else 10.0
    base = [
        Scenario("BASE", "no fault", lambda ctx: None, None, 0),
        Scenario("LSTN", "SIGKILL listener, restart", lambda c: c.service.kill_listener(),
                 lambda c: c.service.restart_part("listener"), 1),
        Scenario("WMAI", "SIGKILL annotating worker's main process, restart",
                 lambda c: c.service.kill_worker_main("annotate"),
                 lambda c: c.service.restart_part("annotate"), 1),
        Scenario("WCHD", "SIGKILL a worker pool process",
                 lambda c: c.service.kill_worker_child("annotate") and None, None, 0),
        Scenario("DLVR", "SIGKILL deliverer, restart",
                 lambda c: c.service.kill_worker_main("deliver"),
                 lambda c: c.service.restart_part("deliver"), 1),
        Scenario("RKIL", "SIGKILL Redis, restart", lambda c: c.service.kill_redis(),
                 lambda c: c.service.restart_redis(), 1),
        Scenario("RSTP", "SIGSTOP Redis longer than the ACK timeout",
                 lambda c: c.service.pause_redis(), lambda c: c.service.resume_redis(), 6),
        Scenario("TREE", "SIGKILL every process, restart", lambda c: c.service.kill_tree(),
                 lambda c: c.service.restart_tree(), 1),
        Scenario("DISK", "full disk (tmpfs) under Redis and SQLite", _fill, _unfill, pause),
        Scenario("DREF", "destination refuses connections", _dest("refuse"), _dest("AA"), pause),
        Scenario("DAE_", "destination answers AE", _dest("AE"), _dest("AA"), pause),
        Scenario("DAR_", "destination answers AR", _dest("AR"), _dest("AA"), pause),
        Scenario("DGAR", "destination answers garbage", _dest("garbage"), _dest("AA"), pause),
        Scenario("DHLD", "destination never answers", _dest("hold"), _dest("AA"), pause),
        Scenario("STOR", f"store (PostgreSQL) down {store_outage:g} s",
                 lambda c: c.pg.pause(),  # type: ignore[attr-defined]
                 lambda c: c.pg.resume(),  # type: ignore[attr-defined]
                 store_outage, "postgres"),
    ]  # fmt: skip
    base += [
        Scenario(f"RK{n:02d}", f"SIGKILL Redis under load, repeat {n}",
                 lambda c: c.service.kill_redis(), lambda c: c.service.restart_redis(), 1)
        for n in range(1, redis_kills + 1)
    ]  # fmt: skip
    return base


def run_scenario(
    scenario: Scenario, ctx: Context, *, messages: int, rate: float, ack_timeout: float,
    settle_timeout: float, run: int,
) -> Outcome:  # fmt: skip
    prefix = f"{scenario.code}{run:02d}-"
    load = make_messages(prefix, messages)
    reached = threading.Event()
    threshold = max(1, messages // 3)

    def progress(done: int) -> None:
        if done >= threshold:
            reached.set()

    failed: list[BaseException] = []
    stop = threading.Event()

    def inject() -> None:
        if not reached.wait(600):
            return
        try:
            scenario.fault(ctx)
            if scenario.heal is not None:
                time.sleep(scenario.hold)
                scenario.heal(ctx)
        except BaseException as e:  # the sender would resend into a fault nothing heals
            failed.append(e)
            stop.set()

    started = time.monotonic()
    faults = threading.Thread(target=inject, name=f"fault-{scenario.code}", daemon=True)
    faults.start()
    stats = send_load(
        ctx.service.listener_port, load, rate=rate, ack_timeout=ack_timeout,
        on_progress=progress, stop=stop,
    )  # fmt: skip
    reached.set()
    faults.join(scenario.hold + 300)
    if failed:
        raise RuntimeError(f"{scenario.code}: the fault or its healing failed") from failed[0]
    delivered, dead, lost = count(ctx.service, ctx.destination, prefix, stats,
                                  settle_timeout=settle_timeout)  # fmt: skip
    more = sum(1 for c in delivered if ctx.destination.accepted[c] > 1)
    return Outcome(
        scenario=scenario.name, sent=len(stats.sent), acked=len(stats.acked),
        delivered_once=len(delivered) - more, delivered_more=more, dead_lettered=len(dead),
        lost=len(lost), rejected=len(stats.rejected), resends=stats.resends,
        seconds=time.monotonic() - started,
    )  # fmt: skip


def run_suite(
    *, short: bool, messages: int, rate: float, redis_kills: int = 0,
    store_outage: float = 15.0, only: set[str] | None = None, root: Path | None = None,
    report: Callable[[Outcome], None] = lambda o: None,
) -> list[Outcome]:  # fmt: skip
    """Run every scenario (or `only` those codes); returns one Outcome per scenario."""
    chosen = [
        s for s in scenarios(short=short, redis_kills=redis_kills, store_outage=store_outage)
        if only is None or s.code in only or s.code[:2] in only
    ]  # fmt: skip
    ack_timeout = 3.0
    settle = 120.0 if short else 600.0
    outcomes: list[Outcome] = []
    base = root or Path(tempfile.mkdtemp(prefix="radflag-chaos-"))
    run = 0
    for group in ("main", "postgres"):
        todo = [s for s in chosen if s.group == group]
        if not todo:
            continue
        with contextlib.ExitStack() as stack:
            destination = Destination()
            stack.callback(destination.close)
            ctx_pg = None
            database_url = None
            data_dir = None
            disk = None
            if group == "postgres":
                ctx_pg = stack.enter_context(running_postgres())
                database_url = ctx_pg.create_database()
            else:
                disk = base / group / "disk"
                if mount_tmpfs(disk, 256 if short else 1024):
                    stack.callback(unmount, disk)
                    data_dir = disk / "data"
                else:
                    disk = None
            service = Service(base / group, destination, database_url=database_url,
                              data_dir=data_dir)  # fmt: skip
            stack.callback(service.stop)
            service.start()
            ctx = Context(service, destination, pg=ctx_pg, disk=disk)
            for scenario in todo:
                run += 1
                if scenario.code == "DISK" and disk is None:
                    outcome = Outcome(
                        scenario.name,
                        0,
                        0,
                        0,
                        0,
                        0,
                        0,
                        0,
                        0,
                        0.0,
                        note="not run: no tmpfs could be mounted (needs root)",
                    )
                else:
                    outcome = run_scenario(scenario, ctx, messages=messages, rate=rate,
                                           ack_timeout=ack_timeout, settle_timeout=settle,
                                           run=run)  # fmt: skip
                outcomes.append(outcome)
                report(outcome)
    if root is None:
        remove_tree(base)
    return outcomes


def print_table(outcomes: list[Outcome]) -> None:
    print(markdown_table(outcomes), flush=True)
