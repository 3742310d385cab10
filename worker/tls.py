"""TLS for MLLP: the listener's server context and the client context of `radflag send`.

Strategy: contexts come from `ssl.create_default_context` (its cipher and
option choices follow the Python/OpenSSL defaults) with TLS 1.2 as the floor.
Every file problem (missing, unreadable, not PEM, key not matching the
certificate) becomes a TlsSetupError naming the file, so the CLI can print one
clear line instead of a traceback from deep inside the ssl module.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from worker.settings import Settings, SettingsError

MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2


class TlsSetupError(SettingsError):
    """A certificate, key or CA file cannot be used."""


def server_context(
    cert: Path, key: Path | None = None, client_ca: Path | None = None
) -> ssl.SSLContext:
    """A server-side context; with `client_ca`, clients must present a certificate it signed.

    `key` may be None when `cert` holds the private key too. Raises TlsSetupError.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = MINIMUM_VERSION
    _load_chain(context, cert, key)
    if client_ca is not None:
        _load_ca(context, client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def client_context(
    ca: Path | None = None, cert: Path | None = None, key: Path | None = None
) -> ssl.SSLContext:
    """A client-side context that verifies the server (against `ca`, else the system CAs).

    With `cert` (and `key`, unless `cert` holds it) it presents a client certificate.
    Raises TlsSetupError.
    """
    if key is not None and cert is None:
        raise TlsSetupError("a client key needs its certificate (--tls-cert)")
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.minimum_version = MINIMUM_VERSION
    if ca is not None:
        _load_ca(context, ca)
    if cert is not None:
        _load_chain(context, cert, key)
    return context


def listener_context(settings: Settings) -> ssl.SSLContext | None:
    """The MLLP listener's context from `tls_cert`/`tls_key`/`tls_client_ca`; None: plain TCP.

    Raises TlsSetupError.
    """
    if settings.tls_cert is None:
        return None
    return server_context(settings.tls_cert, settings.tls_key, settings.tls_client_ca)


def destination_context(settings: Settings) -> ssl.SSLContext | None:
    """The delivery client's context from `destination_tls`/`destination_tls_ca`; None: plain TCP.

    Raises TlsSetupError.
    """
    if not settings.destination_tls:
        return None
    return client_context(settings.destination_tls_ca)


def _load_chain(context: ssl.SSLContext, cert: Path, key: Path | None) -> None:
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as e:
        # SSLError is an OSError too; both say little on their own ("[SSL] PEM lib").
        files = f"{cert}" + (f" / key {key}" if key is not None else "")
        raise TlsSetupError(f"cannot load TLS certificate {files}: {_reason(e)}") from e


def _load_ca(context: ssl.SSLContext, ca: Path) -> None:
    try:
        context.load_verify_locations(cafile=ca)
    except (OSError, ssl.SSLError) as e:
        raise TlsSetupError(f"cannot load TLS CA certificates {ca}: {_reason(e)}") from e


# OpenSSL's words for the usual mistakes, in the words of the person who made them.
_HINTS = {
    "PEM lib": "not a PEM certificate with its key (is tls_key missing?)",
    "KEY_VALUES_MISMATCH": "the key does not belong to the certificate",
    "NO_CERTIFICATE_OR_CRL_FOUND": "no PEM certificate in it",
}


def _reason(error: OSError) -> str:
    if isinstance(error, ssl.SSLError):
        text = str(error)
        for marker, hint in _HINTS.items():
            if marker in text or error.reason == marker:
                return hint
        return error.reason or text
    return error.strerror or str(error)
