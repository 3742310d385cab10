"""/quality: how often radiologists agree with each flag, and why not (operators, admins)."""

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from feedback.labels import REASONS
from worker.store import Store
from worker.store_feedback import feedback_of
from worker.web.auth import Principal, WebAuth


def add_quality_routes(
    app: FastAPI, auth: WebAuth, get_store: Callable[[], Store], templates: Jinja2Templates
) -> None:
    """Register the quality page on `app`."""

    @app.get("/quality", response_class=HTMLResponse)
    def quality(
        request: Request, user: Annotated[Principal, Depends(auth.require("quality"))]
    ) -> Response:
        report = feedback_of(get_store()).quality()
        months = sorted({m for _, m, _ in report.by_code_month_language}, reverse=True)
        languages = sorted({lang for _, _, lang in report.by_code_month_language})
        context = {
            "user": user.name,
            "principal": user,
            "report": report,
            "months": months,
            "languages": languages,
            "reason_labels": REASONS,
            "reviewed_flags": sum(a.reviewed for a in report.by_code.values()),
        }
        return templates.TemplateResponse(request, "quality.html", context)
