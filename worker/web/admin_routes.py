"""/admin/users: admins manage accounts on the page (as `radflag users` does) and read the audit."""

from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from accounts.roles import ROLES, AccountError
from worker.web.auth import Principal, WebAuth
from worker.web.security import Csrf

AUDIT_SHOWN = 100


def add_admin_routes(app: FastAPI, auth: WebAuth, csrf: Csrf, templates: Jinja2Templates) -> None:
    """Register the user administration page on `app`."""
    Admin = Annotated[Principal, Depends(auth.require("manage_users"))]

    def page(request: Request, admin: Principal, message: str | None, code: int) -> Response:
        nonce, token = csrf.issue(request)
        context = {
            "user": admin.name,
            "principal": admin,
            "csrf_token": token,
            "users": auth.accounts.users(),
            "roles": ROLES,
            "audit": auth.accounts.audit_trail(limit=AUDIT_SHOWN),
            "message": message,
        }
        response = templates.TemplateResponse(request, "users.html", context, status_code=code)
        csrf.set_cookie(request, response, nonce)
        return response

    @app.get("/admin/users", response_class=HTMLResponse)
    def users(request: Request, admin: Admin) -> Response:
        return page(request, admin, None, 200)

    @app.post("/admin/users")
    async def change(request: Request, admin: Admin) -> Response:
        form = await request.form()
        field = {k: str(v) for k, v in form.items()}
        csrf.check(request, field.get("csrf_token", ""))
        action, name = field.get("action", ""), field.get("name", "").strip()
        by = admin.name or "admin"
        accounts = auth.accounts
        try:
            if action == "add":
                accounts.add_user(name, field.get("role", ""), field.get("password", ""), by=by)
            elif action == "passwd":
                accounts.set_password(name, field.get("password", ""), by=by)
            elif action in ("disable", "enable"):
                if name == admin.name and action == "disable":
                    raise AccountError("you cannot disable your own account")
                accounts.set_disabled(name, action == "disable", by=by)
            elif action == "role":
                accounts.set_role(name, field.get("role", ""), by=by)
            else:
                raise HTTPException(400, "unknown action")
        except AccountError as e:
            return page(request, admin, str(e), 400)
        return RedirectResponse("/admin/users", status_code=303)
