"""Accounts on the page over real HTTP: login form and session, Basic, roles, rate limit, audit.

And the form secret shared through the store: a review still works after a
restart and through a second `radflag web` process.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import RadflagProcess, accepts, free_port, service_env, wait_until
from tests.web.server import serving
from tests.web.test_app import T0, record
from worker.settings import Settings
from worker.store import Store, open_store
from worker.store_accounts import AccountStore
from worker.store_feedback import feedback_of
from worker.web.app import create_app
from worker.web.auth import SESSION_COOKIE

PASSWORD = "synthetic password 1"
HTML = {"Accept": "text/html"}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(Settings(data_dir=tmp_path / "data"))
    record(store, "M1", (("BME", "routine"), ("OSTEONECROSIS_CONCERN", "high")), T0, "ACC-1")
    accounts = AccountStore(store.engine)
    accounts.add_user("alice", "radiologist", PASSWORD, by="test")
    accounts.add_user("olga", "operator", PASSWORD, by="test")
    yield store
    store.close()


@pytest.fixture
def base_url(store: Store, tmp_path: Path) -> Iterator[str]:
    with serving(create_app(Settings(data_dir=tmp_path / "data"), store=store)) as url:
        yield url


_CLIENTS: list[httpx.Client] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _CLIENTS:
        _CLIENTS.pop().close()


def login(base_url: str, name: str, password: str = PASSWORD) -> httpx.Client:
    client = httpx.Client(base_url=base_url, timeout=30, headers=HTML)
    _CLIENTS.append(client)
    form = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', form).group(1)  # type: ignore[union-attr]
    answer = client.post("/login", data={"username": name, "password": password,
                                         "csrf_token": token, "next": "/"})  # fmt: skip
    client.last_login = answer  # type: ignore[attr-defined]
    return client


def form_token(page: str) -> str:
    return re.search(r'name="csrf_token" value="([0-9a-f]+)"', page).group(1)  # type: ignore[union-attr]


def report_path(client: httpx.Client) -> str:
    return re.findall(r'href="(/reports/[0-9a-f]{32})', client.get("/").text)[0]


def test_pages_need_a_login_once_accounts_exist(base_url: str) -> None:
    anonymous = httpx.Client(base_url=base_url, timeout=30, headers=HTML)
    answer = anonymous.get("/?flag=BME")
    assert (
        answer.status_code == 303 and answer.headers["location"] == "/login?next=%2F%3Fflag%3DBME"
    )
    assert httpx.get(base_url + "/worklist/state", timeout=30).status_code == 401
    _CLIENTS.append(anonymous)
    assert anonymous.get("/metrics").status_code == 200  # no health data, no login
    alice = login(base_url, "alice")
    assert alice.last_login.status_code == 303  # type: ignore[attr-defined]
    cookie = alice.cookies.get(SESSION_COOKIE)
    assert cookie and "alice" not in cookie  # the cookie holds an id, not the name
    page = alice.get("/").text
    assert "signed in as alice" in page and "ACC-1" in page and "Testpatient" not in page


def test_wrong_password_then_rate_limited(base_url: str, store: Store) -> None:
    for _ in range(5):
        wrong = login(base_url, "alice", "not the password")
        assert wrong.last_login.status_code == 401  # type: ignore[attr-defined]
        assert "Wrong user name or password" in wrong.last_login.text  # type: ignore[attr-defined]
    throttled = login(base_url, "alice").last_login  # type: ignore[attr-defined]
    assert throttled.status_code == 429 and "Too many failed logins" in throttled.text
    assert int(throttled.headers["retry-after"]) > 0
    basic = httpx.get(base_url + "/", auth=("alice", PASSWORD), timeout=30)
    assert basic.status_code == 429  # Basic counts against the same limit
    actions = [e.action for e in AccountStore(store.engine).audit_trail()]
    assert actions.count("login_failed") == 5 and "login_throttled" in actions


def test_basic_auth_with_an_account(base_url: str) -> None:
    assert httpx.get(base_url + "/", auth=("olga", PASSWORD), timeout=30).status_code == 200
    wrong = httpx.get(base_url + "/", auth=("olga", "nope"), timeout=30)
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Basic")


def test_roles(base_url: str) -> None:
    alice, olga = login(base_url, "alice"), login(base_url, "olga")
    assert alice.get("/quality").status_code == 403
    assert olga.get("/quality").status_code == 200
    path = report_path(olga)
    page = olga.get(path).text
    assert "Your role does not review reports" in page
    refused = olga.post(path + "/reviewed", data={"csrf_token": form_token(page)})
    assert refused.status_code == 403


def test_review_is_audited_and_disabling_ends_the_session(base_url: str, store: Store) -> None:
    alice = login(base_url, "alice")
    path = report_path(alice)
    page = alice.get(path).text
    done = alice.post(path + "/reviewed", data={
        "csrf_token": form_token(page), "verdict_OSTEONECROSIS_CONCERN": "disagree",
        "reason_OSTEONECROSIS_CONCERN": "wrong_cause", "then": "stay",
    })  # fmt: skip
    assert done.status_code == 303
    [review] = feedback_of(store).reviews(path.rsplit("/", 1)[1])
    assert review.reviewer == "alice" and not review.review.verdicts["OSTEONECROSIS_CONCERN"].agree
    [event] = AccountStore(store.engine).audit_trail(action="review")
    assert event.user == "alice" and event.detail == {
        "disagree": ["OSTEONECROSIS_CONCERN"], "corrected": False, "missed": False,
    }  # fmt: skip
    missing_reason = alice.post(path + "/reviewed", data={
        "csrf_token": form_token(page), "verdict_BME": "disagree", "then": "stay",
    })  # fmt: skip
    assert (
        missing_reason.status_code == 400 and "say why you disagree with BME" in missing_reason.text
    )
    AccountStore(store.engine).set_disabled("alice", True, by="test")
    assert alice.get("/").status_code == 303  # back to the login form


@pytest.mark.integration
def test_review_after_restart_and_through_a_second_process(store: Store, tmp_path: Path) -> None:
    """The form of one `radflag web` works in another, and after both restarted."""
    env = service_env(tmp_path / "data", None)

    def web(name: str) -> tuple[RadflagProcess, str]:
        port = free_port()
        process = RadflagProcess(name, ["web", "--http-port", str(port)], env,
                                 tmp_path / f"{name}.log").start()  # fmt: skip
        wait_until(lambda: accepts(port), timeout=60, what=f"{name} on its port")
        return process, f"http://127.0.0.1:{port}"

    first, first_url = web("web-a")
    second, second_url = web("web-b")
    try:
        alice = login(first_url, "alice")
        path = report_path(alice)
        token = form_token(alice.get(path).text)
        alice.base_url = httpx.URL(second_url)  # same cookies, the other process
        through = alice.post(path + "/reviewed", data={"csrf_token": token, "then": "stay"})
        assert through.status_code == 303, through.text
    finally:
        first.stop()
        second.stop()
    restarted, restarted_url = web("web-c")
    try:
        alice.base_url = httpx.URL(restarted_url)
        again = alice.post(path + "/reviewed", data={"csrf_token": token, "then": "stay"})
        assert again.status_code == 303, again.text
        assert "signed in as alice" in alice.get("/").text  # the session survived too
    finally:
        restarted.stop()
    assert [r.reviewer for r in feedback_of(store).reviews(path.rsplit("/", 1)[1])] == [
        "alice", "alice",
    ]  # fmt: skip


def test_agreement_gauges_on_metrics(base_url: str, store: Store) -> None:
    """After a review, /metrics has the agreement per flag code (all languages and per language)."""
    alice = login(base_url, "alice")
    path = report_path(alice)
    alice.post(path + "/reviewed", data={
        "csrf_token": form_token(alice.get(path).text), "then": "stay",
        "verdict_OSTEONECROSIS_CONCERN": "disagree", "reason_OSTEONECROSIS_CONCERN": "not_bme",
    })  # fmt: skip
    from prometheus_client.parser import text_string_to_metric_families

    body = httpx.get(base_url + "/metrics", timeout=30).text
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }
    agreement = "radflag_flag_agreement"
    assert samples[(agreement, (("code", "BME"), ("language", "all")))] == 1.0
    assert samples[(agreement, (("code", "OSTEONECROSIS_CONCERN"), ("language", "en")))] == 0.0
    disagreed = (("code", "OSTEONECROSIS_CONCERN"), ("language", "en"), ("verdict", "disagree"))
    assert samples[("radflag_flag_reviews", disagreed)] == 1


def test_admin_manages_users_on_the_page(base_url: str, store: Store) -> None:
    AccountStore(store.engine).add_user("ada", "admin", PASSWORD, by="test")
    alice, ada = login(base_url, "alice"), login(base_url, "ada")
    assert alice.get("/admin/users").status_code == 403
    page = ada.get("/admin/users").text
    assert 'data-user="alice"' in page and "user_add" in page  # accounts and the audit trail
    token = form_token(page)
    rita = {"name": "rita", "role": "radiologist", "password": PASSWORD}
    added = ada.post("/admin/users", data={"csrf_token": token, "action": "add", **rita})
    assert added.status_code == 303
    assert login(base_url, "rita").last_login.status_code == 303  # type: ignore[attr-defined]
    short = ada.post("/admin/users", data={"csrf_token": token, "action": "passwd",
                                           "name": "rita", "password": "short"})  # fmt: skip
    assert short.status_code == 400 and "at least 10 characters" in short.text
    own = ada.post("/admin/users", data={"csrf_token": token, "action": "disable", "name": "ada"})
    assert own.status_code == 400 and "your own account" in own.text
    ada.post("/admin/users", data={"csrf_token": token, "action": "disable", "name": "alice"})
    assert alice.get("/").status_code == 303  # her session ended
    forged = ada.post("/admin/users", data={"csrf_token": "x", "action": "enable", "name": "alice"})
    assert forged.status_code == 403
    trail = [(e.user, e.action, e.target) for e in AccountStore(store.engine).audit_trail()]
    assert ("ada", "user_add", "rita") in trail and ("ada", "user_disable", "alice") in trail


def test_bad_worklist_and_review_input_get_clear_errors(base_url: str) -> None:
    alice = login(base_url, "alice")
    for query, message in [
        ("sort=shoe", "sort must be one of"),
        ("dir=up", "dir must be asc or desc"),
        ("page=two", "page must be a number"),
        ("reviewed=maybe", "reviewed must be yes, no or all"),
        ("date_from=yesterday", "not a date"),
    ]:
        answer = alice.get("/?" + query)
        assert answer.status_code == 400 and message in answer.text, query
    path = report_path(alice)
    token = form_token(alice.get(path).text)
    for form, message in [
        ({"site_bone": ["talus", "calcaneus"], "site_side": ["left"]}, "each site needs"),
        ({"site_bone": "elbow_everywhere", "site_side": "left"}, "unknown bone"),
        ({"etiology_shown": "1", "etiology": "gremlins"}, "unknown cause"),
        ({"bme": "likely"}, "status must be one of"),
        ({"verdict_BME": "perhaps"}, "verdict must be agree or disagree"),
    ]:
        answer = alice.post(path + "/reviewed", data={"csrf_token": token, **form})
        assert answer.status_code == 400 and message in answer.text, form
    assert alice.get("/reports/" + "0" * 32).status_code == 404


def test_logout_ends_the_session_everywhere(base_url: str, store: Store) -> None:
    alice = login(base_url, "alice")
    cookie = alice.cookies.get(SESSION_COOKIE)
    copy = httpx.Client(base_url=base_url, timeout=30, headers=HTML,
                        cookies={SESSION_COOKIE: cookie or ""})  # fmt: skip
    _CLIENTS.append(copy)
    assert copy.get("/").status_code == 200  # a copy of the cookie works ...
    out = alice.post("/logout", data={"csrf_token": form_token(alice.get("/").text)})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert alice.get("/").status_code == 303
    assert copy.get("/").status_code == 303  # ... until the logout
    assert ("alice", "logout") in [
        (e.user, e.action) for e in AccountStore(store.engine).audit_trail()
    ]
