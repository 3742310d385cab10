"""The Follow-ups worklist: due soon, overdue, scheduled and completed; one page per follow-up.

Each follow-up's page shows its recommendation, its audit trail (who or what
changed it, when, why), the patient's timeline of exams with the course of the
edema, and the two actions a person may take: not needed, completed
elsewhere, each with a reason (CSRF-protected, like "reviewed"). Addresses
carry the follow-up's opaque id only.
"""

# No `from __future__ import annotations`: FastAPI reads the route signatures, whose
# `User` alias is local to add_followup_routes (as in worker/web/app.py).
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Form, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from followup.model import COMPLETED, OVERDUE, SCHEDULED
from followup.status import PERSON_STATUSES, StatusError
from worker.followup_clock import clock_for
from worker.followup_store import FollowupStore
from worker.settings import Settings
from worker.store import Store
from worker.web.auth import WebAuth
from worker.web.security import Csrf

SECTION_SIZE = 100
REVIEWER_COOKIE = "radflag_reviewer"
SECTIONS = (
    ("due_soon", "Due soon", "open, due window starts within a week"),
    (OVERDUE, "Overdue", "past the window, nothing done"),
    (SCHEDULED, "Scheduled", "order or appointment seen"),
    (COMPLETED, "Completed", "a later report of that region"),
)


def add_followup_routes(
    app: FastAPI,
    settings: Settings,
    templates: Jinja2Templates,
    auth: WebAuth,
    csrf: Csrf,
    get_store: Callable[[], Store],
) -> None:
    """Register /followups and /followups/{id} on `app`."""
    clock = clock_for(settings)
    User = Annotated[str | None, Depends(auth)]

    def followups() -> FollowupStore:
        found = getattr(app.state, "followups", None)
        if found is None:
            found = app.state.followups = FollowupStore(get_store().engine)
        return found

    @app.get("/followups", response_class=HTMLResponse)
    def worklist(request: Request, user: User) -> Response:
        store = followups()
        now = clock()
        sections = []
        for key, title, hint in SECTIONS:
            if key == "due_soon":
                rows = store.listing(due_soon_at=now, limit=SECTION_SIZE)
            else:
                rows = store.listing(status=key, limit=SECTION_SIZE)
            sections.append({"key": key, "title": title, "hint": hint, "rows": rows})
        counts = store.counts()
        context = {
            "sections": sections,
            "counts": counts,
            "adherence": counts.adherence,
            "now": now,
            "user": user,
        }
        return templates.TemplateResponse(request, "followups.html", context)

    @app.get("/followups/{public_id}", response_class=HTMLResponse)
    def followup(request: Request, public_id: str, user: User) -> Response:
        store = followups()
        view = store.followup(public_id)
        timeline = store.timeline(public_id)
        if view is None or timeline is None:
            raise HTTPException(404, "no such follow-up")
        exams, patient_followups = timeline
        nonce, token = csrf.issue(request)
        context: dict[str, Any] = {
            "view": view,
            "exams": exams,
            "patient_followups": patient_followups,
            "actions": PERSON_STATUSES,
            "closed": view.status in ("completed", *PERSON_STATUSES),
            "csrf_token": token,
            "reviewer": user or request.cookies.get(REVIEWER_COOKIE, ""),
            "ask_reviewer": user is None,
            "user": user,
        }
        rendered = templates.TemplateResponse(request, "followup.html", context)
        csrf.set_cookie(request, rendered, nonce)
        return rendered

    @app.post("/followups/{public_id}/status")
    def set_status(
        request: Request,
        public_id: str,
        user: User,
        csrf_token: Annotated[str, Form()] = "",
        status: Annotated[str, Form()] = "",
        reason: Annotated[str, Form()] = "",
        reviewer: Annotated[str, Form()] = "",
    ) -> Response:
        csrf.check(request, csrf_token)
        who = (user or reviewer.strip())[:200]
        if not who:
            raise HTTPException(400, "say who you are")
        try:
            found = followups().set_status(
                public_id, status, reason[:2000], actor=who, at=datetime.now(UTC)
            )
        except StatusError as e:
            raise HTTPException(400, str(e)) from e
        if not found:
            raise HTTPException(404, "no such follow-up")
        response = RedirectResponse(f"/followups/{public_id}", status_code=303)
        if user is None:
            response.set_cookie(REVIEWER_COOKIE, who, httponly=True, samesite="strict")
        return response
