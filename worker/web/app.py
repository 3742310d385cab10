"""The flagged-reports page: a worklist and a report view, server-rendered with Jinja2.

Addresses carry only opaque ids and filter values, never an accession or a
patient identifier; report text is rendered into pages and never logged.
Patient names, ages and identifiers are shown only to a logged-in user (or in
local mode, which binds loopback only).
"""

import logging
from collections.abc import Mapping
from datetime import UTC, date, datetime
from http import HTTPStatus
from importlib import resources
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from feedback.labels import ReviewError
from hl7.errors import RadflagError
from hl7.order import RESULT_STATUSES, age_at
from nlp.model import PRIORITY_RANK
from worker.settings import Settings
from worker.store import Store, open_store
from worker.store_feedback import feedback_of
from worker.store_queries import SORT_KEYS, WorklistFilter, WorklistRow
from worker.web import present
from worker.web.admin_routes import add_admin_routes
from worker.web.auth import Principal, WebAuth, add_auth_routes
from worker.web.followups import add_followup_routes
from worker.web.messages_routes import add_message_routes
from worker.web.ops_routes import add_ops_routes
from worker.web.quality_routes import add_quality_routes
from worker.web.review_form import review_from_form, review_options
from worker.web.security import SECURITY_HEADERS, Csrf

log = logging.getLogger(__name__)

PAGE_SIZE = 100
REVIEWED_CHOICES = {"no": False, "yes": True, "all": None}
REVIEWER_COOKIE = "radflag_reviewer"
LIST_KEYS = ("q", "flag", "priority", "date_from", "date_to", "reviewed", "sort", "dir")
POLL_SECONDS = 3
DEFAULT_LIST = {
    "reviewed": "no",
    "sort": "priority",
    "dir": "desc",
}  # how often an open worklist asks whether it changed


def _templates(settings: Settings) -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(resources.files("worker.web") / "templates"))
    zone = ZoneInfo(settings.display_timezone)
    env = templates.env
    env.globals.update(
        flag_label=present.flag_label,
        site_label=present.site_label,
        bone_label=present.bone_label,
        status_label=present.STATUS_LABEL,
        laterality_label=present.LATERALITY_LABEL,
        result_status_label=RESULT_STATUSES,
        age_of=_age_of,
        report_url=report_url,
        timezone_name=settings.display_timezone,
    )
    env.filters["when"] = lambda moment: moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    def when_after(moment: datetime, earlier: datetime | None) -> str:
        # Only the time when it falls on the same local day as `earlier`.
        local = moment.astimezone(zone)
        same_day = earlier is not None and earlier.astimezone(zone).date() == local.date()
        return local.strftime("%H:%M" if same_day else "%Y-%m-%d %H:%M")

    env.filters["when_after"] = when_after
    return templates


def _age_of(row: WorklistRow) -> int | None:
    return age_at(row.birth_date, row.exam_time or row.received_at)


FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(9998, 12, 31)  # a day after stays a date
MAX_PAGE = 1_000_000  # beyond it the store's OFFSET would overflow (issue 15, item 11)


def _parse_day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError as e:
        raise HTTPException(400, "not a date (YYYY-MM-DD)") from e
    if not FIRST_DAY <= day <= LAST_DAY:
        raise HTTPException(400, f"date out of range ({FIRST_DAY} to {LAST_DAY})")
    return day


