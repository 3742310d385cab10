"""Signed session tokens for the login cookie.

A token is `user_id.epoch.issued.signature`: the signature an HMAC-SHA256 under
the web processes' shared secret. The user's `session_epoch` is in the token, so
a password change or disable (which bump it) ends every older session; `issued`
bounds the session's age. Nothing about the user but the id is in the cookie.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

SESSION_MAX_AGE = 12 * 3600  # one working day


@dataclass(frozen=True)
class SessionClaim:
    user_id: int
    epoch: int
    issued: int  # Unix seconds


def _sign(secret: bytes, payload: str) -> str:
    return hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()


def issue_token(secret: bytes, claim: SessionClaim) -> str:
    """The cookie value for `claim`."""
    payload = f"{claim.user_id}.{claim.epoch}.{claim.issued}"
    return f"{payload}.{_sign(secret, payload)}"


def read_token(
    secret: bytes, token: str, *, now: float, max_age: int = SESSION_MAX_AGE
) -> SessionClaim | None:
    """The claim of a valid, unexpired token; None for anything else."""
    parts = token.split(".")
    if len(parts) != 4 or not all(p.isdigit() for p in parts[:3]):
        return None
    payload = ".".join(parts[:3])
    if not hmac.compare_digest(_sign(secret, payload), parts[3]):
        return None
    claim = SessionClaim(int(parts[0]), int(parts[1]), int(parts[2]))
    if not claim.issued <= now + 60 or now - claim.issued > max_age:
        return None
    return claim
