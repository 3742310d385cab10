"""The page as a hostile tester attacks it: out-of-range parameters give 400 (never 500),
and what it passed stays checked: XSS escaping, CSRF, SQL metacharacters in filters,
path traversal, security headers, no health data in /metrics or the logs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from tests.web.test_app import T0, http_client, record, report_url
from worker.settings import Settings
from worker.store import Store, open_store

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(Settings(data_dir=tmp_path / "data"))
    record(store, "M1", (("BME", "routine"),), T0, "ACC-PLAIN")
    record(store, "M2", (("BME", "high"),), T0 - timedelta(days=1), XSS)
    yield store
    store.close()


@pytest.fixture
def client(store: Store, tmp_path: Path) -> Iterator[httpx.Client]:
    with http_client(Settings(data_dir=tmp_path / "data"), store) as client:
        yield client


@pytest.mark.parametrize(
    "query",
    [
        {"page": "0"},
        {"page": "-1"},
        {"page": "abc"},
        {"page": "1e3"},
        {"page": str(10**30)},
        {"page": "1000001"},
        {"date_from": "9999-12-31"},
        {"date_to": "9999-12-31"},
        {"date_from": "0001-01-01"},
        {"date_to": "2026-13-01"},
        {"date_to": "10000-01-01"},
        {"date_from": "2026-01-01'; DROP TABLE inbound_messages; --"},
        {"reviewed": "maybe"},
        {"priority": "' OR 1=1 --"},
    ],
)
def test_out_of_range_parameters_are_400(client: httpx.Client, query: dict[str, str]) -> None:
    response = client.get("/", params={"reviewed": "all", **query})
    assert response.status_code == 400, (query, response.status_code)
    assert "Traceback" not in response.text


def test_the_last_valid_values_still_work(client: httpx.Client) -> None:
    ok = client.get("/", params={"page": "1000000", "date_to": "9998-12-31", "reviewed": "all"})
    assert ok.status_code == 200


def test_sql_metacharacters_in_filters_match_nothing_and_break_nothing(
    client: httpx.Client,
) -> None:
    for flag in ("' OR '1'='1", "BME' --", '"; DROP TABLE report_annotations; --', "%", "_"):
        response = client.get("/", params={"flag": flag, "reviewed": "all"})
        assert response.status_code == 200
        assert "ACC-PLAIN" not in response.text
    page = client.get("/", params={"reviewed": "all"}).text
    assert "ACC-PLAIN" in page and "&lt;script&gt;" in page  # nothing dropped


def test_hostile_accession_is_escaped_everywhere(client: httpx.Client) -> None:
    page = client.get("/", params={"reviewed": "all"}).text
    assert "<script>" not in page and "<img src=x" not in page
    assert "&lt;script&gt;" in page
    report = client.get(report_url(client, "&lt;script&gt;")).text
    assert "<script>" not in report and "<img src=x" not in report


def test_review_without_csrf_token_is_refused(client: httpx.Client) -> None:
    url = report_url(client, "ACC-PLAIN")
    client.get(url)
    for data in ({"reviewer": "eve"}, {"csrf_token": "", "reviewer": "eve"}):
        assert client.post(url + "/reviewed", data=data).status_code == 403
    other = httpx.post(client.base_url.join(url + "/reviewed"), data={"csrf_token": "0" * 64})
    assert other.status_code == 403  # no cookie at all
    assert "Reviewed by" not in client.get(url).text


@pytest.mark.parametrize(
    "path",
    [
        "/reports/..%2f..%2f..%2fetc%2fpasswd",
        "/reports/../../etc/passwd",
        "/static/..%2f..%2fsettings.py",
        "/static/../../worker/settings.py",
        "/reports/%00",
        "/reports/" + "f" * 10_000,
    ],
)
def test_path_traversal_finds_nothing(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code in (400, 404)
    assert "root:" not in response.text and "class Settings" not in response.text


def test_security_headers_on_every_page(client: httpx.Client) -> None:
    for path in ("/", report_url(client, "ACC-PLAIN"), "/reports/" + "0" * 32, "/?page=0"):
        headers = client.get(path).headers
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert "default-src 'self'" in headers["content-security-policy"]


def test_no_health_data_in_metrics_or_logs(
    client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client.get(report_url(client, "ACC-PLAIN"))
    client.get("/", params={"flag": "medial femoral condyle", "reviewed": "all"})
    metrics = client.get("/metrics").text
    for health_data in ("medial femoral condyle", "ACC-PLAIN", "Testpatient", "MRN0001"):
        assert health_data not in metrics
        assert health_data not in caplog.text
    assert re.search(r"^radflag_", metrics, re.MULTILINE)
