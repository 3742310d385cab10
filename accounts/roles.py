"""Roles and what each may do."""

from __future__ import annotations

import re

RADIOLOGIST, OPERATOR, ADMIN = "radiologist", "operator", "admin"
ROLES: tuple[str, ...] = (RADIOLOGIST, OPERATOR, ADMIN)
# Radiologists review; operators see the operations views; admins manage users (and may
# do both of the others, so a small site can run with one admin).
_MAY = {
    "review": frozenset({RADIOLOGIST, ADMIN}),
    "quality": frozenset({OPERATOR, ADMIN}),
    "operations": frozenset({OPERATOR, ADMIN}),
    "manage_users": frozenset({ADMIN}),
}
USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD_LENGTH = 10


class AccountError(ValueError):
    """A user name, role or password that cannot be used; the message says why."""


def may(role: str | None, action: str) -> bool:
    """True when `role` may do `action` (review, quality, operations, manage_users)."""
    return role in _MAY[action]


def check_user_name(name: str) -> str:
    """The name if usable (letters, digits, . _ @ -; at most 64), else AccountError."""
    if not USER_NAME.match(name):
        raise AccountError(
            f"user name {name!r} is not allowed: use letters, digits and . _ @ - "
            "(at most 64, starting with a letter or digit)"
        )
    return name


def check_role(role: str) -> str:
    """The role if it is one of ROLES, else AccountError."""
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    return role


def check_password(password: str) -> str:
    """The password if long enough, else AccountError."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return password
