"""The message store against SQLite and a real PostgreSQL server that the test run starts."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect

from hl7.errors import TransientError
from nlp.model import Annotation, Flag, Mention, Site
from tests.pg import PostgresServer, running_postgres
from tests.worker.stored import record_inbound
from worker.migrations import current_revision, head_revision
from worker.settings import Settings
from worker.store import Store, open_store
from worker.store_queries import WorklistFilter

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    with running_postgres() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "sqlite":
        return Settings(data_dir=tmp_path / "data")
    server: PostgresServer = request.getfixturevalue("postgres")
    return Settings(data_dir=tmp_path / "data", database_url=server.create_database())


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    store = open_store(settings)
    yield store
    store.close()


def annotation(*flags: tuple[str, str], bme: str = "present") -> dict:
    """A contract-shaped annotation with the given (code, priority) flags."""
    return Annotation(
        bme=bme,  # type: ignore[arg-type]
        sites=(Site("medial_femoral_condyle", "right"),),
        etiology=("osteonecrosis",),
        flags=tuple(Flag(code, priority, f"consider {code}") for code, priority in flags),  # type: ignore[arg-type]
        mentions=(Mention(0, 17, "bone marrow edema", "present", "findings"),),
    ).to_json_dict()


def inbound(
    store: Store, key: str, *, ack: str = "AA", at: datetime = T0, error: str | None = None
) -> None:
    record_inbound(store, key, at=at, ack=ack, error=error)


def annotate(store: Store, key: str, *flags: tuple[str, str], at: datetime = T0) -> None:
    store.record_annotation(
        dedupe_key=key,
        accession="ACC" + key[-3:],
        procedure="MRI KNEE RIGHT",
        annotation=annotation(*flags),
        result_control_id="R" + key[-3:],
        result_message=b"MSH|result\r",
        evidence={code: ["Edema."] for code, _ in flags},
        report_text="bone marrow edema in the medial femoral condyle.",
        annotated_at=at,
    )


class TestSchema:
    def test_open_store_migrates_to_head(self, store: Store) -> None:
        """Opening a fresh database creates every table at the head revision."""
        tables = set(inspect(store.engine).get_table_names())
        assert {"inbound_messages", "annotations", "flags", "delivery_attempts"} <= tables
        assert current_revision(store.engine) == head_revision(store.engine) is not None

    def test_open_store_is_cached_per_process(self, settings: Settings, store: Store) -> None:
        """The same settings give the same Store in one process."""
        assert open_store(settings) is store


class TestWrites:
    def test_record_inbound_is_an_upsert(self, store: Store) -> None:
        """A repeated message keeps one row, its first receipt time and the latest ACK."""
        inbound(store, "RIS|HOSP|001", ack="AE", at=T0, error="broker down")
        inbound(store, "RIS|HOSP|001", ack="AA", at=T0 + timedelta(minutes=5))
        counts = store.counts()
        assert counts.messages == {("ORU^R01", "AA"): 1}
        assert store.message_raw("RIS|HOSP|001") == ("AA", b"MSH|^~\\&|RIS|HOSP\r")

    def test_record_annotation_repeat_replaces_flags_and_keeps_review(self, store: Store) -> None:
        """A retried annotation replaces the flags but not the radiologist's review."""
        annotate(store, "RIS|HOSP|002", ("BME", "routine"))
        [row], _ = store.worklist()
        assert store.mark_reviewed(row.public_id, reviewer="dr.house", at=T0)
        annotate(store, "RIS|HOSP|002", ("BME", "routine"), ("INFECTION_CONCERN", "urgent"))
        [again], total = store.worklist()
        assert total == 1 and again.public_id == row.public_id
        assert again.flags == (("INFECTION_CONCERN", "urgent"), ("BME", "routine"))
        assert again.reviewed_by == "dr.house" and again.reviewed_at == T0
        assert store.counts().flags == {"BME": 1, "INFECTION_CONCERN": 1}

    def test_record_delivery_same_attempt_once(self, store: Store) -> None:
        """The same delivery attempt recorded twice is one row with the latest outcome."""
        for outcome in ("timeout", "timeout"):
            store.record_delivery(
                dedupe_key="k",
                result_control_id="R1",
                attempt=1,
                outcome=outcome,
                detail="no answer",
                at=T0,
            )
        store.record_delivery(
            dedupe_key="k",
            result_control_id="R1",
            attempt=2,
            outcome="delivered",
            detail="AA",
            at=T0 + timedelta(seconds=30),
        )
        assert store.counts().deliveries == {"timeout": 1, "delivered": 1}

    def test_mark_reviewed_unknown_id(self, store: Store) -> None:
        """Reviewing a report that does not exist changes nothing and says so."""
        assert not store.mark_reviewed("0" * 32, reviewer="x", at=T0)


