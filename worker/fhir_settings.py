"""Checks of the FHIR settings (fhir_url, its credentials and CA), kept out of settings.py."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from worker.settings import Settings


def check_fhir_settings(settings: Settings) -> None:
    """Raise SettingsError for FHIR settings that cannot work or would leak credentials."""
    from worker.settings import SettingsError

    system = settings.fhir_identifier_system
    if not system or any(c in system for c in "| \t\n") or ":" not in system:
        raise SettingsError(
            f"fhir_identifier_system must be a URI without '|' or spaces, got {system!r}"
        )
    credentials = settings.fhir_token or settings.fhir_user or settings.fhir_password
    if settings.fhir_url is None:
        if credentials or settings.fhir_tls_ca:
            raise SettingsError("FHIR credentials or CA are set but fhir_url is not")
        return
    parts = urlsplit(settings.fhir_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"fhir_url must be an http(s) URL, got {settings.fhir_url!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise SettingsError("fhir_url is the server's base URL: no query, fragment or user")
    if settings.fhir_token and (settings.fhir_user or settings.fhir_password):
        raise SettingsError("set fhir_token (bearer) or fhir_user/fhir_password (Basic), not both")
    if bool(settings.fhir_user) != bool(settings.fhir_password):
        raise SettingsError("fhir_user and fhir_password go together (HTTP Basic)")
    if settings.fhir_tls_ca is not None and parts.scheme != "https":
        raise SettingsError("fhir_tls_ca is set but fhir_url is not https")
    if credentials and parts.scheme == "http" and not _loopback(parts.hostname):
        raise SettingsError(
            "fhir_url is plain http to another machine: credentials would travel in clear; "
            "use https"
        )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
