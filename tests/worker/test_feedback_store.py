"""Versions, search, sort, reviews, gold labels and accounts on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from feedback.labels import make_review
from hl7.order import OrderDetails
from tests.worker.stored import record_inbound
from tests.worker.test_store import annotation, postgres, settings, store  # noqa: F401
from worker.store import Store
from worker.store_accounts import AccountStore
from worker.store_feedback import feedback_of, report_key
from worker.store_queries import SORT_KEYS, WorklistFilter

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
PATIENTS = [
    ("Zeta, Ann", "P-9", date(1950, 1, 1), "F"),
    ("Alpha, Bo", "P-1", date(2000, 6, 1), "M"),
]


def add(target: Store, key: str, accession: str, status: str, at: datetime, n: int) -> None:
    name, pid, birth, sex = PATIENTS[n % 2]
    record_inbound(target, key, at=at)
    feedback_of(target).record_details(
        dedupe_key=key, key=report_key("HOSP", accession), received_at=at, patient_id=pid,
        details=OrderDetails(name, birth, sex, at, at, status), language="en",
    )  # fmt: skip
    flags = [("BME", "routine")] + ([("OSTEONECROSIS_CONCERN", "high")] if n % 2 else [])
    target.record_annotation(
        dedupe_key=key, accession=accession, procedure=f"MRI {n}", annotation=annotation(*flags),
        result_control_id=None, result_message=None, report_text="Bone marrow edema.",
        annotated_at=at,
    )  # fmt: skip


@pytest.fixture
def filled(store: Store) -> Store:  # noqa: F811
    add(store, "H|1", "ACC-A", "P", T0, 0)
    add(store, "H|2", "ACC-A", "F", T0 + timedelta(hours=1), 0)
    add(store, "H|3", "ACC-B", "F", T0 + timedelta(hours=2), 1)
    return store


def test_versions_are_one_row(filled: Store) -> None:
    rows, total = filled.worklist(WorklistFilter(reviewed=None))
    assert total == 2 and {r.accession: r.versions for r in rows} == {"ACC-A": 2, "ACC-B": 1}
    assert {r.accession: r.result_status for r in rows} == {"ACC-A": "F", "ACC-B": "F"}
    assert filled.unreviewed_count() == 2


def test_search_and_every_sort_key(filled: Store) -> None:
    def found(term: str) -> list[str]:
        return [r.accession for r in filled.worklist(WorklistFilter(search=term))[0]]

    assert found("zeta") == ["ACC-A"] and found("p-1") == ["ACC-B"] and found("acc-b") == ["ACC-B"]
    assert found("%") == [] and found("_") == []  # LIKE wildcards are literal
    for key in SORT_KEYS:
        for descending in (True, False):
            rows, _ = filled.worklist(WorklistFilter(sort=key, descending=descending))
            assert sorted(r.accession for r in rows) == ["ACC-A", "ACC-B"], key
    by_name = filled.worklist(WorklistFilter(sort="patient", descending=False))[0]
    assert [r.patient_name for r in by_name] == ["Alpha, Bo", "Zeta, Ann"]
    by_age = filled.worklist(WorklistFilter(sort="age", descending=True))[0]
    assert [r.patient_name for r in by_age] == ["Zeta, Ann", "Alpha, Bo"]  # oldest first


def test_reviews_labels_quality_and_accounts(filled: Store) -> None:
    feedback = feedback_of(filled)
    rows, _ = filled.worklist(WorklistFilter(reviewed=None, sort="accession", descending=False))
    first, second = rows
    negated = make_review(["BME"], {"BME": ("disagree", "negated")})
    feedback.record_review(first.public_id, reviewer="alice", at=T0, review=negated)
    feedback.record_review(second.public_id, reviewer="bob", at=T0, review=make_review(
        ["BME", "OSTEONECROSIS_CONCERN"], {}, sites=[("femoral_head", "left")]))  # fmt: skip
    labels = {line["id"]: line["gold"] for line in feedback.gold_labels()}
    assert labels[first.public_id] == {"bme": "absent", "sites": [], "etiology": [], "flags": []}
    assert labels[second.public_id]["sites"] == [{"bone": "femoral_head", "laterality": "left"}]
    quality = feedback.quality()
    assert quality.by_code["BME"].ppv == 0.5 and quality.reasons == {
        ("2026-03", "en", "negated"): 1
    }
    assert filled.unreviewed_count() == 0
    accounts = AccountStore(filled.engine)
    accounts.add_user("alice", "radiologist", "synthetic password", by="test")
    assert accounts.authenticate("alice", "synthetic password", client="c").user is not None
    assert accounts.web_secret("csrf") == AccountStore(filled.engine).web_secret("csrf")
