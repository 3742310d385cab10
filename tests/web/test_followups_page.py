"""The Follow-ups worklist and a follow-up's page over real HTTP (uvicorn, a real SQLite store)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from hl7.extract import extract_report
from tests.followup.messages import appointment, report
from tests.web.server import serving
from worker.followup_store import FollowupStore, open_followups
from worker.followup_tasks import track_report
from worker.reports import annotate_report
from worker.settings import Settings
from worker.store import open_store
from worker.web.app import create_app

KNEE = (
    "MRI LEFT KNEE\nFindings:\nBone marrow edema in the medial femoral condyle.\nImpression:\n"
    "Bone marrow edema. Follow-up MRI in 6-8 weeks is recommended."
)
LATER = (
    "MRI LEFT KNEE\nFindings:\nThe bone marrow edema in the medial femoral condyle has "
    "progressed.\nImpression:\nProgressive edema."
)


def _track(settings: Settings, raw: bytes, key: str) -> None:
    parsed = extract_report(raw)
    track_report(settings, raw, parsed, annotate_report(parsed), key, datetime.now(UTC))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    clock = tmp_path / "clock"
    clock.write_text("2026-02-10T00:00:00+00:00")
    return Settings(data_dir=tmp_path / "data", followup_clock_file=clock)


@pytest.fixture
def client(settings: Settings) -> Iterator[httpx.Client]:
    _track(settings, report("W1", "MRN8001", KNEE), "w1")  # due 16 Feb - 2 Mar: due soon
    _track(settings, report("W2", "MRN8002", KNEE, at="20251101090000"), "w2")
    _track(settings, report("W3", "MRN8003", KNEE), "w3")
    _track(settings, report("W4", "MRN8003", LATER, at="20260201090000"), "w4")
    store = open_followups(settings)
    store.check_due(datetime(2026, 2, 10, tzinfo=UTC), None)  # W2 is overdue
    now = datetime(2026, 2, 10, tzinfo=UTC)
    from followup.events import clinical_event
    from hl7.orders import read_event
    from worker.followup_store import ExamRecord

    booking = appointment("W5", "MRN8003", appointment_id="AP8", start="20260320100000")
    store.record_event(ExamRecord("w5", clinical_event(read_event(booking)), now), now=now)
    with (
        serving(create_app(settings, store=open_store(settings))) as base_url,
        httpx.Client(base_url=base_url, timeout=10) as http,
    ):
        yield http


def _section(page: str, key: str) -> str:
    start = page.index(f'id="section-{key}"')
    end = page.find("<section", start + 1)
    return page[start : end if end > 0 else len(page)]


def test_worklist_sections(client: httpx.Client) -> None:
    """Due soon, overdue, scheduled and completed each list their follow-ups, patient, due."""
    page = client.get("/followups").text
    assert "MRN8001 (GENHOSP)" in _section(page, "due_soon")
    assert "MRN8002 (GENHOSP)" in _section(page, "overdue")
    assert "MRN8003 (GENHOSP)" in _section(page, "scheduled")
    completed = _section(page, "completed")
    assert "MRN8003 (GENHOSP)" in completed and "adherent" in completed
    assert "2026-02-16 – 2026-03-02" in _section(page, "due_soon")
    links = re.findall(r'href="(/followups/[^"]*)"', page)
    assert links and all(re.fullmatch(r"/followups/[0-9a-f]{32}", u) for u in links)
    assert 'href="/followups"' in page  # the navigation


def _detail_url(client: httpx.Client, section: str, patient: str) -> str:
    part = _section(client.get("/followups").text, section)
    row = part[part.index(patient) :]
    return re.findall(r'href="(/followups/[0-9a-f]{32})"', row)[0]


def test_timeline_shows_the_course(client: httpx.Client) -> None:
    """The patient's timeline lists both exams and the progression with the escalation."""
    page = client.get(_detail_url(client, "completed", "MRN8003")).text
    timeline = page[page.index('id="patient-timeline"') :]
    assert timeline.count("<tr") >= 4  # header, two reports, the appointment
    assert "progressed" in timeline and "osteonecrosis concern escalated" in timeline


def test_not_needed_with_reason_and_csrf(client: httpx.Client, settings: Settings) -> None:
    """The action needs the page's token and a reason; it is kept with who did it."""
    url = _detail_url(client, "due_soon", "MRN8001")
    page = client.get(url).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    forged = client.post(url + "/status", data={"csrf_token": "x", "status": "not_needed"})
    assert forged.status_code == 403
    form = {"csrf_token": token.group(1), "status": "not_needed", "reviewer": "Dr Lee"}
    assert client.post(url + "/status", data={**form, "reason": " "}).status_code == 400
    done = client.post(url + "/status", data={**form, "reason": "pain resolved"})
    assert done.status_code == 303 and done.headers["location"] == url
    assert "Status <strong>not needed</strong>" in client.get(url).text
    store: FollowupStore = open_followups(settings)
    view = store.followup(url.rsplit("/", 1)[1])
    assert view is not None and view.audit[-1][3:] == ("Dr Lee", "pain resolved")
    again = client.post(url + "/status", data={**form, "reason": "twice"})
    assert again.status_code == 400 and "closed already" in again.text


def test_unknown_follow_up_is_404(client: httpx.Client) -> None:
    """An unknown id is a 404 page."""
    assert client.get("/followups/" + "0" * 32).status_code == 404
