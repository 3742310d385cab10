"""Who is asking: a session cookie from the login form, HTTP Basic, or local access.

Strategy: once any account exists (`radflag users add`), every page needs a
login. People log in with the form and get a signed session cookie; scripts
use HTTP Basic with the same accounts (or the configured `http_user`, which
acts as an admin). The signing secret lives in the store, so every web process
and replica accepts the cookie, also after a restart. With no accounts and no
`http_user`, the page keeps its local mode: loopback only, the reviewer types
a name. Failed logins, by form or Basic, count against a shared rate limit.
"""

import base64
import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, FastAPI, Form, HTTPException, Request, Response, status
from fastapi.responses import RedirectResponse
from fastapi.templating import Jinja2Templates

from accounts.roles import may
from accounts.sessions import SESSION_MAX_AGE, SessionClaim, issue_token, read_token
from worker.settings import Settings
from worker.store import Store
from worker.store_accounts import AccountStore
from worker.web.security import Csrf

log = logging.getLogger(__name__)

SESSION_COOKIE = "radflag_session"
LOCAL = "local"  # the role of local access (no accounts configured)


@dataclass(frozen=True)
class Principal:
    """The person (or script) behind a request."""

    name: str | None  # None in local mode: the reviewer says who they are
    role: str
    via: str  # "session", "basic" or "local"

    def may(self, action: str) -> bool:
        return self.role == LOCAL or may(self.role, action)


class LoginRequired(Exception):
    """Raised for a page that needs a login; the app answers with the login form."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


class WebAuth:
    """Authenticates requests against the store's accounts; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        get_store: Callable[[], Store],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._get_store = get_store
        self._clock = clock
        self._accounts: AccountStore | None = None
        self._secrets: dict[str, bytes] = {}

    @property
    def accounts(self) -> AccountStore:
        store = self._get_store()
        if self._accounts is None:
            self._accounts = AccountStore(store.engine)
        return self._accounts

    def secret(self, name: str) -> bytes:
        """A secret shared by all web processes through the store (cached once read)."""
        if name not in self._secrets:
            self._secrets[name] = self.accounts.web_secret(name)
        return self._secrets[name]

    @property
    def legacy_basic(self) -> bool:
        return bool(self.settings.http_user and self.settings.http_password)

    def principal(self, request: Request) -> Principal | None:
        """Who sent `request`, or None when a login is needed and none was given.

        Raises HTTPException 401 for wrong Basic credentials, 429 when throttled.
        """
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            found = self._session_user(token)
            if found is not None:
                return found
        header = request.headers.get("authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() == "basic":
            return self._basic(request, encoded)
        if self.legacy_basic or self.accounts.has_users():
            return None
        return Principal(None, LOCAL, "local")

    def _session_user(self, token: str) -> Principal | None:
        claim = read_token(self.secret("session"), token, now=self._clock())
        if claim is None:
            return None
        user = self.accounts.user(claim.user_id)
        if user is None or user.disabled or user.session_epoch != claim.epoch:
            return None
        return Principal(user.name, user.role, "session")

    def _basic(self, request: Request, encoded: str) -> Principal:
        try:
            name, _, password = base64.b64decode(encoded).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            name, password = "", ""
        if self.legacy_basic:
            # Compare both in constant time, whatever the first comparison says.
            name_ok = hmac.compare_digest(name.encode(), (self.settings.http_user or "").encode())
            password_ok = hmac.compare_digest(
                password.encode(), (self.settings.http_password or "").encode()
            )
            if name_ok and password_ok:
                return Principal(name, "admin", "basic")
        outcome = self.accounts.authenticate(name, password, client=_client(request))
        if outcome.retry_after:
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                "too many failed logins; try again later",
                headers={"Retry-After": str(outcome.retry_after)},
            )
        if outcome.user is None:
            raise basic_challenge()
        return Principal(outcome.user.name, outcome.user.role, "basic")

    def session_cookie(
        self, response: Response, request: Request, user_id: int, epoch: int
    ) -> None:
        token = issue_token(
            self.secret("session"), SessionClaim(user_id, epoch, int(self._clock()))
        )
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=SESSION_MAX_AGE,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )

    def __call__(self, request: Request) -> str | None:
        """A FastAPI dependency like `require()`, giving the user's name (None: local mode)."""
        return self.require()(request).name

    def require(self, action: str | None = None) -> Callable[[Request], Principal]:
        """A FastAPI dependency: the principal, who must be allowed `action`."""

        def dependency(request: Request) -> Principal:
            found = self.principal(request)
            if found is None:
                if self.legacy_basic and not self.accounts.has_users():
                    raise basic_challenge()
                if request.headers.get("x-requested-with") == "radflag":
                    # The page's own polling: no Basic challenge (a browser would prompt).
                    raise HTTPException(status.HTTP_401_UNAUTHORIZED, "the session has ended")
                if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
                    raise LoginRequired(_local_path(str(request.url.path), request.url.query))
                raise basic_challenge()
            if action and not found.may(action):
                raise HTTPException(
                    status.HTTP_403_FORBIDDEN, f"your role may not do this ({action})"
                )
            return found

        return dependency


def basic_challenge() -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "authentication required",
        headers={"WWW-Authenticate": 'Basic realm="radflag", charset="UTF-8"'},
    )


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _local_path(path: str, query: str = "") -> str:
    """Only a path on this site may be a redirect target (no open redirect)."""
    target = path + ("?" + query if query else "")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def add_auth_routes(app: FastAPI, auth: WebAuth, csrf: Csrf, templates: Jinja2Templates) -> None:
    """/login (form and POST) and /logout."""

    @app.exception_handler(LoginRequired)
    def login_required(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse("/login?next=" + quote(exc.next_url, safe=""), status_code=303)

    def form(request: Request, next_url: str, error: str | None, code: int = 200) -> Response:
        nonce, token = csrf.issue(request)
        context = {"next": next_url, "error": error, "csrf_token": token, "user": None}
        page = templates.TemplateResponse(request, "login.html", context, status_code=code)
        csrf.set_cookie(request, page, nonce)
        return page

    @app.get("/login")
    def login_form(request: Request, next: str = "/") -> Response:
        return form(request, _local_path(next), None)

    @app.post("/login")
    def login(
        request: Request,
        username: Annotated[str, Form()] = "",
        password: Annotated[str, Form()] = "",
        csrf_token: Annotated[str, Form()] = "",
        next: Annotated[str, Form()] = "/",
    ) -> Response:
        csrf.check(request, csrf_token)
        outcome = auth.accounts.authenticate(username.strip(), password, client=_client(request))
        target = _local_path(next)
        if outcome.retry_after:
            minutes = -(-outcome.retry_after // 60)
            message = f"Too many failed logins. Try again in {minutes} minute(s)."
            page = form(request, target, message, 429)
            page.headers["Retry-After"] = str(outcome.retry_after)
            return page
        if outcome.user is None:
            return form(request, target, "Wrong user name or password.", 401)
        response = RedirectResponse(target, status_code=303)
        auth.session_cookie(response, request, outcome.user.id, outcome.user.session_epoch)
        log.info("login via form")
        return response

    @app.post("/logout")
    def logout(
        request: Request,
        who: Annotated[Principal, Depends(auth.require())],
        csrf_token: Annotated[str, Form()] = "",
    ) -> Response:
        csrf.check(request, csrf_token)
        if who.name and who.via == "session":
            # A stolen copy of the cookie must not outlive the logout: end every session.
            auth.accounts.end_sessions(who.name, by=who.name)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response


__all__ = ["LOCAL", "LoginRequired", "Principal", "WebAuth", "add_auth_routes"]
