"""The flagged-reports page over real HTTP (uvicorn on 127.0.0.1, a real SQLite store)."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from nlp.model import Annotation, Flag, Mention, Site
from tests.web.server import serving
from tests.worker.stored import record_inbound
from worker.settings import Settings, SettingsError
from worker.store import Store, open_store
from worker.web.app import create_app
from worker.web.present import segments
from worker.web.security import CSRF_COOKIE, check_bind

TEXT = (
    "Findings: Bone marrow edema in the medial femoral condyle. "
    "No edema in the patella. Possible marrow edema of the tibia. "
    "Prior bone bruise has resolved."
)
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _mention(text: str, status: str, bones: tuple[str, ...] = ()) -> Mention:
    start = TEXT.index(text)
    return Mention(start, start + len(text), text, status, "findings", bones, "right")  # type: ignore[arg-type]


def record(
    store: Store, key: str, flags: tuple[tuple[str, str], ...], at: datetime, accession: str
) -> None:
    annotation = Annotation(
        bme="present",
        sites=(Site("medial_femoral_condyle", "right"),),
        etiology=("osteonecrosis",),
        flags=tuple(Flag(c, p, f"Consider follow-up for {c}.") for c, p in flags),  # type: ignore[arg-type]
        mentions=(
            _mention("Bone marrow edema", "present", ("medial_femoral_condyle",)),
            _mention("edema in the patella", "negated"),
            _mention("marrow edema of the tibia", "possible"),
            _mention("bone bruise", "historical"),
        ),
    )
    record_inbound(store, key, at=at)
    store.record_annotation(
        dedupe_key=key,
        accession=accession,
        procedure="MRI KNEE RIGHT",
        annotation=annotation.to_json_dict(),
        result_control_id="R" + key,
        result_message=b"MSH|",
        report_text=TEXT,
        annotated_at=at,
        evidence={c: ["Bone marrow edema in the medial femoral condyle."] for c, _ in flags},
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(Settings(data_dir=tmp_path / "data"))
    record(store, "M1", (("BME", "routine"),), T0, "ACC-ROUTINE")
    record(
        store,
        "M2",
        (("BME", "routine"), ("OSTEONECROSIS_CONCERN", "high")),
        T0 - timedelta(days=1),
        "ACC-HIGH",
    )
    yield store
    store.close()


@contextlib.contextmanager
def http_client(settings: Settings, store: Store) -> Iterator[httpx.Client]:
    with (
        serving(create_app(settings, store=store)) as base_url,
        httpx.Client(base_url=base_url, timeout=10) as client,
    ):
        yield client


@pytest.fixture
def client(store: Store, tmp_path: Path) -> Iterator[httpx.Client]:
    with http_client(Settings(data_dir=tmp_path / "data"), store) as client:
        yield client


def report_url(client: httpx.Client, accession: str) -> str:
    page = client.get("/?reviewed=all").text
    row = page[page.index(accession) - 900 : page.index(accession)]
    return re.findall(r'href="(/reports/[0-9a-f]{32})[?"]', row)[-1]


def test_worklist_order_and_opaque_links(client: httpx.Client) -> None:
    """Highest priority first; links carry opaque ids, never the accession."""
    page = client.get("/").text
    assert page.index("ACC-HIGH") < page.index("ACC-ROUTINE")
    links = re.findall(r'href="(/reports/[^"]*)"', page)
    assert len(links) == 2 and all(re.fullmatch(r"/reports/[0-9a-f]{32}", u) for u in links)


def test_worklist_filter_by_flag(client: httpx.Client) -> None:
    """Filtering by flag code keeps only the reports carrying it."""
    page = client.get("/", params={"flag": "OSTEONECROSIS_CONCERN"}).text
    assert "ACC-HIGH" in page and "ACC-ROUTINE" not in page
    assert client.get("/", params={"date_from": "yesterday"}).status_code == 400


def test_report_view_highlights_mentions(client: httpx.Client) -> None:
    """Each mention is highlighted with its status class; evidence and suggestions shown."""
    page = client.get(report_url(client, "ACC-HIGH")).text
    for status, text in (
        ("present", "Bone marrow edema"),
        ("negated", "edema in the patella"),
        ("possible", "marrow edema of the tibia"),
        ("historical", "bone bruise"),
    ):
        assert re.search(rf'class="mention mention-{status}"[^>]*>{re.escape(text)}<sup>', page)
    assert "Consider follow-up for OSTEONECROSIS_CONCERN." in page
    assert "<blockquote>Bone marrow edema in the medial femoral condyle.</blockquote>" in page
    assert client.get("/reports/" + "0" * 32).status_code == 404


def test_review_needs_csrf_token(client: httpx.Client) -> None:
    """A POST without the page's token is refused and changes nothing."""
    url = report_url(client, "ACC-HIGH")
    client.get(url)
    refused = client.post(url + "/reviewed", data={"csrf_token": "forged", "reviewer": "eve"})
    assert refused.status_code == 403 and "reload the page" in refused.text
    assert "Reviewed by" not in client.get(url).text


