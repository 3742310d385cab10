"""The flagged-reports web page and the operations endpoints (`radflag web`)."""

from __future__ import annotations

from worker.settings import Settings
from worker.web.security import check_bind, store_has_accounts


def serve(settings: Settings) -> None:
    """Run the page on settings.http_host:http_port until interrupted.

    Raises SettingsError for a non-loopback bind without credentials.
    """
    check_bind(settings, accounts_exist=store_has_accounts(settings))
    import uvicorn

    from worker.web.app import create_app

    # access_log off: request lines would carry filter values, and the page is for people.
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level.lower(),
        access_log=False,
        log_config=None,  # uvicorn's lines go through radflag's handler and format
    )
