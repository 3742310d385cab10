"""Settings: from a mapping of RADFLAG_* variables, overrides, validation, masking."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.settings import Settings, SettingsError


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("true", True), ("Yes", True), ("on", True), ("True", True),
     ("0", False), ("false", False), ("no", False), ("OFF", False)],
)  # fmt: skip
def test_boolean_settings_read_common_spellings(raw: str, expected: bool) -> None:
    """RADFLAG_DESTINATION_TLS takes the usual true/false spellings (and str(True) from run)."""
    settings = Settings.from_mapping({"RADFLAG_DESTINATION_TLS": raw})
    assert settings.destination_tls is expected


def test_boolean_setting_rejects_other_words() -> None:
    """A value that is neither true nor false is an error naming the variable."""
    with pytest.raises(SettingsError, match="RADFLAG_DESTINATION_TLS"):
        Settings.from_mapping({"RADFLAG_DESTINATION_TLS": "maybe"})


def test_typed_values_and_overrides() -> None:
    """Numbers and paths are converted; an override wins; None overrides fall through."""
    settings = Settings.from_mapping(
        {"RADFLAG_MLLP_PORT": "3000", "RADFLAG_DATA_DIR": "/tmp/x", "RADFLAG_IDLE_TIMEOUT": "2.5"},
        mllp_port=4000,
        http_port=None,
    )
    assert settings.mllp_port == 4000 and settings.http_port == 8080
    assert settings.data_dir == Path("/tmp/x") and settings.idle_timeout == 2.5


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("RADFLAG_MLLP_PORT", "many", "RADFLAG_MLLP_PORT"),
        ("RADFLAG_MLLP_PORT", "70000", "mllp_port"),
        ("RADFLAG_DESTINATION", "nohostport", "HOST:PORT"),
        ("RADFLAG_CONCURRENCY", "0", "concurrency"),
    ],
)
def test_bad_values_are_clear_errors(variable: str, value: str, says: str) -> None:
    """A value that cannot be used raises SettingsError saying which setting."""
    with pytest.raises(SettingsError, match=says):
        Settings.from_mapping({variable: value})


def test_secrets_are_masked_in_repr() -> None:
    """The page password and URL passwords never appear in a repr (logs)."""
    settings = Settings(
        http_password="hunter2",
        database_url="postgresql://rad:s3cret@db/radflag",
        redis_url="redis://:r3dis@cache:6379/0",
    )
    shown = repr(settings)
    assert "hunter2" not in shown and "s3cret" not in shown
    assert "postgresql://rad:********@db/radflag" in shown


def test_destination_context_only_when_asked(tmp_path: Path) -> None:
    """No destination TLS: no context; with it: a verifying client context."""
    import ssl

    from worker.tls import destination_context

    assert destination_context(Settings()) is None
    context = destination_context(Settings(destination_tls=True))
    assert context is not None and context.verify_mode == ssl.CERT_REQUIRED


def test_reliability_settings_and_their_bounds() -> None:
    settings = Settings.from_mapping(
        {"RADFLAG_TASK_TIME_LIMIT": "100", "RADFLAG_MAX_CONNECTIONS": "50"}
    )
    assert settings.effective_soft_time_limit == 80.0  # 80 % of the hard limit
    assert settings.max_connections == 50
    assert Settings().redis_appendfsync == "always"  # durability by default
    explicit = Settings.from_mapping({"RADFLAG_TASK_SOFT_TIME_LIMIT": "30"})
    assert explicit.effective_soft_time_limit == 30.0
    for env, says in (
        ({"RADFLAG_TASK_SOFT_TIME_LIMIT": "400"}, "below task_time_limit"),
        ({"RADFLAG_JOURNAL_REQUEUE_AFTER": "0"}, "journal_requeue_after must be positive"),
        ({"RADFLAG_BUFFER_BUDGET_BYTES": "0"}, "buffer_budget_bytes must be at least 1"),
        ({"RADFLAG_RESTORE_UNACKED": "maybe"}, "restore_unacked must be auto, yes or no"),
    ):
        with pytest.raises(SettingsError, match=says):
            Settings.from_mapping(env)
