"""Protection of the flagged-reports page: where it may bind, who may see it, CSRF.

Strategy: the page shows health data. Without credentials it only binds a
loopback address (the radiologist's own machine or behind a reverse proxy that
authenticates); with `http_user`/`http_password` set every page needs HTTP
Basic. The POST action carries a CSRF token: an HMAC, under a secret the web
processes share through the store (so a form survives a restart and works
through any replica), of a random value that also sits in a SameSite=Strict cookie
(double submit), so a foreign page can neither read nor forge it.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets
from collections.abc import Callable

from fastapi import HTTPException, Request, Response, status

from worker.settings import Settings, SettingsError

CSRF_COOKIE = "radflag_csrf"
_PROCESS_SECRET = os.urandom(32)
LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(settings: Settings, *, accounts_exist: Callable[[], bool] | None = None) -> None:
    """Refuse a non-loopback bind address without credentials.

    Credentials are `http_user`/`http_password` or accounts in the store
    (`accounts_exist`, asked only when needed). Raises SettingsError naming the
    settings that would allow it.
    """
    if is_loopback(settings.http_host):
        return
    if settings.http_user and settings.http_password:
        return
    if accounts_exist is not None and accounts_exist():
        return
    raise SettingsError(
        f"refusing to serve health data on {settings.http_host}: add accounts with "
        "`radflag users add`, or set RADFLAG_HTTP_USER and RADFLAG_HTTP_PASSWORD (HTTP Basic), "
        "or bind 127.0.0.1"
    )


class Csrf:
    """Issues and checks double-submit CSRF tokens."""

    def __init__(self, secret: bytes | Callable[[], bytes] | None = None) -> None:
        # A callable is asked on first use (the store's shared secret, read lazily).
        self._source = secret if callable(secret) else (lambda: secret or _PROCESS_SECRET)

    def _sign(self, nonce: str) -> str:
        return hmac.new(self._source(), nonce.encode(), hashlib.sha256).hexdigest()

    def issue(self, request: Request) -> tuple[str, str]:
        """(cookie value, form token) for this page; keeps the browser's cookie if valid."""
        nonce = request.cookies.get(CSRF_COOKIE, "")
        if len(nonce) != 32:
            nonce = secrets.token_hex(16)
        return nonce, self._sign(nonce)

    @staticmethod
    def set_cookie(request: Request, response: Response, nonce: str) -> None:
        """Send the cookie half of the double submit."""
        response.set_cookie(
            CSRF_COOKIE,
            nonce,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )

    def check(self, request: Request, submitted: str) -> None:
        """Raises HTTPException 403 unless `submitted` matches the cookie's token."""
        nonce = request.cookies.get(CSRF_COOKIE, "")
        if not nonce or not hmac.compare_digest(self._sign(nonce), submitted or ""):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, "the form has expired; reload the page and try again"
            )


SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; style-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'",
}


def store_has_accounts(settings: Settings) -> Callable[[], bool]:
    """A check for `check_bind`: does the store hold any account? (False if unreachable)."""

    def check() -> bool:
        from hl7.errors import TransientError
        from worker.store import open_store
        from worker.store_accounts import AccountStore

        try:
            return AccountStore(open_store(settings).engine).has_users()
        except TransientError:
            return False

    return check
