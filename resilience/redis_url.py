"""Redis URLs radflag accepts: one server, or a set of Sentinels that name the primary.

Strategy: the Sentinel form is kombu's own, so the very same string is the
Celery broker URL: `sentinel://[:PASSWORD@]HOST:PORT[/DB]` once per Sentinel,
joined by `;` (e.g. `sentinel://10.0.0.1:26379;sentinel://10.0.0.2:26379/0`).
The primary's name is a setting (`redis_master_name`), not part of the URL,
as in kombu's `master_name` transport option. A password given on any
element is the primary's (kombu and redis-py use it for the data connection;
the Sentinels themselves are reached without one). The database number may
sit on any element; elements that disagree are an error, because kombu reads
only the first one's and the other clients would read another.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

SENTINEL_SCHEME = "sentinel"
PLAIN_SCHEMES = ("redis", "rediss", "unix")
DEFAULT_SENTINEL_PORT = 26379


class RedisUrlError(ValueError):
    """A Redis URL radflag cannot use; the message says why (never the password)."""


@dataclass(frozen=True)
class SentinelTarget:
    """A Sentinel URL taken apart: where the Sentinels are, which database, which password."""

    sentinels: tuple[tuple[str, int], ...]
    db: int = 0
    password: str | None = None
    username: str | None = None

    def kombu_url(self) -> str:
        """The broker URL for kombu: every element carries the auth and the database.

        kombu takes host, password and database from the first element and the
        Sentinel addresses from all of them.
        """
        auth = ""
        if self.password is not None:
            auth = f"{quote(self.username or '', safe='')}:{quote(self.password, safe='')}@"
        return ";".join(
            f"sentinel://{auth}{host}:{port}/{self.db}" for host, port in self.sentinels
        )


def is_sentinel_url(url: str) -> bool:
    """True for the `sentinel://` form."""
    return url.strip().lower().startswith(SENTINEL_SCHEME + "://")


def parse_sentinel_url(url: str) -> SentinelTarget:
    """Take a `sentinel://...;sentinel://...` URL apart.

    Raises RedisUrlError naming the element that is wrong.
    """
    sentinels: list[tuple[str, int]] = []
    dbs: set[int] = set()
    password: str | None = None
    username: str | None = None
    elements = [part.strip() for part in url.split(";")]
    for index, element in enumerate(elements, start=1):
        if not element:
            raise RedisUrlError(f"Sentinel URL element {index} is empty")
        try:
            parts = urlsplit(element)
            port = parts.port
        except ValueError as e:
            raise RedisUrlError(f"Sentinel URL element {index}: {e}") from None
        if parts.scheme.lower() != SENTINEL_SCHEME:
            raise RedisUrlError(
                f"Sentinel URL element {index} must start with sentinel://, "
                f"got {parts.scheme or 'no'} scheme"
            )
        if not parts.hostname:
            raise RedisUrlError(f"Sentinel URL element {index} has no host")
        sentinels.append((parts.hostname, port or DEFAULT_SENTINEL_PORT))
        path = parts.path.strip("/")
        if path:
            if not path.isdigit():
                raise RedisUrlError(
                    f"Sentinel URL element {index}: database must be a number, got {path!r}"
                )
            dbs.add(int(path))
        if parts.password is not None:
            password = unquote(parts.password)
            username = unquote(parts.username) if parts.username else None
    if len(dbs) > 1:
        raise RedisUrlError(f"Sentinel URL names different databases: {sorted(dbs)}")
    return SentinelTarget(
        sentinels=tuple(sentinels), db=dbs.pop() if dbs else 0, password=password, username=username
    )


def check_redis_url(url: str) -> None:
    """Raise RedisUrlError unless `url` is a usable redis://, rediss://, unix:// or Sentinel URL."""
    if is_sentinel_url(url):
        parse_sentinel_url(url)
        return
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018  (raises ValueError for a bad port)
    except ValueError as e:
        raise RedisUrlError(f"bad Redis URL: {e}") from None
    if parts.scheme.lower() not in PLAIN_SCHEMES:
        raise RedisUrlError(
            "Redis URL must start with redis://, rediss://, unix:// or sentinel://, "
            f"got {parts.scheme or 'no'} scheme"
        )
    if parts.scheme.lower() != "unix" and not parts.hostname:
        raise RedisUrlError("Redis URL has no host")
