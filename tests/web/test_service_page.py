"""The dev corpus through `radflag run`, then the store, status, /metrics and the page.

`radflag run` (embedded redis-server, listener, Celery workers, `radflag web`)
with a test destination; the reports go in as ORU^R01 over MLLP, with one
unsupported ADT. Then: the store holds every message with its ACK, annotation,
result and delivery outcome; `radflag status --json` and the run's /metrics
agree with what was sent; and a real headless Chromium loads the run's
worklist, filters it, opens a report, marks it reviewed and saves the README's
screenshots (to a temporary folder; `make screenshots` writes the README's, in docs/).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from hl7.ack import parse_ack
from hl7.header import parse_header
from nlp.model import PRIORITY_RANK
from tests.conftest import FIXTURES
from tests.hl7.messages import wrap_oru
from tests.servers import (
    MllpDestination,
    RadflagProcess,
    accepts,
    free_port,
    mllp_exchange,
    service_env,
    wait_until,
)
from worker import keys
from worker.cli import main
from worker.settings import Settings
from worker.store import Store, open_store

pytestmark = [pytest.mark.shared, pytest.mark.integration]

# `make screenshots` sets this to docs/ to refresh the README's pictures.
SCREENSHOT_DIR_VARIABLE = "RADFLAG_SCREENSHOT_DIR"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@dataclass
class ServiceRun:
    settings: Settings
    redis_url: str
    base_url: str  # the page, /metrics and /readyz as `radflag run` serves them
    sent: dict[str, bytes]  # dedupe key -> raw ORU^R01
    rejected: dict[str, bytes]  # dedupe key -> raw message answered AR
    acks: list[bytes]
    store: Store


def corpus_messages(corpus: Path) -> list[bytes]:
    lines = corpus.read_text(encoding="utf-8").splitlines()
    return [
        wrap_oru(item["text"], item.get("procedure"), style="sections",
                 control_id=f"E2E{n:04d}", accession=f"A{770000 + n}")
        for n, item in enumerate(json.loads(line) for line in lines)
    ]  # fmt: skip


@pytest.fixture(scope="module")
def service_run(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path) -> Iterator[ServiceRun]:
    """The whole dev corpus (and one unsupported message) through `radflag run`."""
    base = tmp_path_factory.mktemp("service")
    destination = MllpDestination().start()
    mllp_port, http_port = free_port(), free_port()
    # The destination answers from this busy test process: a 2-second ACK timeout
    # can expire on a loaded machine and count a failed attempt (delivery is at least
    # once), which the exact counts below would read as a failure.
    env = service_env(
        base / "data", None, destination=destination.address, mllp_port=mllp_port,
        http_port=http_port, concurrency=2, delivery_timeout=15.0,
    )  # fmt: skip
    run = RadflagProcess("run", ["run"], env, base / "run.log").start()
    try:
        wait_until(lambda: accepts(mllp_port) and accepts(http_port), timeout=90,
                   what="the MLLP and HTTP ports of radflag run")  # fmt: skip
        oru = corpus_messages(shared_dir / "corpus" / "dev.jsonl")
        adt = (FIXTURES / "hl7" / "adt_v25_a01.hl7").read_bytes().replace(b"\n", b"\r")
        acks = mllp_exchange(mllp_port, [*oru, adt], timeout=60)
        destination.wait_for(len(oru), timeout=240)
        settings = Settings(data_dir=base / "data")
        redis_url = keys.resolve_redis_url(settings)
        assert redis_url is not None
        store = open_store(settings)
        wait_until(lambda: store.counts().deliveries.get("delivered", 0) >= len(oru),
                   timeout=60, what="every delivery recorded")  # fmt: skip
        wait_until(lambda: sum(store.counts().messages.values()) >= len(oru) + 1,
                   timeout=60, what="the rejected message recorded")  # fmt: skip
        yield ServiceRun(
            settings, redis_url, f"http://127.0.0.1:{http_port}",
            sent={parse_header(m).dedupe_key: m for m in oru},
            rejected={parse_header(adt).dedupe_key: adt}, acks=acks, store=store,
        )  # fmt: skip
    finally:
        run.stop()
        destination.stop()


def test_store_holds_every_message(service_run: ServiceRun) -> None:
    """Every message is stored with its ACK; every ORU with annotation, result and delivery."""
    store, sent = service_run.store, service_run.sent
    codes = [parse_ack(a).code for a in service_run.acks]
    assert codes == ["AA"] * len(sent) + ["AR"]
    for key, raw in sent.items():
        assert store.message_raw(key) == ("AA", raw)
    [(rejected_key, rejected_raw)] = service_run.rejected.items()
    stored = store.message_raw(rejected_key)
    assert stored is not None and stored[0] in ("AR", "CR") and stored[1] == rejected_raw
    counts = store.counts()
    assert counts.annotations == len(sent)
    assert counts.deliveries == {"delivered": len(sent)}
    flagged, _ = store.worklist(limit=1000)
    assert flagged, "the corpus slice has flagged reports"
    for row in flagged:
        view = store.report(row.public_id)
        assert view is not None and view.result_control_id and view.report_text
        assert [d[1] for d in view.deliveries] == ["delivered"]


def _metric_samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def test_status_and_metrics_agree_with_what_was_sent(service_run: ServiceRun) -> None:
    """`radflag status --json` and /metrics count what went in, and see a live worker."""
    n = len(service_run.sent)
    data_dir = str(service_run.settings.data_dir)
    result = CliRunner().invoke(main, ["status", "--json", "--data-dir", data_dir])
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert status["ready"] and status["workers"]
    by_ack = {(m["message_type"], m["ack_code"]): m["count"] for m in status["store"]["messages"]}
    assert by_ack[("ORU^R01", "AA")] == n and status["store"]["deliveries"] == {"delivered": n}
    assert status["queues"]["annotate"] == 0 and status["dlq_size"] == 0

    body = httpx.get(service_run.base_url + "/metrics", timeout=30).text
    samples = _metric_samples(body)
    aa = ("radflag_messages_received_total", (("ack_code", "AA"), ("message_type", "ORU^R01")))
    assert samples[aa] == n
    assert samples[("radflag_deliveries_total", (("outcome", "delivered"),))] == n
    flags = {dict(k[1])["code"]: v for k, v in samples.items() if k[0] == "radflag_flags_total"}
    assert flags == status["store"]["flags"] and sum(flags.values()) > 0
    assert samples[("radflag_workers_alive", ())] >= 1
    assert samples[("radflag_annotations_total", ())] == n
    timed = [
        samples.get(("radflag_task_duration_seconds_count", (("task", name),)), 0.0)
        for name in ("radflag.annotate", "radflag.annotate_batch")
    ]
    if any(timed):  # timing installed: each task timed, a batch task holding several messages
        assert 1 <= sum(timed) <= n

    # /readyz pings the workers for half a second, as a probe would; on a loaded
    # machine one ping can miss it, so ask again as a probe does (bounded).
    def ready() -> dict[str, Any] | None:
        response = httpx.get(service_run.base_url + "/readyz", timeout=30)
        return response.json() if response.status_code == 200 else None

    reading = wait_until(ready, timeout=30, interval=0.5, what="/readyz 200")
    assert reading["ready"] and reading["workers"] >= 1


# --- the page in a real headless Chromium -------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


def assert_not_blank(browser: Any, png: Path) -> None:
    """The PNG exists and shows a picture: many colours, no one colour nearly everywhere."""
    assert png.is_file() and png.stat().st_size > 10_000
    data_url = "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode()
    page = browser.new_page()  # about:blank: the app's CSP would refuse a data: image
    colours, dominant = page.evaluate(
        """async (url) => {
            const img = new Image(); img.src = url; await img.decode();
            const c = document.createElement('canvas'); c.width = img.width; c.height = img.height;
            const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
            const px = ctx.getImageData(0, 0, c.width, c.height).data;
            const seen = new Map();
            for (let i = 0; i < px.length; i += 4 * 7) {
                const k = (px[i] << 16) | (px[i + 1] << 8) | px[i + 2];
                seen.set(k, (seen.get(k) || 0) + 1);
            }
            const total = Math.ceil(px.length / 28);
            return [seen.size, Math.max(...seen.values()) / total];
        }""",
        data_url,
    )
    page.close()
    assert colours > 50 and dominant < 0.9, (colours, dominant)


def _showcase_rank(store: Store, public_id: str) -> tuple[bool, int, int, int]:
    # Several mention statuses to show, then the highest priority, then the most of both.
    view = store.report(public_id)
    assert view is not None
    mentions = view.annotation["mentions"]
    statuses = len({m["status"] for m in mentions})
    return statuses > 1, PRIORITY_RANK[view.row.top_priority], statuses, len(mentions)


def _ranks(page: Any) -> list[int]:
    badges = page.locator("#worklist tbody tr td:first-child .badge").all_inner_texts()
    return [PRIORITY_RANK[b.strip().lower()] for b in badges]


@pytest.mark.browser
def test_page_in_chromium(service_run: ServiceRun, browser: Any, tmp_path: Path) -> None:
    """Worklist, filter, report with highlighted mentions, reviewed action, screenshots."""
    store = service_run.store
    flagged, total = store.worklist(limit=1000)
    shots = Path(os.environ.get(SCREENSHOT_DIR_VARIABLE) or tmp_path)
    shots.mkdir(exist_ok=True)
    base_url = service_run.base_url
    # The page as `radflag run` serves it (its `radflag web` child process).
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(base_url + "/")
    assert page.locator("#worklist tbody tr").count() == total
    ranks = _ranks(page)
    assert ranks == sorted(ranks, reverse=True)
    page.screenshot(path=str(shots / "worklist.png"))
    assert_not_blank(browser, shots / "worklist.png")

    # The README's report: the flagged one whose mentions show the most statuses.
    showcase = max(flagged, key=lambda r: _showcase_rank(store, r.public_id))
    code = showcase.flags[0][0]
    page.select_option("#filter-flag", code)
    page.click("#apply")
    page.wait_for_url("**flag=" + code + "*")
    rows = page.locator("#worklist tbody tr")
    expected = [r for r in flagged if code in {c for c, _ in r.flags}]
    assert rows.count() == len(expected) > 0
    assert "flag=" + code in page.url and "A77" not in page.url  # no accession in the URL

    page.click(f'#worklist a[href^="/reports/{showcase.public_id}"]')  # with ?list=<filters>
    page.wait_for_selector("#report-text")
    public_id = page.url.rsplit("/", 1)[1].split("?")[0]
    view = store.report(public_id)
    assert view is not None and view.row.accession not in page.url
    shown = page.locator("#report-text mark.mention")
    fitting = [m for m in view.annotation["mentions"]
               if view.report_text[m["start"]:m["end"]] == m["text"]]  # fmt: skip
    assert shown.count() == len(fitting) > 0
    assert sorted(shown.evaluate_all("els => els.map(e => e.dataset.status)")) == sorted(
        m["status"] for m in fitting
    )
    page.screenshot(path=str(shots / "report.png"))
    assert_not_blank(browser, shots / "report.png")

    page.fill("#reviewer", "Dr. Test")
    page.click("#mark-reviewed")
    page.wait_for_selector("#reviewed-by")
    assert "Dr. Test" in page.inner_text("#reviewed-by")
    reviewed = store.report(public_id)
    assert reviewed is not None and reviewed.row.reviewed_by == "Dr. Test"

    page.goto(base_url + "/?reviewed=yes")
    assert page.locator("#worklist tbody tr").count() == 1
    page.close()
