"""accounts: password hashing, session tokens, the failed-login rule, names and roles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from accounts.passwords import hash_password, needs_rehash, verify_password
from accounts.roles import (
    ADMIN,
    OPERATOR,
    RADIOLOGIST,
    AccountError,
    check_password,
    check_role,
    check_user_name,
    may,
)
from accounts.sessions import SESSION_MAX_AGE, SessionClaim, issue_token, read_token
from accounts.throttle import LoginThrottle

SECRET = b"k" * 32
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_password_hash_is_argon2id_salted_and_verifies() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first.startswith("$argon2id$") and first != second  # salted
    assert verify_password(first, "correct horse") and not verify_password(first, "wrong horse")
    assert not verify_password(None, "correct horse")  # no such user
    assert not verify_password("not a hash", "correct horse")
    assert not needs_rehash(first)


def test_session_token_round_trip_and_tampering() -> None:
    claim = SessionClaim(user_id=7, epoch=2, issued=1_000_000)
    token = issue_token(SECRET, claim)
    assert read_token(SECRET, token, now=1_000_100) == claim
    assert read_token(b"x" * 32, token, now=1_000_100) is None  # another secret
    forged = "8" + token[1:]  # another user id, same signature
    assert read_token(SECRET, forged, now=1_000_100) is None
    assert read_token(SECRET, token, now=1_000_000 + SESSION_MAX_AGE + 1) is None  # expired
    for junk in ("", "a.b.c.d", "1.2.3", token + ".x"):
        assert read_token(SECRET, junk, now=1_000_100) is None


def test_throttle_blocks_after_the_limit_then_releases() -> None:
    rule = LoginThrottle(max_failures=3, window=timedelta(minutes=10))
    failures = [T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)]
    assert rule.retry_after(failures[:2], T0 + timedelta(minutes=2)) == 0
    wait = rule.retry_after(failures, T0 + timedelta(minutes=3))
    assert wait == 7 * 60  # until the oldest of the three leaves the window
    assert rule.retry_after(failures, T0 + timedelta(minutes=10, seconds=1)) == 0
    old = [T0 - timedelta(hours=1)] * 10
    assert rule.retry_after(old, T0) == 0


def test_roles() -> None:
    assert may(RADIOLOGIST, "review") and not may(RADIOLOGIST, "quality")
    assert may(OPERATOR, "quality") and not may(OPERATOR, "review")
    assert may(ADMIN, "manage_users") and not may(OPERATOR, "manage_users")
    assert not may(None, "review")


@pytest.mark.parametrize("name", ["", "a b", "-lead", "x" * 65, "ö", "a/b"])
def test_bad_user_names(name: str) -> None:
    with pytest.raises(AccountError):
        check_user_name(name)


def test_good_values_and_messages() -> None:
    assert check_user_name("dr.grey@rad-1") == "dr.grey@rad-1"
    assert check_role("operator") == "operator"
    with pytest.raises(AccountError, match="role must be one of"):
        check_role("root")
    with pytest.raises(AccountError, match="at least 10"):
        check_password("short")
