"""Sentinel URLs: parsing, the settings that refuse bad ones, what kombu is given."""

from __future__ import annotations

import pytest

from resilience.redis_url import (
    RedisUrlError,
    check_redis_url,
    is_sentinel_url,
    parse_sentinel_url,
)
from worker import celery_app, keys
from worker.settings import Settings, SettingsError

URL = "sentinel://10.0.0.1:26379;sentinel://10.0.0.2:26380;sentinel://10.0.0.3/2"


def test_sentinel_url_is_taken_apart() -> None:
    target = parse_sentinel_url(URL)
    assert target.sentinels == (("10.0.0.1", 26379), ("10.0.0.2", 26380), ("10.0.0.3", 26379))
    assert target.db == 2
    assert target.password is None
    assert target.kombu_url() == (
        "sentinel://10.0.0.1:26379/2;sentinel://10.0.0.2:26380/2;sentinel://10.0.0.3:26379/2"
    )


def test_password_goes_to_every_element_quoted() -> None:
    target = parse_sentinel_url("sentinel://:p%40ss@h1:1;sentinel://h2:2")
    assert target.password == "p@ss"
    assert target.kombu_url() == "sentinel://:p%40ss@h1:1/0;sentinel://:p%40ss@h2:2/0"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("sentinel://h1:1;;sentinel://h2:2", "element 2 is empty"),
        ("sentinel://h1:1;redis://h2:2", "element 2 must start with sentinel://"),
        ("sentinel://h1:1/1;sentinel://h2:2/3", "different databases"),
        ("sentinel://h1:99999", "element 1"),
        ("sentinel://:1", "no host"),
        ("sentinel://h1:1/x", "database must be a number"),
    ],
)
def test_bad_sentinel_urls_say_why(url: str, why: str) -> None:
    with pytest.raises(RedisUrlError, match=why):
        parse_sentinel_url(url)


@pytest.mark.parametrize("url", ["redis://h:6379/0", "rediss://u:p@h:1/2", "unix:///tmp/r.sock"])
def test_plain_urls_pass(url: str) -> None:
    check_redis_url(url)
    assert not is_sentinel_url(url)


@pytest.mark.parametrize("url", ["http://h:1", "h:6379", "redis://h:notaport"])
def test_settings_refuse_unusable_redis_urls(url: str) -> None:
    with pytest.raises(SettingsError, match="redis_url"):
        Settings(redis_url=url)


def test_settings_check_replica_options() -> None:
    with pytest.raises(SettingsError, match="redis_min_replicas must be 0 to 16"):
        Settings(redis_url="redis://h:1/0", redis_min_replicas=-1)
    with pytest.raises(SettingsError, match="needs an external Redis"):
        Settings(redis_min_replicas=1)
    with pytest.raises(SettingsError, match="redis_replica_timeout"):
        Settings(redis_url="redis://h:1/0", redis_min_replicas=1, redis_replica_timeout=0)
    with pytest.raises(SettingsError, match="redis_master_name"):
        Settings(redis_url=URL, redis_master_name=" ")


def test_settings_mask_passwords_in_every_sentinel_element() -> None:
    shown = repr(Settings(redis_url="sentinel://:secret@h1:1;sentinel://:secret@h2:2/0"))
    assert "secret" not in shown
    assert "h1:1" in shown and "h2:2" in shown


def test_celery_gets_master_name_and_bounded_sentinel_calls() -> None:
    # celery issue 7997: without sentinel_kwargs the Sentinel connections have no timeout.
    settings = Settings(redis_url=URL, redis_master_name="radflag")
    app = celery_app.configure(settings, redis_url=URL)
    options = app.conf.broker_transport_options
    assert options["master_name"] == "radflag"
    assert 0 < options["sentinel_kwargs"]["socket_timeout"] <= 2
    assert 0 < options["sentinel_kwargs"]["socket_connect_timeout"] <= 2
    assert app.conf.broker_url == parse_sentinel_url(URL).kombu_url()


def test_plain_url_gets_no_sentinel_options() -> None:
    assert keys.broker_transport_options("redis://h:1/0", "x") == {}
    assert keys.broker_url_for("redis://h:1/0") == "redis://h:1/0"


def test_one_factory_builds_sentinel_clients() -> None:
    client = keys.redis_client(URL, timeout=1.5, master_name="radflag")
    pool = client.connection_pool
    assert pool.service_name == "radflag"
    assert [
        s.connection_pool.connection_kwargs["port"] for s in pool.sentinel_manager.sentinels
    ] == [
        26379,
        26380,
        26379,
    ]
    assert pool.connection_kwargs["db"] == 2
    assert pool.connection_kwargs["socket_timeout"] == 1.5
