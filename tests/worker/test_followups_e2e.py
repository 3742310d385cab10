"""End to end, follow-ups: reports, orders and appointments through the listener to closure.

Real redis-server, real `radflag listen`, `radflag worker` and `radflag beat`
processes, real loopback sockets, two MLLP receivers (results, notifications).
The service's clock is a file (RADFLAG_FOLLOWUP_CLOCK_FILE): tests move it and
wait (bounded) for what the beat does; nothing sleeps to let time pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
import redis

from hl7.ack import parse_ack
from tests.followup.messages import appointment, order, report
from tests.servers import (
    MllpDestination,
    RadflagProcess,
    RedisServer,
    mllp_exchange,
    service_env,
    start_listener,
    start_redis,
    start_worker,
    wait_until,
)
from worker import keys
from worker.followup_store import FollowupStore, FollowupView, open_followups
from worker.settings import Settings

pytestmark = pytest.mark.integration

KNEE_REPORT = (
    "MRI LEFT KNEE\nFindings:\nBone marrow edema in the medial femoral condyle without a "
    "fracture line.\nImpression:\nMedial femoral condyle bone marrow edema. Follow-up MRI in "
    "6-8 weeks is recommended if pain persists."
)
KNEE_LATER = (
    "MRI LEFT KNEE\nComparison: MRI of 5 January 2026.\nFindings:\nThe bone marrow edema in the "
    "medial femoral condyle has decreased.\nImpression:\nImproving medial femoral condyle edema."
)
HIP_REPORT = (
    "MRI RIGHT HIP\nFindings:\nBone marrow edema in the femoral head without a subchondral "
    "fracture.\nImpression:\nBone marrow edema of the right femoral head, transient bone marrow "
    "edema versus early osteonecrosis."
)
HIP_PROGRESSED = (
    "MRI RIGHT HIP\nComparison: MRI three weeks ago.\nFindings:\nThe bone marrow edema of the "
    "femoral head has progressed, and a subchondral crescent is now seen.\nImpression:\n"
    "Progressive bone marrow edema of the right femoral head with a new crescent."
)


@dataclass
class Service:
    port: int
    clock: Path
    settings: Settings
    results: MllpDestination
    notices: MllpDestination
    redis_url: str

    def send(self, message: bytes) -> str:
        (answer,) = mllp_exchange(self.port, [message])
        return parse_ack(answer).code

    def set_clock(self, moment: str) -> None:
        self.clock.write_text(moment)

    def store(self) -> FollowupStore:
        return open_followups(self.settings)

    def followups_of(self, mrn: str) -> list[FollowupView]:
        return [v for v in self.store().listing(limit=1000) if v.patient.startswith(f"{mrn} ")]

    def wait_status(self, mrn: str, status: str, *, count: int = 1) -> list[FollowupView]:
        def seen() -> list[FollowupView]:
            views = [v for v in self.followups_of(mrn) if v.status == status]
            return views if len(views) >= count else []

        return wait_until(seen, timeout=60, interval=0.2, what=f"{mrn} {status}")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    base = tmp_path_factory.mktemp("followups")
    clock = base / "clock"
    clock.write_text("2026-01-10T12:00:00+00:00")
    results, notices = MllpDestination().start(), MllpDestination().start()
    server: RedisServer = start_redis(base / "redis")
    env = service_env(
        base / "data",
        server.url,
        destination=results.address,
        followup_destination=notices.address,
        followup_clock_file=clock,
        followup_check_interval=0.5,
    )
    procs: list[RadflagProcess] = []
    try:
        listener, port = start_listener(env, base)
        procs.append(listener)
        procs.append(start_worker(env, base, queues="annotate,store", concurrency=2))
        procs.append(start_worker(env, base, queues="deliver", concurrency=1))
        beat = RadflagProcess("beat", ["beat"], env, base / "beat.log").start()
        procs.append(beat)
        beat.wait_for_log("beat: Starting", timeout=60)
        settings = Settings(data_dir=base / "data", redis_url=server.url)
        yield Service(port, clock, settings, results, notices, server.url)
    finally:
        for proc in procs:
            proc.stop()
        server.stop()
        results.stop()
        notices.stop()


def _observations(message: bytes) -> list[tuple[str, str]]:
    rows = []
    for segment in message.decode("utf-8").split("\r"):
        fields = segment.split("|")
        if fields[0] == "OBX":
            rows.append((fields[3].split("^")[0], fields[5]))
    return rows


def _result_for(service: Service, control_id: str) -> list[tuple[str, str]]:
    def found() -> list[tuple[str, str]]:
        for message in list(service.results.received):
            rows = _observations(message)
            if ("ORIGINAL_CONTROL_ID", control_id) in rows:
                return rows
        return []

    return wait_until(found, timeout=60, interval=0.2, what=f"the result of {control_id}")


def test_report_order_appointment_later_report_completes(service: Service) -> None:
    """A recommendation is scheduled by its order and appointment and completed by the next MRI."""
    assert service.send(report("E1R1", "MRN5001", KNEE_REPORT)) == "AA"
    rows = _result_for(service, "E1R1")
    assert ("FOLLOW_UP_MODALITY", "MRI^Magnetic resonance imaging^RADFLAG") in rows
    assert ("FOLLOW_UP_INTERVAL", "42^56") in rows
    assert ("FOLLOW_UP_SOURCE", "report^Report^RADFLAG") in rows
    (opened,) = service.wait_status("MRN5001", "open")
    assert (opened.region, opened.side, opened.modality) == ("knee", "left", "MRI")

    assert service.send(order("E1O1", "MRN5001", placer="PL5001")) == "AA"
    service.wait_status("MRN5001", "scheduled")
    start = "20260220100000"
    appt = appointment("E1A1", "MRN5001", appointment_id="AP5001", start=start, placer="PL5001")
    assert service.send(appt) == "AA"

    def booked() -> bool:
        view = service.store().followup(opened.public_id)
        return bool(view and view.bookings and view.bookings[0][1])

    wait_until(booked, timeout=60, interval=0.2, what="the appointment time")
    later = report("E1R2", "MRN5001", KNEE_LATER, at="20260220110000")
    assert service.send(later) == "AA"
    (done,) = service.wait_status("MRN5001", "completed")
    assert done.public_id == opened.public_id and done.adherence == "adherent"
    trail = service.store().followup(done.public_id)
    assert trail is not None
    assert [(a[1], a[2]) for a in trail.audit] == [
        (None, "open"),
        ("open", "scheduled"),
        ("scheduled", "scheduled"),  # the appointment: its time is recorded
        ("scheduled", "completed"),
    ]
    assert {a[3] for a in trail.audit} == {"radflag"}
    exams, _ = service.store().timeline(done.public_id) or ([], [])
    assert [e.kind for e in exams] == ["report", "order", "appointment", "report"]
    assert exams[-1].course == "improved" and exams[-1].course_basis == "comparison"
    assert ("BME_COURSE", "improved^Improved^RADFLAG") in _result_for(service, "E1R2")
    client = redis.Redis.from_url(service.redis_url)
    entries = [e.decode() for e in client.hkeys(keys.JOURNAL_KEY)]  # type: ignore[union-attr]
    assert not [e for e in entries if e.startswith(keys.TASK_FOLLOWUP_EVENT)]  # all settled


def test_cancelled_appointment_reopens(service: Service) -> None:
    """SIU^S15 for the only booking returns the recommendation to open."""
    assert service.send(report("E2R1", "MRN5002", KNEE_REPORT)) == "AA"
    service.wait_status("MRN5002", "open")
    start = "20260221090000"
    booked = appointment("E2A1", "MRN5002", appointment_id="AP5002", start=start)
    assert service.send(booked) == "AA"
    service.wait_status("MRN5002", "scheduled")
    cancelled = appointment("E2A2", "MRN5002", appointment_id="AP5002", start=start, trigger="S15")
    assert service.send(cancelled) == "AA"
    (reopened,) = service.wait_status("MRN5002", "open")
    trail = service.store().followup(reopened.public_id)
    assert trail is not None and trail.audit[-1][1:3] == ("scheduled", "open")
    assert "cancelled" in trail.audit[-1][4]


def test_progression_escalates_osteonecrosis(service: Service) -> None:
    """A later report saying the edema progressed, with a new crescent, escalates the concern."""
    first = report("E3R1", "MRN5003", HIP_REPORT, procedure="MRI HIP RIGHT")
    assert service.send(first) == "AA"
    service.wait_status("MRN5003", "open")
    later = report(
        "E3R2", "MRN5003", HIP_PROGRESSED, procedure="MRI HIP RIGHT", at="20260126090000"
    )
    assert service.send(later) == "AA"
    rows = _result_for(service, "E3R2")
    assert ("BME_COURSE", "progressed^Progressed^RADFLAG") in rows
    escalation = [value for ident, value in rows if ident == "OSTEONECROSIS_ESCALATION"]
    assert len(escalation) == 1 and escalation[0].startswith("OSTEONECROSIS_CONCERN^")
    views = service.followups_of("MRN5003")
    assert any(v.status == "completed" for v in views)  # the first report's follow-up
    new = [v for v in views if v.status == "open"]
    assert new and min(v.due_to for v in new) <= datetime.fromisoformat("2026-02-23T09:00+00:00")


def test_overdue_notifies_exactly_once(service: Service) -> None:
    """Past the window the beat marks it overdue and one ORU^R01 reaches the receiver."""
    assert service.send(report("E4R1", "MRN5004", KNEE_REPORT, at="20260105090000")) == "AA"
    (opened,) = service.wait_status("MRN5004", "open")
    before = len(_notices_for(service, "MRN5004"))
    assert before == 0
    service.set_clock("2026-03-10T12:00:00+00:00")  # past 5 Jan + 56 days
    service.wait_status("MRN5004", "overdue")
    wait_until(lambda: _notices_for(service, "MRN5004"), timeout=60, interval=0.2, what="notice")
    client = redis.Redis.from_url(service.redis_url)
    for moment in ("2026-03-11T12:00:00+00:00", "2026-03-12T12:00:00+00:00"):
        service.set_clock(moment)  # more beat ticks: no second notice

        def checked(moment: str = moment) -> bool:
            return client.get(keys.FOLLOWUP_LAST_CHECK_KEY) == moment.encode()

        wait_until(checked, timeout=60, interval=0.2, what=f"a due check at {moment}")
    (notice,) = _notices_for(service, "MRN5004")
    rows = _observations(notice)
    assert ("FOLLOW_UP_OVERDUE", "overdue^Follow-up overdue^RADFLAG") in rows
    assert ("FOLLOW_UP_ID", opened.public_id) in rows
    assert ("ORIGINAL_CONTROL_ID", "E4R1") in rows
    assert notice.split(b"\r")[0].split(b"|")[8] == b"ORU^R01^ORU_R01"
    trail = service.store().followup(opened.public_id)
    assert trail is not None and trail.audit[-1][1:4] == ("open", "overdue", "radflag-beat")


def _notices_for(service: Service, mrn: str) -> list[bytes]:
    return [m for m in list(service.notices.received) if f"|{mrn}^".encode() in m]