class TestWorklist:
    @pytest.fixture
    def filled(self, store: Store) -> Store:
        annotate(store, "RIS|HOSP|101", ("BME", "routine"), at=T0)
        annotate(
            store,
            "RIS|HOSP|102",
            ("BME", "routine"),
            ("INFECTION_CONCERN", "urgent"),
            at=T0 + timedelta(days=1),
        )
        annotate(
            store,
            "RIS|HOSP|103",
            ("BME", "routine"),
            ("OSTEONECROSIS_CONCERN", "high"),
            at=T0 + timedelta(days=2),
        )
        annotate(store, "RIS|HOSP|104", ("BME", "routine"), at=T0 + timedelta(days=3))
        store.record_annotation(
            dedupe_key="RIS|HOSP|105",
            accession="ACC105",
            procedure=None,
            annotation=annotation(bme="absent"),
            result_control_id=None,
            result_message=None,
        )
        return store

    def test_order_priority_then_newest(self, filled: Store) -> None:
        """Urgent before high before routine; newest first within a priority; unflagged left out."""
        rows, total = filled.worklist()
        assert [r.accession for r in rows] == ["ACC102", "ACC103", "ACC104", "ACC101"]
        assert total == 4

    def test_filters(self, filled: Store) -> None:
        """Flag, priority, date range and reviewed narrow the list."""

        def accessions(**kw: object) -> list[str]:
            return [r.accession for r in filled.worklist(WorklistFilter(**kw))[0]]  # type: ignore[arg-type]

        assert accessions(flag="OSTEONECROSIS_CONCERN") == ["ACC103"]
        assert accessions(priority="routine") == ["ACC104", "ACC101"]
        assert accessions(day_from=date(2026, 3, 2), day_to=date(2026, 3, 3)) == [
            "ACC102",
            "ACC103",
        ]
        first = filled.worklist()[0][0]
        filled.mark_reviewed(first.public_id, reviewer="dr.grey", at=T0)
        assert accessions(reviewed=True) == ["ACC102"]
        assert accessions(reviewed=False) == ["ACC103", "ACC104", "ACC101"]

    def test_paging(self, filled: Store) -> None:
        """Limit and offset page through the same order; the total stays the full count."""
        page, total = filled.worklist(limit=2, offset=2)
        assert [r.accession for r in page] == ["ACC104", "ACC101"] and total == 4

    def test_report_view(self, filled: Store) -> None:
        """The report view joins message, annotation, evidence and delivery attempts."""
        inbound(filled, "RIS|HOSP|102")
        filled.record_delivery(
            dedupe_key="RIS|HOSP|102",
            result_control_id="R102",
            attempt=1,
            outcome="delivered",
            detail="AA",
            at=T0,
        )
        row = filled.worklist(WorklistFilter(flag="INFECTION_CONCERN"))[0][0]
        view = filled.report(row.public_id)
        assert view is not None
        assert view.control_id == "102" and view.ack_code == "AA"
        assert view.evidence == {"BME": ["Edema."], "INFECTION_CONCERN": ["Edema."]}
        assert view.report_text and view.annotation["mentions"][0]["text"] == "bone marrow edema"
        assert view.deliveries == ((1, "delivered", "AA", T0),)
        assert filled.report("f" * 32) is None


class TestOperations:
    def test_purge_older_than_with_progress(self, store: Store) -> None:
        """Purge deletes only what is older than the cutoff, in batches, reporting progress."""
        for i in range(7):
            key = f"RIS|HOSP|{200 + i}"
            at = T0 - timedelta(days=60) if i < 5 else T0
            inbound(store, key, at=at)
            annotate(store, key, ("BME", "routine"), at=at)
        seen: list[tuple[int, int]] = []
        deleted = store.purge(
            T0 - timedelta(days=30), batch_size=3, progress=lambda d, t: seen.append((d, t))
        )
        assert deleted == 10
        assert seen[0] == (0, 10) and seen[-1] == (10, 10) and len(seen) >= 4
        counts = store.counts()
        assert sum(counts.messages.values()) == 2 and counts.annotations == 2
        assert counts.flags == {"BME": 2}

    def test_last_errors(self, store: Store) -> None:
        """Status sees rejected messages and failed deliveries, newest first."""
        inbound(store, "RIS|HOSP|301", ack="AR", error="unsupported message type ADT^A01")
        inbound(store, "RIS|HOSP|302", at=T0 + timedelta(minutes=1))
        inbound(store, "RIS|HOSP|303", at=T0 + timedelta(minutes=2))
        annotate(store, "RIS|HOSP|302", ("BME", "routine"))
        store.record_delivery(
            dedupe_key="RIS|HOSP|302",
            result_control_id="R302",
            attempt=1,
            outcome="refused",
            detail="connection refused",
            at=T0 + timedelta(minutes=3),
        )
        errors = store.last_errors()
        assert [(e.kind, e.control_id) for e in errors] == [
            ("delivery", "R302"),
            ("inbound", "301"),
        ]


