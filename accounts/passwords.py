"""Password hashing with Argon2id (argon2-cffi, its RFC 9106 low-memory profile)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()  # argon2id, t=3, m=64 MiB, p=4: the library's defaults
# A fixed hash to verify against when the user does not exist, so that a wrong name
# costs the same time as a wrong password.
_DUMMY = _HASHER.hash("radflag-no-such-user")


def hash_password(password: str) -> str:
    """An encoded Argon2id hash (salt and parameters included)."""
    return _HASHER.hash(password)


def verify_password(encoded: str | None, password: str) -> bool:
    """True when `password` matches `encoded`; None (no such user) costs a verification too."""
    try:
        return _HASHER.verify(encoded or _DUMMY, password) and encoded is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(encoded: str) -> bool:
    """True when the hash was made with older parameters than the current ones."""
    return _HASHER.check_needs_rehash(encoded)
