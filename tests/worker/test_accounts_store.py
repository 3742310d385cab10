"""Accounts in a real SQLite store: users, login rate limit, shared secrets, audit; the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from accounts.roles import AccountError
from accounts.throttle import LoginThrottle
from worker.cli import main
from worker.settings import Settings
from worker.store import create_store_engine, open_store
from worker.store_accounts import AccountStore

PASSWORD = "a long synthetic password"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def accounts(tmp_path: Path) -> AccountStore:
    store = open_store(Settings(data_dir=tmp_path / "data"))
    return AccountStore(store.engine)


def test_users_add_change_disable(accounts: AccountStore) -> None:
    alice = accounts.add_user("alice", "radiologist", PASSWORD, by="admin")
    assert alice.role == "radiologist" and not alice.disabled
    with pytest.raises(AccountError, match="already exists"):
        accounts.add_user("alice", "operator", PASSWORD, by="admin")
    assert accounts.authenticate("alice", PASSWORD, client="c1").user == accounts.user(alice.id)
    accounts.set_password("alice", PASSWORD + "2", by="admin")
    assert accounts.authenticate("alice", PASSWORD, client="c1").user is None
    changed = accounts.authenticate("alice", PASSWORD + "2", client="c1").user
    assert changed is not None and changed.session_epoch == alice.session_epoch + 1
    accounts.set_disabled("alice", True, by="admin")
    assert accounts.authenticate("alice", PASSWORD + "2", client="c1").user is None
    with pytest.raises(AccountError, match="no user"):
        accounts.set_disabled("nobody", True, by="admin")
    actions = [e.action for e in reversed(accounts.audit_trail())]
    assert actions == [
        "user_add", "login", "passwd", "login_failed", "login", "user_disable", "login_failed",
    ]  # fmt: skip
    assert all(e.user in ("admin", "alice") for e in accounts.audit_trail())


def test_failed_logins_are_rate_limited_per_name_and_client(tmp_path: Path) -> None:
    clock = Clock()
    store = open_store(Settings(data_dir=tmp_path / "data"))
    accounts = AccountStore(
        store.engine, clock=clock, throttle=LoginThrottle(3, timedelta(minutes=15))
    )
    accounts.add_user("bob", "radiologist", PASSWORD, by="admin")
    for n in range(3):
        assert accounts.authenticate("bob", "guess", client=f"10.0.0.{n}").user is None
    blocked = accounts.authenticate("bob", PASSWORD, client="10.0.0.9")
    assert blocked.user is None and blocked.retry_after == 15 * 60  # right password, not checked
    # Another name from one of the guessing clients is fine until that client hits the limit.
    accounts.add_user("carol", "operator", PASSWORD, by="admin")
    assert accounts.authenticate("carol", PASSWORD, client="10.0.0.1").user is not None
    clock.now += timedelta(minutes=15, seconds=1)
    assert accounts.authenticate("bob", PASSWORD, client="10.0.0.9").user is not None
    assert "login_throttled" in [e.action for e in accounts.audit_trail()]


def test_web_secret_is_shared_and_survives_a_new_engine(tmp_path: Path) -> None:
    store = open_store(Settings(data_dir=tmp_path / "data"))
    first = AccountStore(store.engine).web_secret("session")
    url = Settings(data_dir=tmp_path / "data").effective_database_url
    other_engine = create_store_engine(url)
    try:
        assert AccountStore(other_engine).web_secret("session") == first
        assert AccountStore(other_engine).web_secret("csrf") != first
    finally:
        other_engine.dispose()
    assert len(first) == 32


def test_users_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path / "data")]
    added = runner.invoke(main, ["users", "add", "dr.grey", "--role", "radiologist", *data],
                          input=f"{PASSWORD}\n{PASSWORD}\n")  # fmt: skip
    assert added.exit_code == 0 and "added dr.grey (radiologist)" in added.output
    assert PASSWORD not in added.output
    again = runner.invoke(main, ["users", "add", "dr.grey", "--role", "admin",
                                 "--password-stdin", *data], input=PASSWORD + "\n")  # fmt: skip
    assert again.exit_code == 2 and again.output.strip().endswith("already exists")
    bad_role = runner.invoke(main, ["users", "add", "x", "--role", "root", *data])
    assert bad_role.exit_code == 2
    short = runner.invoke(main, ["users", "passwd", "dr.grey", "--password-stdin", *data],
                          input="short\n")  # fmt: skip
    assert short.exit_code == 2 and "at least 10" in short.output
    assert runner.invoke(main, ["users", "disable", "dr.grey", *data]).exit_code == 0
    listed = runner.invoke(main, ["users", "list", "--json", *data])
    assert json.loads(listed.output)[0] | {"created_at": ""} == {
        "name": "dr.grey", "role": "radiologist", "disabled": True, "created_at": "",
    }  # fmt: skip
    missing = runner.invoke(main, ["users", "disable", "nobody", *data])
    assert missing.exit_code == 2 and "radflag users disable: no user 'nobody'" in missing.output