def _open_in_child(url: str, data_dir: str) -> str | None:
    store = open_store(Settings(data_dir=Path(data_dir), database_url=url))
    return current_revision(store.engine)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_concurrent_first_open(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Several worker processes opening a fresh store at once all end at the head revision."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'data' / 'radflag.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres").create_database()
    context = multiprocessing.get_context("spawn")
    with context.Pool(3) as pool:
        revisions = pool.starmap(_open_in_child, [(url, str(tmp_path / "data"))] * 3, chunksize=1)
    assert len(set(revisions)) == 1 and revisions[0] is not None


def test_plain_postgresql_url_uses_psycopg(postgres: PostgresServer, tmp_path: Path) -> None:
    """A `postgresql://` URL as operators write it opens with the shipped psycopg 3 driver."""
    url = postgres.create_database().replace("postgresql+psycopg://", "postgresql://")
    store = open_store(Settings(data_dir=tmp_path, database_url=url))
    assert store.engine.dialect.driver == "psycopg"
    store.close()


def test_unreachable_database_is_transient(tmp_path: Path) -> None:
    """A database that cannot be reached raises TransientError (the task retries)."""
    from tests.pg import _free_port

    url = f"postgresql+psycopg://radflag@127.0.0.1:{_free_port()}/nothing?connect_timeout=2"
    with pytest.raises(TransientError):
        open_store(Settings(data_dir=tmp_path, database_url=url))


@pytest.mark.parametrize(("setting", "expected"), [("NORMAL", 1), ("full", 2)])
def test_sqlite_synchronous_follows_the_setting(
    tmp_path: Path, setting: str, expected: int
) -> None:
    """SQLite runs in WAL with the configured synchronous level (NORMAL=1, FULL=2)."""
    from sqlalchemy import text

    from worker.store import create_store_engine

    engine = create_store_engine(f"sqlite:///{tmp_path / 's.db'}", sqlite_synchronous=setting)
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA synchronous")).scalar() == expected
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    engine.dispose()


def test_sqlite_synchronous_rejects_other_levels() -> None:
    """OFF would lose commits on a process crash: the setting refuses it."""
    from worker.settings import SettingsError

    with pytest.raises(SettingsError, match="NORMAL or FULL"):
        Settings(sqlite_synchronous="OFF")


def test_new_messages_of_a_unit_are_inserted_in_bulk_with_their_flags(store: Store) -> None:
    """Inside a unit, known-new messages' rows go in at the commit (with RETURNING ids for
    the flags): each flag belongs to its own annotation, on SQLite and PostgreSQL alike."""
    from sqlalchemy import text

    from worker.store_unit import run_unit

    def write() -> None:
        assert store.claim_new_many(["k-001", "k-002", "k-003"]) == {"k-001", "k-002", "k-003"}
        for key in ("k-001", "k-002", "k-003"):
            inbound(store, key)
        annotate(store, "k-001", ("BME_OSTEONECROSIS_RISK", "high"), ("BME_PRESENT", "routine"))
        annotate(store, "k-002")
        annotate(store, "k-003", ("BME_TRAUMA", "routine"))

    run_unit(store.engine, write)
    with store.engine.connect() as connection:
        flags = connection.execute(
            text(
                "SELECT a.dedupe_key, f.code FROM flags f JOIN annotations a"
                " ON a.id = f.annotation_id ORDER BY a.dedupe_key, f.code"
            )
        ).all()
    assert [tuple(row) for row in flags] == [
        ("k-001", "BME_OSTEONECROSIS_RISK"),
        ("k-001", "BME_PRESENT"),
        ("k-003", "BME_TRAUMA"),
    ]
    assert store.counts().annotations == 3
    run_unit(store.engine, lambda: annotate(store, "k-002", ("BME_PRESENT", "low")))  # not new
    with store.engine.connect() as connection:
        codes = (
            connection.execute(
                text(
                    "SELECT f.code FROM flags f JOIN annotations a ON a.id = f.annotation_id"
                    " WHERE a.dedupe_key = 'k-002'"
                )
            )
            .scalars()
            .all()
        )
    assert codes == ["BME_PRESENT"]
