"""`radflag purge`, `radflag db upgrade` and `radflag web`'s bind check, run as commands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from tests.worker.stored import record_inbound
from worker.cli import main
from worker.cli.ops import parse_age
from worker.settings import Settings
from worker.store import open_store


def test_db_upgrade_is_repeatable(tmp_path: Path) -> None:
    """The first upgrade creates the schema, the second finds it current."""
    args = ["db", "upgrade", "--data-dir", str(tmp_path)]
    first = CliRunner().invoke(main, args)
    second = CliRunner().invoke(main, args)
    assert first.exit_code == 0 and "(upgraded)" in first.output
    assert second.exit_code == 0 and "(already current)" in second.output


def test_purge_older_than(tmp_path: Path) -> None:
    """`purge --older-than 30d --yes` deletes only older rows and says how many."""
    store = open_store(Settings(data_dir=tmp_path))
    now = datetime.now(UTC)
    for n, age in enumerate((40, 35, 1)):
        record_inbound(store, f"k{n}", at=now - timedelta(days=age))
    result = CliRunner().invoke(
        main, ["purge", "--older-than", "30d", "--yes", "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert "deleted 2 rows" in result.output
    assert sum(store.counts().messages.values()) == 1


def test_purge_asks_first(tmp_path: Path) -> None:
    """Without --yes, answering no deletes nothing."""
    result = CliRunner().invoke(main, ["purge", "--data-dir", str(tmp_path)], input="n\n")
    assert result.exit_code == 1 and "Aborted" in result.output


def test_parse_age() -> None:
    """Ages in days, hours, weeks and minutes; anything else is refused."""
    assert parse_age("30d") == timedelta(days=30) == parse_age("30")
    assert parse_age("12h") == timedelta(hours=12) and parse_age("2w") == timedelta(weeks=2)
    with pytest.raises(click.BadParameter):
        parse_age("a month")


def test_web_refuses_public_bind_without_credentials(tmp_path: Path) -> None:
    """`radflag web --http-host 0.0.0.0` stops with a usage error unless credentials are set."""
    result = CliRunner().invoke(
        main,
        ["web", "--http-host", "0.0.0.0", "--data-dir", str(tmp_path)],
        env={"RADFLAG_HTTP_USER": "", "RADFLAG_HTTP_PASSWORD": ""},
    )
    assert result.exit_code == 2 and "RADFLAG_HTTP_PASSWORD" in result.output