def test_review_stores_who_and_when(client: httpx.Client, store: Store) -> None:
    """The reviewed action with the page's token stores the reviewer and the time."""
    url = report_url(client, "ACC-HIGH")
    page = client.get(url).text
    assert client.cookies.get(CSRF_COOKIE)
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page).group(1)  # type: ignore[union-attr]
    done = client.post(
        url + "/reviewed",
        data={"csrf_token": token, "reviewer": "Dr. Grey"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    row = store.report(url.rsplit("/", 1)[1]).row  # type: ignore[union-attr]
    assert row.reviewed_by == "Dr. Grey" and row.reviewed_at is not None
    assert "ACC-HIGH" not in client.get("/").text  # default worklist: not yet reviewed
    assert "ACC-HIGH" in client.get("/?reviewed=yes").text


def test_basic_auth_when_configured(store: Store, tmp_path: Path) -> None:
    """With credentials set every page needs them, and the reviewer is the signed-in user."""
    settings = Settings(data_dir=tmp_path, http_user="rad", http_password="s3cret")
    with http_client(settings, store) as client:
        check_basic_auth(client)


def check_basic_auth(client: httpx.Client) -> None:
    challenge = client.get("/")
    assert challenge.status_code == 401 and challenge.headers["www-authenticate"].startswith(
        "Basic"
    )
    assert client.get("/", auth=("rad", "wrong")).status_code == 401
    page = client.get("/", auth=("rad", "s3cret"))
    assert page.status_code == 200 and "signed in as rad" in page.text
    assert client.get("/healthz").status_code == 200


def test_refuses_public_bind_without_credentials(tmp_path: Path) -> None:
    """Binding anything but loopback needs credentials."""
    check_bind(Settings(data_dir=tmp_path, http_host="127.0.0.1"))
    check_bind(Settings(data_dir=tmp_path, http_host="::1"))
    with pytest.raises(SettingsError, match="RADFLAG_HTTP_USER"):
        check_bind(Settings(data_dir=tmp_path, http_host="0.0.0.0"))
    check_bind(Settings(data_dir=tmp_path, http_host="0.0.0.0", http_user="u", http_password="p"))


def test_pages_are_not_cached_and_not_logged(
    client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    """Health data pages say no-store, and no report text reaches the logs."""
    caplog.set_level(logging.DEBUG)
    url = report_url(client, "ACC-HIGH")
    response = client.get(url)
    assert response.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "marrow edema" not in caplog.text.lower()


def test_segments_skip_mentions_that_do_not_fit() -> None:
    """Offsets that disagree with the text, or overlap, are not highlighted."""
    text = "edema here and edema there"
    parts = segments(
        text,
        [
            {"start": 0, "end": 5, "text": "edema", "status": "present"},
            {"start": 2, "end": 9, "text": "ema her", "status": "negated"},  # overlaps
            {"start": 15, "end": 20, "text": "EDEMA", "status": "possible"},  # wrong text
        ],
    )
    assert "".join(p.text for p in parts) == text
    assert [p.text for p in parts if p.mention] == ["edema"]
