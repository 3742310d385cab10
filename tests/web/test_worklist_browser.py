"""The worklist as radiologists use it, in a real headless Chromium (Playwright).

Real parts: reports go through the annotate task (HL7 parse, medspaCy pipeline,
result, store) into a SQLite store; the page is served by uvicorn on
127.0.0.1; two radiologists and an operator log in with their own accounts.
All patients and reports are synthetic.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from feedback.labels import make_review
from tests.servers import start_redis
from tests.web.server import serving
from tests.web.test_service_page import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    SCREENSHOT_DIR_VARIABLE,
    assert_not_blank,
)
from tests.worker.versioned import GERMAN, URGENT, WORKLIST, annotate, versioned_oru
from worker import celery_app
from worker.cli import main
from worker.settings import Settings
from worker.store import Store, open_store
from worker.store_accounts import AccountStore
from worker.store_feedback import feedback_of
from worker.store_queries import WorklistFilter
from worker.web.app import create_app

pytestmark = [pytest.mark.integration, pytest.mark.browser]

PASSWORD = "synthetic password 1"
T0 = datetime(2026, 3, 2, 7, 30, tzinfo=UTC)
WAIT_MS = 20_000  # for the page's own polling (every 3 s) on a busy machine


@dataclass
class Site:
    settings: Settings
    store: Store
    url: str


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """Five flagged synthetic reports, three accounts, the page on a free port."""
    redis = start_redis(tmp_path / "redis")
    settings = Settings(data_dir=tmp_path / "data", display_timezone="Europe/Berlin")
    celery_app.configure(settings, redis_url=redis.url)
    try:
        store = open_store(settings)
        for n, (text, procedure, name, birth, sex) in enumerate(WORKLIST):
            message = versioned_oru(
                text, accession=f"ACC-{1001 + n}", control_id=f"W{n}", procedure=procedure,
                patient=(f"MRN{5001 + n}", name, birth, sex), exam=f"2026030207{10 + n}00",
            )  # fmt: skip
            annotate(message, f"W{n}", received_at=T0 + timedelta(minutes=n))
        accounts = AccountStore(store.engine)
        for name, role in (("alice", "radiologist"), ("bob", "radiologist"), ("olga", "operator")):
            accounts.add_user(name, role, PASSWORD, by="test")
        with serving(create_app(settings, store=store)) as url:
            yield Site(settings, store, url)
    finally:
        redis.stop()


def log_in(browser: Any, site: Site, name: str) -> Any:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(site.url + "/")
    assert "/login" in page.url  # no page without a login
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.wait_for_selector("#worklist, #empty")
    assert f"signed in as {name}" in page.inner_text("#signed-in")
    return page


def row_ids(page: Any) -> list[str]:
    return page.locator("#worklist tbody tr").evaluate_all("rows => rows.map(r => r.dataset.id)")


def test_two_radiologists_review_with_the_keyboard(browser: Any, site: Site) -> None:
    alice, bob = log_in(browser, site, "alice"), log_in(browser, site, "bob")
    order = row_ids(alice)
    assert len(order) == 5
    assert alice.locator("#worklist tbody tr.is-selected").get_attribute("data-id") == order[0]
    alice.keyboard.press("j")
    alice.keyboard.press("j")
    alice.keyboard.press("k")
    assert alice.locator("#worklist tbody tr.is-selected").get_attribute("data-id") == order[1]
    alice.keyboard.press("Enter")
    alice.wait_for_url(f"**/reports/{order[1]}*")
    # r: review and next, three times in a row; the unreviewed list's top comes next.
    seen = [order[1]]
    for _ in range(3):
        alice.keyboard.press("r")
        alice.wait_for_function(
            "seen => !seen.some(id => location.pathname.endsWith(id))", arg=seen
        )
        seen.append(alice.url.split("/reports/")[1].split("?")[0])
    reviewed = [r.public_id for r in site.store.worklist(WorklistFilter(reviewed=True))[0]]
    assert sorted(reviewed) == sorted(seen[:3])
    assert seen[3] not in reviewed and seen[3] in order
    # n: next without reviewing; u: back to the list.
    alice.keyboard.press("u")
    alice.wait_for_selector("#worklist")
    assert alice.locator("#worklist tbody tr").count() == 2
    # Bob reviews from the list with r; his name, not Alice's, is on that review.
    bob.reload()
    assert bob.locator("#worklist tbody tr").count() == 2
    bob_first = row_ids(bob)[0]
    bob.keyboard.press("r")
    bob.wait_for_function("() => document.querySelectorAll('#worklist tbody tr').length === 1")
    assert feedback_of(site.store).reviews(bob_first)[0].reviewer == "bob"
    assert {feedback_of(site.store).reviews(i)[0].reviewer for i in seen[:3]} == {"alice"}
    bob.goto(site.url + "/?reviewed=yes")
    assert bob.locator("#worklist tbody tr").count() == 4
    assert "✓ alice" in bob.inner_text("#worklist") and "✓ bob" in bob.inner_text("#worklist")


def test_search_and_sort(browser: Any, site: Site) -> None:
    page = log_in(browser, site, "alice")
    page.fill("#search", "sample")  # part of a patient name, any case
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelectorAll('#worklist tbody tr').length === 1")
    assert "Sample, Berta" in page.inner_text("#worklist tbody")
    assert "ample" not in page.url.lower()  # a name is never in an address
    page.fill("#search", "MRN5004")  # a patient id
    page.keyboard.press("Enter")
    page.wait_for_selector("#worklist tbody tr >> text=Muster, Dana")
    assert page.locator("#worklist tbody tr").count() == 1
    page.fill("#search", "acc-1003")  # an accession
    page.keyboard.press("Enter")
    page.wait_for_selector("#worklist tbody tr >> text=ACC-1003")
    assert page.locator("#worklist tbody tr").count() == 1
    page.click("#search-clear")
    page.wait_for_function("() => document.querySelectorAll('#worklist tbody tr').length === 5")

    def column(index: int) -> list[str]:
        return [t.strip() for t in page.locator(f"#worklist tbody tr td:nth-child({index})")
                .all_inner_texts()]  # fmt: skip

    page.click('th a[data-sort="patient"]')
    page.wait_for_url("**sort=patient**")
    names = [n.splitlines()[0] for n in column(2)]
    direction = page.url.split("dir=")[1][:4]
    assert names == sorted(names, reverse=direction == "desc") and len(set(names)) == 5
    page.click('th a[data-sort="patient"]')  # again: the other way round
    page.wait_for_function("d => !location.search.includes('dir=' + d)", arg=direction)
    assert [n.splitlines()[0] for n in column(2)] == names[::-1]
    page.click('th a[data-sort="age"]')
    page.wait_for_url("**sort=age**")
    ages = [int(a.split()[0]) for a in column(3)]
    assert ages == sorted(ages, reverse="dir=desc" in page.url)
    page.click('th a[data-sort="accession"]')
    page.wait_for_url("**sort=accession**")
    accessions = column(8)
    assert accessions == sorted(accessions, reverse="dir=desc" in page.url)


def test_urgent_report_appears_without_reloading(browser: Any, site: Site) -> None:
    page = log_in(browser, site, "alice")
    page.evaluate("window.__stillThisPage = true")
    before = row_ids(page)
    message = versioned_oru(
        URGENT, accession="ACC-9001", control_id="URG1", procedure="MRI FOOT LEFT",
        patient=("MRN9001", "Urgent^Fay", "19480101", "F"),
    )  # fmt: skip
    annotate(message, "URG1")
    page.wait_for_selector("#urgent-alert:not([hidden])", timeout=WAIT_MS)
    first = page.locator("#worklist tbody tr").first
    assert first.get_attribute("data-priority") == "urgent"  # urgent first, at once
    assert "is-new" in (first.get_attribute("class") or "")
    assert first.get_attribute("data-id") not in before and "Urgent, Fay" in first.inner_text()
    assert page.evaluate("window.__stillThisPage") is True  # no reload happened
    assert page.inner_text("#match-count") == "6"
    assert "urgent" in page.title()
    # An open list whose session ends (account disabled) goes to the login form by itself.
    AccountStore(site.store.engine).set_disabled("alice", True, by="test")
    page.wait_for_url(re.compile(r"/login\?next="), timeout=WAIT_MS)
    assert page.locator("#login-form").count() == 1


def test_disagree_correct_site_export_and_eval(browser: Any, site: Site, tmp_path: Path) -> None:
    page = log_in(browser, site, "alice")
    knee = next(r for r in site.store.worklist()[0] if r.patient_name == "Testpatient, Alex")
    page.goto(f"{site.url}/reports/{knee.public_id}")
    assert page.locator("#report-text mark.mention").count() >= 1
    assert page.locator("#report-text .evidence-text").count() >= 1
    page.select_option("#reason-BME", "wrong_site")
    assert page.is_checked("#disagree-BME")  # choosing a reason says "disagree"
    page.click("#correct summary")
    page.select_option("#site-bone-0", "lateral_femoral_condyle")
    page.select_option("#site-side-0", "left")
    page.click("#mark-reviewed")
    page.wait_for_selector("#review-history")
    history = page.inner_text("#review-history")
    assert "disagree" in history and "lateral femoral condyle (L)" in history
    [review] = feedback_of(site.store).reviews(knee.public_id)
    assert review.review.sites == (("lateral_femoral_condyle", "left"),)

    runner = CliRunner()
    data = ["--data-dir", str(site.settings.data_dir)]
    exported = runner.invoke(main, ["feedback", "export", *data])
    assert exported.exit_code == 0, exported.output
    local = tmp_path / "local.jsonl"
    local.write_text(exported.stdout, encoding="utf-8")
    [line] = [json.loads(x) for x in exported.stdout.splitlines()]
    assert line["id"] == knee.public_id
    assert line["gold"]["sites"] == [{"bone": "lateral_femoral_condyle", "laterality": "left"}]
    scored = runner.invoke(main, ["eval", str(local), "--json", "--errors"])
    assert scored.exit_code == 0, scored.output
    [corpus] = json.loads(scored.stdout)["corpora"]
    assert corpus["figures"]["site_f1"] == 0.0 and corpus["figures"]["status_acc"] == 1.0
    [difference] = corpus["errors"]
    assert difference["id"] == knee.public_id and "sites" in difference["differs"]


def test_quality_page_and_screenshots(browser: Any, site: Site, tmp_path: Path) -> None:
    """Versions, reviews with agreement and disagreement, the quality page; the README's pictures.

    `make screenshots` writes them to docs/.
    """
    annotate(versioned_oru(URGENT, accession="ACC-9001", control_id="URG1",
                           procedure="MRI FOOT LEFT", status="P", exam="20260302074000",
                           patient=("MRN9001", "Urgent^Fay", "19480101", "F")), "URG1",
             received_at=T0 + timedelta(minutes=20))  # fmt: skip
    final = URGENT.replace("IMPRESSION:", "No soft tissue abscess.\n\nIMPRESSION:")
    annotate(versioned_oru(final, accession="ACC-9001", control_id="URG2",
                           procedure="MRI FOOT LEFT", status="F", exam="20260302074000",
                           patient=("MRN9001", "Urgent^Fay", "19480101", "F")), "URG2",
             received_at=T0 + timedelta(minutes=55))  # fmt: skip
    for n, (text, procedure, name, birth, sex) in enumerate(GERMAN):
        message = versioned_oru(
            text, accession=f"ACC-{2001 + n}", control_id=f"G{n}", procedure=procedure,
            patient=(f"MRN{6001 + n}", name, birth, sex), exam=f"2026030207{20 + n}00",
        )  # fmt: skip
        annotate(message, f"G{n}", received_at=T0 + timedelta(minutes=5 + n))
    feedback = feedback_of(site.store)
    rows, _ = site.store.worklist()
    reasons = ["wrong_cause", "not_bme", "wrong_site", "historical"]
    for n, row in enumerate(r for r in rows if r.top_priority != "urgent"):
        codes = [code for code, _ in row.flags]
        verdicts = {codes[-1]: ("disagree", reasons[n % 4])} if n % 3 == 1 else {}
        if n < 6:  # reviews over two months, by two radiologists
            feedback.record_review(row.public_id, reviewer=("alice", "bob")[n % 2],
                                   review=make_review(codes, verdicts),
                                   at=T0 - timedelta(days=30 * (n % 2)))  # fmt: skip
    shots = Path(os.environ.get(SCREENSHOT_DIR_VARIABLE) or tmp_path)
    shots.mkdir(exist_ok=True)

    alice = log_in(browser, site, "alice")
    alice.goto(site.url + "/?reviewed=all")
    alice.keyboard.press("j")
    assert alice.locator("#worklist tbody tr").first.get_attribute("data-priority") == "urgent"
    assert "2 versions" in alice.inner_text("#worklist tbody tr:first-child")
    alice.screenshot(path=str(shots / "worklist.png"))
    assert_not_blank(browser, shots / "worklist.png")
    alice.keyboard.press("k")
    alice.keyboard.press("Enter")
    alice.wait_for_selector("#versions")
    assert alice.locator("#versions tbody tr").count() == 2
    alice.select_option("#reason-REACTIVE", "wrong_cause")
    alice.screenshot(path=str(shots / "report.png"), full_page=True)
    assert_not_blank(browser, shots / "report.png")
    assert alice.goto(site.url + "/quality").status == 403  # radiologists review, operators watch

    olga = log_in(browser, site, "olga")
    olga.click("text=Quality")
    olga.wait_for_selector("#agreement")
    shown = {
        row.get_attribute("data-code"): row.inner_text()
        for row in olga.locator("#agreement tbody tr").all()
    }
    quality = feedback.quality()
    assert set(shown) == set(quality.by_code)
    for code, agreement in quality.by_code.items():
        assert f"{100 * (agreement.ppv or 0):.0f}%" in shown[code]
    assert olga.locator("#reasons tbody tr").count() == len(quality.reasons) > 0
    olga.screenshot(path=str(shots / "quality.png"), full_page=True)
    assert_not_blank(browser, shots / "quality.png")
