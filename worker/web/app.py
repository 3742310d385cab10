"""The flagged-reports page: a worklist and a report view, server-rendered with Jinja2.

Addresses carry only opaque ids and filter values, never an accession or a
patient identifier; report text is rendered into pages and never logged.
"""

import logging
from datetime import UTC, date, datetime
from http import HTTPStatus
from importlib import resources
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Form, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from hl7.errors import RadflagError
from nlp.model import PRIORITY_RANK
from worker.settings import Settings
from worker.store import Store, open_store
from worker.store_queries import WorklistFilter
from worker.web import present
from worker.web.followups import add_followup_routes
from worker.web.ops_routes import add_ops_routes
from worker.web.security import SECURITY_HEADERS, BasicAuth, Csrf

log = logging.getLogger(__name__)

PAGE_SIZE = 100
REVIEWED_CHOICES = {"no": False, "yes": True, "all": None}
REVIEWER_COOKIE = "radflag_reviewer"


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(resources.files("worker.web") / "templates"))
    env = templates.env
    env.globals.update(
        flag_label=present.flag_label,
        site_label=present.site_label,
        bone_label=present.bone_label,
        status_label=present.STATUS_LABEL,
        laterality_label=present.LATERALITY_LABEL,
    )
    env.filters["when"] = lambda moment: moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    return templates


def _parse_day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as e:
        raise HTTPException(400, f"not a date (YYYY-MM-DD): {value!r}") from e


def create_app(settings: Settings, *, store: Store | None = None) -> FastAPI:
    """The web application: pages, /metrics, /healthz and /readyz."""
    app = FastAPI(title="radflag", docs_url=None, redoc_url=None, openapi_url=None)
    templates = _templates()
    auth = BasicAuth(settings)
    csrf = Csrf()
    app.state.store = store

    def get_store() -> Store:
        if app.state.store is None:
            app.state.store = open_store(settings)
        return app.state.store

    User = Annotated[str | None, Depends(auth)]
    StoreDep = Annotated[Store, Depends(get_store)]

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.get("/", response_class=HTMLResponse)
    def worklist(
        request: Request,
        user: User,
        store: StoreDep,
        flag: str = "",
        priority: str = "",
        date_from: str = "",
        date_to: str = "",
        reviewed: str = "no",
        page: int = 1,
    ) -> Response:
        if reviewed not in REVIEWED_CHOICES:
            raise HTTPException(400, "reviewed must be yes, no or all")
        if priority and priority not in PRIORITY_RANK:
            raise HTTPException(400, "unknown priority")
        page = max(1, page)
        flt = WorklistFilter(
            flag=flag or None,
            priority=priority or None,
            day_from=_parse_day(date_from),
            day_to=_parse_day(date_to),
            reviewed=REVIEWED_CHOICES[reviewed],
        )
        rows, total = store.worklist(flt, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        query = {
            "flag": flag,
            "priority": priority,
            "date_from": date_from,
            "date_to": date_to,
            "reviewed": reviewed,
        }
        pages = max(1, -(-total // PAGE_SIZE))
        context = {
            "rows": rows,
            "total": total,
            "filters": query,
            "flag_codes": store.flag_codes(),
            "priorities": sorted(PRIORITY_RANK, key=PRIORITY_RANK.__getitem__, reverse=True),
            "page": page,
            "pages": pages,
            "prev_url": "?" + urlencode({**query, "page": page - 1}) if page > 1 else None,
            "next_url": "?" + urlencode({**query, "page": page + 1}) if page < pages else None,
            "unreviewed": store.unreviewed_count(),
            "user": user,
        }
        return templates.TemplateResponse(request, "worklist.html", context)

    @app.get("/reports/{public_id}", response_class=HTMLResponse)
    def report(request: Request, public_id: str, user: User, store: StoreDep) -> Response:
        view = store.report(public_id)
        if view is None:
            raise HTTPException(404, "no such report")
        text = view.report_text
        if text is None and view.raw is not None:
            text = _text_from_message(view.raw)
        mentions = list(view.annotation.get("mentions", []))
        nonce, token = csrf.issue(request)
        context = {
            "view": view,
            "row": view.row,
            "flags": sorted(
                view.annotation.get("flags", []),
                key=lambda f: -PRIORITY_RANK.get(str(f.get("priority")), 0),
            ),
            "etiology": view.annotation.get("etiology", []),
            "mentions": mentions,
            "segments": present.segments(text, mentions) if text else [],
            "has_text": text is not None,
            "csrf_token": token,
            "reviewer": user or request.cookies.get(REVIEWER_COOKIE, ""),
            "ask_reviewer": user is None,
            "user": user,
        }
        rendered = templates.TemplateResponse(request, "report.html", context)
        csrf.set_cookie(request, rendered, nonce)
        return rendered

    @app.post("/reports/{public_id}/reviewed")
    def mark_reviewed(
        request: Request,
        public_id: str,
        user: User,
        store: StoreDep,
        csrf_token: Annotated[str, Form()] = "",
        reviewer: Annotated[str, Form()] = "",
    ) -> Response:
        csrf.check(request, csrf_token)
        who = user or reviewer.strip()
        if not who:
            raise HTTPException(400, "say who reviewed the report")
        if not store.mark_reviewed(public_id, reviewer=who[:200], at=datetime.now(UTC)):
            raise HTTPException(404, "no such report")
        response = RedirectResponse(f"/reports/{public_id}", status_code=303)
        if user is None:
            response.set_cookie(REVIEWER_COOKIE, who[:200], httponly=True, samesite="strict")
        return response

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        context = {
            "status_code": exc.status_code,
            "title": HTTPStatus(exc.status_code).phrase,
            "detail": exc.detail,
            "user": None,
        }
        return templates.TemplateResponse(
            request, "error.html", context, status_code=exc.status_code, headers=exc.headers
        )

    static = resources.files("worker.web") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    add_ops_routes(app, settings, get_store)
    add_followup_routes(app, settings, templates, auth, csrf, get_store)
    return app


def _text_from_message(raw: bytes) -> str | None:
    # Older rows, or a service that did not pass report_text: extract it again.
    from hl7.extract import extract_report

    try:
        return extract_report(raw).text
    except RadflagError:
        return None
