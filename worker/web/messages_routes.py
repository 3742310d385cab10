"""The operators' message browser: search stored messages, view one, resend or reprocess.

Like Mirth's message browser: every inbound message with its raw HL7, the ACK
it got, its annotation, its result and every delivery attempt. The pages show
health data (raw messages), so they are for operators only (the accounts'
"operations" permission: operators and admins; in local mode, whoever uses
the loopback page); the actions are POSTs with the page's CSRF token.
Addresses carry the message's row id and filter values only.
"""

import json
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Form, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from browse import DELIVERY_STATES, MessageQuery, parse_day
from browse.criteria import CriteriaError
from hl7.errors import TransientError
from worker.message_store import message_detail, search_messages
from worker.resend import NothingToResend, reprocess, resend
from worker.settings import Settings
from worker.store import Store
from worker.web.auth import Principal, WebAuth
from worker.web.security import Csrf

SEARCH_FIELDS = ("control_id", "accession", "date_from", "date_to", "type", "ack", "delivery")
ACTIONS: dict[str, Callable[..., Any]] = {"resend": resend, "reprocess": reprocess}


def add_message_routes(
    app: FastAPI,
    settings: Settings,
    get_store: Callable[[], Store],
    *,
    auth: WebAuth,
    csrf: Csrf,
    templates: Jinja2Templates,
) -> None:
    """Register /messages (search), /messages/{id} (view) and the resend/reprocess actions."""
    operator = Annotated[Principal, Depends(auth.require("operations"))]
    store_dep = Annotated[Store, Depends(get_store)]

    def publisher() -> Callable[[str, dict[str, Any]], None]:
        from worker import celery_app, keys

        url = keys.resolve_redis_url(settings)
        if url is None:
            raise HTTPException(503, "no Redis configured: nothing can be queued")
        celery_app.configure(settings, redis_url=url)
        return celery_app.publish

    @app.get("/messages", response_class=HTMLResponse)
    def messages(request: Request, user: operator, store: store_dep) -> Response:
        filters = {name: request.query_params.get(name, "").strip() for name in SEARCH_FIELDS}
        rows = search_messages(store, _query(filters))
        nonce, token = csrf.issue(request)
        context = {
            "rows": rows,
            "filters": filters,
            "states": DELIVERY_STATES,
            "csrf_token": token,
            "done": request.query_params.get("done", ""),
            "user": user.name,
            "principal": user,
        }
        rendered = templates.TemplateResponse(request, "messages.html", context)
        csrf.set_cookie(request, rendered, nonce)
        return rendered

    @app.get("/messages/{message_id}", response_class=HTMLResponse)
    def message(request: Request, message_id: int, user: operator, store: store_dep) -> Response:
        detail = message_detail(store, message_id)
        if detail is None:
            raise HTTPException(404, "no such message")
        nonce, token = csrf.issue(request)
        context = {
            "detail": detail,
            "row": detail.row,
            "raw": detail.raw.decode("utf-8", "replace").replace("\r", "\n"),
            "result": (detail.result_message or b"").decode("utf-8", "replace").replace("\r", "\n"),
            "annotation": json.dumps(detail.annotation, indent=2, ensure_ascii=False)
            if detail.annotation is not None
            else "",
            "csrf_token": token,
            "done": request.query_params.get("done", ""),
            "user": user.name,
            "principal": user,
        }
        rendered = templates.TemplateResponse(request, "message.html", context)
        csrf.set_cookie(request, rendered, nonce)
        return rendered

    @app.post("/messages/{message_id}/{action}")
    def act_on_one(
        request: Request,
        message_id: int,
        action: str,
        user: operator,
        store: store_dep,
        csrf_token: Annotated[str, Form()] = "",
    ) -> Response:
        csrf.check(request, csrf_token)
        if action not in ACTIONS:
            raise HTTPException(404, "no such action")
        detail = message_detail(store, message_id)
        if detail is None:
            raise HTTPException(404, "no such message")
        done = _apply(ACTIONS[action], [detail], publisher())
        return RedirectResponse(f"/messages/{message_id}?done={done}", status_code=303)

    @app.post("/messages")
    def act_on_search(
        request: Request,
        user: operator,
        store: store_dep,
        action: Annotated[str, Form()],
        csrf_token: Annotated[str, Form()] = "",
        control_id: Annotated[str, Form()] = "",
        accession: Annotated[str, Form()] = "",
        date_from: Annotated[str, Form()] = "",
        date_to: Annotated[str, Form()] = "",
        type: Annotated[str, Form()] = "",
        ack: Annotated[str, Form()] = "",
        delivery: Annotated[str, Form()] = "",
    ) -> Response:
        csrf.check(request, csrf_token)
        if action not in ACTIONS:
            raise HTTPException(400, "no such action")
        filters = {
            "control_id": control_id, "accession": accession, "date_from": date_from,
            "date_to": date_to, "type": type, "ack": ack, "delivery": delivery,
        }  # fmt: skip
        rows = search_messages(store, _query(filters))
        details = [d for d in (message_detail(store, r.id) for r in rows) if d is not None]
        done = _apply(ACTIONS[action], details, publisher())
        query = urlencode({**{k: v for k, v in filters.items() if v}, "done": done})
        return RedirectResponse(f"/messages?{query}", status_code=303)


def _query(filters: dict[str, str]) -> MessageQuery:
    try:
        return MessageQuery(
            control_id=filters["control_id"] or None,
            accession=filters["accession"] or None,
            day_from=parse_day(filters["date_from"]),
            day_to=parse_day(filters["date_to"]),
            message_type=filters["type"] or None,
            ack_code=filters["ack"] or None,
            delivery=(filters["delivery"],) if filters["delivery"] else (),
        )
    except CriteriaError as e:
        raise HTTPException(400, str(e)) from e


def _apply(action: Callable[..., Any], details: list[Any], publish: Any) -> str:
    """Run the action on each message; a summary for the page ("queued 3, skipped 1")."""
    queued = skipped = 0
    for detail in details:
        try:
            action(detail, publish)
        except NothingToResend:
            skipped += 1
        except TransientError as e:
            raise HTTPException(503, f"not queued, Redis unavailable ({queued} queued)") from e
        else:
            queued += 1
    return f"queued {queued}, skipped {skipped}"