def _parse_page(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= MAX_PAGE:
        raise HTTPException(400, f"page must be a number from 1 to {MAX_PAGE}")
    return int(value)


def list_filter(params: Mapping[str, str]) -> tuple[WorklistFilter, dict[str, str]]:
    """The worklist filter and its normalised query from request parameters.

    Raises HTTPException 400 for a value the worklist does not know.
    """
    query = {key: str(params.get(key, "")).strip()[:200] for key in LIST_KEYS}
    query["reviewed"] = query["reviewed"] or "no"
    query["sort"] = query["sort"] or "priority"
    query["dir"] = query["dir"] or "desc"
    if query["reviewed"] not in REVIEWED_CHOICES:
        raise HTTPException(400, "reviewed must be yes, no or all")
    if query["priority"] and query["priority"] not in PRIORITY_RANK:
        raise HTTPException(400, "unknown priority")
    if query["sort"] not in SORT_KEYS:
        raise HTTPException(400, f"sort must be one of {', '.join(SORT_KEYS)}")
    if query["dir"] not in ("asc", "desc"):
        raise HTTPException(400, "dir must be asc or desc")
    flt = WorklistFilter(
        flag=query["flag"] or None,
        priority=query["priority"] or None,
        day_from=_parse_day(query["date_from"]),
        day_to=_parse_day(query["date_to"]),
        reviewed=REVIEWED_CHOICES[query["reviewed"]],
        search=query["q"] or None,
        sort=query["sort"],
        descending=query["dir"] == "desc",
    )
    return flt, query


def next_in_list(store: Store, list_query: str, current: str) -> str | None:
    """The report after `current` in the worklist that `list_query` describes.

    When `current` has left that list (it was just reviewed and the list shows
    unreviewed reports), the list's first report is next.
    """
    try:
        flt, _ = list_filter(dict(parse_qsl(list_query)))
    except HTTPException:
        flt = WorklistFilter()
    rows, _ = store.worklist(flt, limit=500)
    ids = [row.public_id for row in rows]
    if current in ids:
        position = ids.index(current)
        return ids[position + 1] if position + 1 < len(ids) else None
    return ids[0] if ids else None


def create_app(settings: Settings, *, store: Store | None = None) -> FastAPI:
    """The web application: pages, /metrics, /healthz and /readyz."""
    app = FastAPI(title="radflag", docs_url=None, redoc_url=None, openapi_url=None)
    templates = _templates(settings)
    app.state.store = store

    def get_store() -> Store:
        if app.state.store is None:
            app.state.store = open_store(settings)
        return app.state.store

    auth = WebAuth(settings, get_store)
    csrf = Csrf(lambda: auth.secret("csrf"))
    User = Annotated[Principal, Depends(auth.require())]
    Reviewer = Annotated[Principal, Depends(auth.require("review"))]
    StoreDep = Annotated[Store, Depends(get_store)]

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    def page_context(request: Request, user: Principal) -> dict[str, Any]:
        nonce, token = csrf.issue(request)
        request.state.csrf_nonce = nonce
        return {"user": user.name, "principal": user, "csrf_token": token}

    def render(request: Request, name: str, context: dict[str, Any]) -> Response:
        response = templates.TemplateResponse(request, name, context)
        csrf.set_cookie(request, response, request.state.csrf_nonce)
        return response

    @app.api_route("/", methods=["GET", "POST"], response_class=HTMLResponse)
    async def worklist(request: Request, user: User, store: StoreDep) -> Response:
        # A search term may be a patient's name: it comes in a POST body, never in a URL.
        params: dict[str, str] = dict(request.query_params)
        if request.method == "POST":
            form = await request.form()
            params.update({k: str(v) for k, v in form.items()})
        flt, query = list_filter(params)
        page_number = _parse_page(str(params.get("page") or "1"))
        rows, total = store.worklist(flt, limit=PAGE_SIZE, offset=(page_number - 1) * PAGE_SIZE)
        pages = max(1, -(-total // PAGE_SIZE))
        in_url = {k: v for k, v in query.items() if k != "q"}

        def sort_url(column: str) -> str:
            same = query["sort"] == column
            direction = "asc" if same and query["dir"] == "desc" else "desc"
            return "?" + urlencode({**in_url, "sort": column, "dir": direction})

        context = {
            **page_context(request, user),
            "rows": rows,
            "total": total,
            "filters": query,
            "list_query": list_link(in_url),
            "sort_url": sort_url,
            "flag_codes": store.flag_codes(),
            "priorities": sorted(PRIORITY_RANK, key=PRIORITY_RANK.__getitem__, reverse=True),
            "page": page_number,
            "pages": pages,
            "prev_url": (
                "?" + urlencode({**in_url, "page": page_number - 1}) if page_number > 1 else None
            ),
            "next_url": (
                "?" + urlencode({**in_url, "page": page_number + 1})
                if page_number < pages
                else None
            ),
            "unreviewed": store.unreviewed_count(),
            "poll_seconds": POLL_SECONDS,
        }
        partial = params.get("partial") == "1"
        return render(request, "worklist_rows.html" if partial else "worklist.html", context)

    @app.get("/worklist/state")
    def worklist_state(user: User, store: StoreDep) -> Response:
        # What changed-or-not needs: counts and a time stamp, no patient data.
        count, unreviewed, stamp = store.worklist_state()
        return JSONResponse({"flagged": count, "unreviewed": unreviewed, "stamp": stamp})

    @app.get("/reports/{public_id}", response_class=HTMLResponse)
    def report(
        request: Request,
        public_id: str,
        user: User,
        store: StoreDep,
        from_list: Annotated[str, Query(alias="list")] = "",
    ) -> Response:
        view = store.report(public_id)
        if view is None:
            raise HTTPException(404, "no such report")
        text = view.report_text
        if text is None and view.raw is not None:
            text = _text_from_message(view.raw)
        mentions = list(view.annotation.get("mentions", []))
        flags = sorted(
            view.annotation.get("flags", []),
            key=lambda f: -PRIORITY_RANK.get(str(f.get("priority")), 0),
        )
        feedback = feedback_of(store)
        versions = feedback.versions(public_id)
        list_query = list_link(list_filter(dict(parse_qsl(from_list)))[1])
        next_id = next_in_list(store, list_query, public_id)
        evidence = [s for sentences in view.evidence.values() for s in sentences]
        context = {
            **page_context(request, user),
            "view": view,
            "row": view.row,
            "flags": flags,
            "etiology": view.annotation.get("etiology", []),
            "mentions": mentions,
            "segments": present.segments(text, mentions, evidence=evidence) if text else [],
            "has_text": text is not None,
            "reviewer": user.name or request.cookies.get(REVIEWER_COOKIE, ""),
            "ask_reviewer": user.name is None,
            "may_review": user.may("review"),
            "versions": versions,
            "latest": versions[-1].public_id if versions else public_id,
            "reviews": feedback.reviews(public_id),
            "list_query": list_query,
            "next_url": report_url(next_id, list_query) if next_id else None,
            "options": review_options(),
            "age": _age_of(view.row),
        }
        return render(request, "report.html", context)

    @app.post("/reports/{public_id}/reviewed")
    async def mark_reviewed(
        request: Request, public_id: str, user: Reviewer, store: StoreDep
    ) -> Response:
        form = await request.form()
        fields = {k: [str(v) for v in form.getlist(k)] for k in form}

        def one(name: str) -> str:
            return (fields.get(name) or [""])[0]

        csrf.check(request, one("csrf_token"))
        who = user.name or one("reviewer").strip()
        if not who:
            raise HTTPException(400, "say who reviewed the report")
        view = store.report(public_id)
        if view is None:
            raise HTTPException(404, "no such report")
        codes = [str(f["code"]) for f in view.annotation.get("flags", [])]
        try:
            review = review_from_form(codes, fields, view.annotation)
        except ReviewError as e:
            raise HTTPException(400, str(e)) from e
        feedback_of(store).record_review(
            public_id, reviewer=who[:200], review=review, at=datetime.now(UTC)
        )
        list_query = list_link(list_filter(dict(parse_qsl(one("list"))))[1])
        target = report_url(public_id, list_query)
        if one("then") == "next":
            next_id = next_in_list(store, list_query, public_id)
            target = report_url(next_id, list_query) if next_id else "/?" + list_query
        if one("then") == "list":
            target = "/?" + list_query
        response = RedirectResponse(target, status_code=303)
        if user.name is None:
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
    add_auth_routes(app, auth, csrf, templates)
    add_quality_routes(app, auth, get_store, templates)
    add_admin_routes(app, auth, csrf, templates)
    add_ops_routes(app, settings, get_store)
    add_followup_routes(app, settings, templates, auth, csrf, get_store)
    add_message_routes(app, settings, get_store, auth=auth, csrf=csrf, templates=templates)
    return app


def list_link(query: Mapping[str, str]) -> str:
    """The worklist's filters and order as a query string; "" when they are the defaults."""
    shown = {k: v for k, v in query.items() if k != "q" and v and DEFAULT_LIST.get(k) != v}
    return urlencode(shown)


def report_url(public_id: str, list_query: str) -> str:
    """A report's address, with the worklist it was opened from (for "next")."""
    return f"/reports/{public_id}" + ("?list=" + quote(list_query, safe="") if list_query else "")


def _text_from_message(raw: bytes) -> str | None:
    # Older rows, or a service that did not pass report_text: extract it again.
    from hl7.extract import extract_report

    try:
        return extract_report(raw).text
    except RadflagError:
        return None
