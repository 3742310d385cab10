"""Accounts in the message store: users, shared web secrets, login failures and the audit trail.

Strategy: every web process (and replica) reads the same rows, so a session
cookie or a form token made by one process is good in any other and after a
restart; the failed-login count is shared too. Audit events name the user and
an opaque target (a report's public id, a user name), never report text or
patient identifiers.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from accounts.passwords import hash_password, needs_rehash, verify_password
from accounts.roles import AccountError, check_password, check_role, check_user_name
from accounts.throttle import LoginThrottle
from worker.store_models_accounts import AuditEvent, LoginFailure, User, WebSecret

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class UserInfo:
    id: int
    name: str
    role: str
    disabled: bool
    session_epoch: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class LoginOutcome:
    """A login attempt's result: the user, or why not (and for how long, when throttled)."""

    user: UserInfo | None
    retry_after: int = 0  # seconds; > 0: too many failures, the password was not checked


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    user: str
    action: str
    target: str | None
    detail: dict[str, Any] | None


def _info(row: User) -> UserInfo:
    return UserInfo(
        row.id,
        row.name,
        row.role,
        row.disabled,
        row.session_epoch,
        row.created_at,
        row.updated_at,
    )


class AccountStore:
    """Users, secrets, login failures and audit events over the store's engine."""

    def __init__(
        self, engine: Engine, *, clock: Clock = _now, throttle: LoginThrottle | None = None
    ) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._clock = clock
        self.throttle = throttle or LoginThrottle()

    # --- users ----------------------------------------------------------------------

    def add_user(self, name: str, role: str, password: str, *, by: str) -> UserInfo:
        """Create an account; AccountError for a bad name, role, password or a taken name."""
        check_user_name(name)
        check_role(role)
        check_password(password)
        now = self._clock()
        row = User(
            name=name,
            role=role,
            password_hash=hash_password(password),
            disabled=False,
            session_epoch=0,
            created_at=now,
            updated_at=now,
        )
        try:
            with self._sessions.begin() as session:
                session.add(row)
                session.flush()
                info = _info(row)
                self._audit(session, by, "user_add", name, {"role": role})
        except IntegrityError as e:
            raise AccountError(f"user {name!r} already exists") from e
        return info

    def set_password(self, name: str, password: str, *, by: str) -> None:
        """A new password; ends the user's open sessions. AccountError when unknown."""
        check_password(password)
        encoded = hash_password(password)
        self._change(name, by, "passwd", lambda row: setattr(row, "password_hash", encoded))

    def set_disabled(self, name: str, disabled: bool, *, by: str) -> None:
        """Disable (or enable) an account; ends its open sessions. AccountError when unknown."""
        action = "user_disable" if disabled else "user_enable"
        self._change(name, by, action, lambda row: setattr(row, "disabled", disabled))

    def end_sessions(self, name: str, *, by: str) -> None:
        """Log the user out everywhere (every session cookie stops working); audited as logout."""
        self._change(name, by, "logout", lambda row: None)

    def set_role(self, name: str, role: str, *, by: str) -> None:
        """Give a user another role; AccountError when unknown or not a role."""
        check_role(role)
        self._change(name, by, "user_role", lambda row: setattr(row, "role", role), {"role": role})

    def _change(
        self,
        name: str,
        by: str,
        action: str,
        apply: Callable[[User], None],
        detail: dict[str, Any] | None = None,
    ) -> None:
        with self._sessions.begin() as session:
            row = session.scalar(select(User).filter_by(name=name))
            if row is None:
                raise AccountError(f"no user {name!r}")
            apply(row)
            row.session_epoch += 1
            row.updated_at = self._clock()
            self._audit(session, by, action, name, detail)

    def users(self) -> list[UserInfo]:
        """Every account, by name."""
        with self._sessions() as session:
            return [_info(u) for u in session.scalars(select(User).order_by(User.name))]

    def user(self, user_id: int) -> UserInfo | None:
        """An account by id, or None."""
        with self._sessions() as session:
            row = session.get(User, user_id)
            return _info(row) if row else None

    def has_users(self) -> bool:
        """True once any account exists: then every page needs a login."""
        with self._sessions() as session:
            return session.scalar(select(User.id).limit(1)) is not None

    def authenticate(self, name: str, password: str, *, client: str) -> LoginOutcome:
        """Check a login, under the failed-login limit per user name and per client address.

        Failures are recorded (and audited); a throttled attempt is not checked at all.
        """
        now = self._clock()
        keys = [f"user:{name.lower()[:100]}", f"client:{client[:100]}"]
        with self._sessions.begin() as session:
            cutoff = now - self.throttle.window
            session.execute(delete(LoginFailure).where(LoginFailure.at < cutoff))
            wait = 0
            for key in keys:
                times = list(
                    session.scalars(
                        select(LoginFailure.at).where(
                            LoginFailure.key == key, LoginFailure.at >= cutoff
                        )
                    )
                )
                wait = max(wait, self.throttle.retry_after(times, now))
            if wait:
                self._audit(session, name[:200] or "-", "login_throttled", None, None)
                return LoginOutcome(None, wait)
            row = session.scalar(select(User).filter_by(name=name))
            ok = verify_password(row.password_hash if row else None, password)
            if row is None or not ok or row.disabled:
                session.add_all(LoginFailure(key=key, at=now) for key in keys)
                self._audit(session, name[:200] or "-", "login_failed", None, None)
                return LoginOutcome(None)
            if needs_rehash(row.password_hash):
                row.password_hash = hash_password(password)
            self._audit(session, row.name, "login", None, None)
            return LoginOutcome(_info(row))

    # --- secrets --------------------------------------------------------------------

    def web_secret(self, name: str) -> bytes:
        """The shared secret `name`, created (32 random bytes) the first time it is asked for."""
        for _ in range(2):
            with self._sessions() as session:
                found = session.get(WebSecret, name)
                if found is not None:
                    return bytes.fromhex(found.value)
            try:
                with self._sessions.begin() as session:
                    session.add(
                        WebSecret(name=name, value=secrets.token_hex(32), created_at=self._clock())
                    )
            except IntegrityError:
                pass  # another process created it first: read theirs
        raise RuntimeError(f"web secret {name!r} could not be created")

    # --- audit ----------------------------------------------------------------------

    def audit(
        self, user: str, action: str, target: str | None, detail: dict[str, Any] | None = None
    ) -> None:
        """Record an action by `user` on `target` (opaque ids only)."""
        with self._sessions.begin() as session:
            self._audit(session, user, action, target, detail)

    def _audit(
        self,
        session: Any,
        user: str,
        action: str,
        target: str | None,
        detail: dict[str, Any] | None,
    ) -> None:
        session.add(
            AuditEvent(at=self._clock(), user=user, action=action, target=target, detail=detail)
        )

    def audit_trail(self, *, limit: int = 200, action: str | None = None) -> list[AuditEntry]:
        """The newest audit events first."""
        query = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        if action:
            query = query.where(AuditEvent.action == action)
        with self._sessions() as session:
            return [
                AuditEntry(e.at, e.user, e.action, e.target, e.detail)
                for e in session.scalars(query.limit(limit))
            ]
