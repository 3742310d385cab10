"""MLLP over TLS: the listener against a real redis-server, certificates made by `openssl`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner

from hl7.ack import parse_ack
from hl7.mllp import FrameDecoder, encode_frame
from tests.hl7.messages import wrap_oru
from tests.servers import RedisServer, run_listener, running, service_env, start_listener
from worker import keys, tls
from worker.cli import main
from worker.delivery import deliver
from worker.listener import MllpListener
from worker.settings import Settings, SettingsError

pytestmark = pytest.mark.integration

REPORT = "Findings: bone marrow edema in the medial femoral condyle."
OPENSSL = "/usr/bin/openssl"


@dataclass(frozen=True)
class Pki:
    """A throwaway CA with a server and a client certificate, and a rogue client."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    rogue_cert: Path  # a client certificate signed by another CA
    rogue_key: Path


def _openssl(*args: str | Path) -> None:
    subprocess.run([OPENSSL, *map(str, args)], check=True, capture_output=True, timeout=30)


def _make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", key, "-out", cert, "-days", "2", "-subj", f"/CN={name}",
    )  # fmt: skip
    return cert, key


def _make_leaf(
    directory: Path, name: str, ca: tuple[Path, Path], extensions: str
) -> tuple[Path, Path]:
    cert, key, csr = (directory / f"{name}.{ext}" for ext in ("pem", "key", "csr"))
    ext_file = directory / f"{name}.ext"
    ext_file.write_text(
        "basicConstraints=CA:FALSE\nauthorityKeyIdentifier=keyid,issuer\n" + extensions
    )
    _openssl(
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", key, "-out", csr, "-subj", f"/CN={name}",
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial",
        "-out", cert, "-days", "2", "-extfile", ext_file,
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Certificates valid for 127.0.0.1, made once for this module."""
    directory = tmp_path_factory.mktemp("pki")
    ca = _make_ca(directory, "radflag-test-ca")
    rogue_ca = _make_ca(directory, "rogue-ca")
    server = _make_leaf(
        directory,
        "server",
        ca,
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    client = _make_leaf(directory, "client", ca, "extendedKeyUsage=clientAuth\n")
    rogue = _make_leaf(directory, "rogue", rogue_ca, "extendedKeyUsage=clientAuth\n")
    return Pki(ca[0], *server, *client, *rogue)


def _run(
    settings: Settings,
    redis_server: RedisServer,
    scenario: Callable[[MllpListener], Awaitable[Any]],
) -> Any:
    context = tls.listener_context(settings)
    return run_listener(settings, redis_server.url, scenario, ssl_context=context)


async def _exchange(port: int, message: bytes, context: ssl.SSLContext | None) -> list[bytes]:
    """Send one frame and read until one answer, EOF or a TLS error; answers as decoded frames."""
    decoder = FrameDecoder(1 << 20)
    answers: list[bytes] = []
    try:
        async with asyncio.timeout(10):
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, ssl=context, server_hostname="127.0.0.1" if context else None
            )
            try:
                writer.write(encode_frame(message))
                await writer.drain()
                while not answers:
                    data = await reader.read(65536)
                    if not data:
                        break
                    answers.extend(decoder.feed(data))
            finally:
                writer.close()
                with contextlib.suppress(ssl.SSLError, ConnectionError):
                    await writer.wait_closed()
    except (ssl.SSLError, ConnectionError):
        pass  # refused by the server: in TLS 1.3 that shows on the first read
    return answers


def _codes(answers: list[bytes]) -> list[tuple[str, str]]:
    return [(a.code, a.acked_control_id) for a in map(parse_ack, answers)]


def _with_tls(settings: Settings, pki: Pki, *, client_ca: bool = False) -> Settings:
    return Settings(
        data_dir=settings.data_dir,
        idle_timeout=settings.idle_timeout,
        max_frame_bytes=settings.max_frame_bytes,
        tls_cert=pki.server_cert,
        tls_key=pki.server_key,
        tls_client_ca=pki.ca if client_ca else None,
    )


def test_message_over_tls_gets_aa(
    publishing: Settings, pki: Pki, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """A client trusting the test CA gets AA over TLS and the message is queued."""
    settings = _with_tls(publishing, pki)
    context = tls.client_context(pki.ca)
    message = wrap_oru(REPORT, control_id="TLS1")
    answers = _run(settings, redis_server, lambda lst: _exchange(lst.port, message, context))
    assert _codes(answers) == [("AA", "TLS1")]
    assert keys.queue_depth(redis_client, keys.QUEUE_ANNOTATE) == 1


def test_client_certificate_required_when_client_ca_set(
    publishing: Settings,
    pki: Pki,
    redis_server: RedisServer,
    redis_client: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With a client CA: no certificate or one from another CA is refused; a valid one gets AA."""
    settings = _with_tls(publishing, pki, client_ca=True)
    without = tls.client_context(pki.ca)
    rogue = tls.client_context(pki.ca, pki.rogue_cert, pki.rogue_key)
    valid = tls.client_context(pki.ca, pki.client_cert, pki.client_key)

    async def scenario(listener: MllpListener) -> list[list[bytes]]:
        return [
            await _exchange(listener.port, wrap_oru(REPORT, control_id=cid), context)
            for cid, context in (("NOCERT", without), ("ROGUE", rogue), ("VALID", valid))
        ]

    with caplog.at_level(logging.WARNING, logger="worker.listener"):
        refused, rogue_answers, accepted = _run(settings, redis_server, scenario)
    assert refused == [] and rogue_answers == []
    assert _codes(accepted) == [("AA", "VALID")]
    assert keys.queue_depth(redis_client, keys.QUEUE_ANNOTATE) == 1
    failures = [r.getMessage() for r in caplog.records if "TLS handshake failed" in r.getMessage()]
    assert len(failures) == 2
    assert REPORT not in caplog.text and "NOCERT" not in caplog.text


def test_plain_client_on_tls_port_does_not_stall(
    publishing: Settings,
    pki: Pki,
    redis_server: RedisServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Plain MLLP on the TLS port: no ACK, closed, logged; a silent client holds nothing up."""
    settings = _with_tls(publishing, pki)
    context = tls.client_context(pki.ca)

    async def scenario(listener: MllpListener) -> tuple[list[bytes], list[bytes]]:
        # A client that connects and says nothing sits in its handshake meanwhile.
        _, silent = await asyncio.open_connection("127.0.0.1", listener.port)
        try:
            plain = await _exchange(listener.port, wrap_oru(REPORT, control_id="PLAIN"), None)
            after = await _exchange(listener.port, wrap_oru(REPORT, control_id="AFTER"), context)
        finally:
            silent.close()
        return plain, after

    with caplog.at_level(logging.WARNING, logger="worker.listener"):
        plain, after = _run(settings, redis_server, scenario)
    assert plain == []
    assert _codes(after) == [("AA", "AFTER")]
    assert "TLS handshake failed" in caplog.text
    assert REPORT not in caplog.text and "PLAIN" not in caplog.text


def test_settings_need_a_certificate() -> None:
    """A key or a client CA without the listener's certificate is a SettingsError."""
    with pytest.raises(SettingsError, match="tls_key is set but tls_cert is not"):
        Settings(tls_key=Path("server.key"))
    with pytest.raises(SettingsError, match="tls_client_ca is set but tls_cert is not"):
        Settings.from_mapping({"RADFLAG_TLS_CLIENT_CA": "ca.pem"})


def test_unusable_files_are_clear_cli_errors(tmp_path: Path, pki: Pki) -> None:
    """Missing, non-PEM or mismatched files: one line naming the file, exit 2, no traceback."""
    runner = CliRunner()
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello\n")
    cases = [
        (["--tls-key", str(pki.server_key)], "tls_key is set but tls_cert is not"),
        (["--tls-cert", str(tmp_path / "missing.pem")], "missing.pem"),
        (["--tls-cert", str(not_pem)], "not.pem"),
        (["--tls-cert", str(pki.server_cert)], "is tls_key missing"),
        (["--tls-cert", str(pki.server_cert), "--tls-key", str(pki.client_key)], "not belong"),
        (["--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key),
          "--tls-client-ca", str(not_pem)], "not.pem"),
    ]  # fmt: skip
    for args, named in cases:
        result = runner.invoke(main, ["listen", *args], env={"RADFLAG_REDIS_URL": ""})
        assert result.exit_code == 2, (args, result.output)
        assert named in result.output and "Traceback" not in result.output
        assert isinstance(result.exception, SystemExit)


def test_cli_listen_and_send_over_tls(
    tmp_path: Path, pki: Pki, redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """`radflag listen` with RADFLAG_TLS_*, `radflag send --tls-*`: AA only for a valid client."""
    env = service_env(
        tmp_path / "data",
        redis_server.url,
        tls_cert=pki.server_cert,
        tls_key=pki.server_key,
        tls_client_ca=pki.ca,
    )
    message_file = tmp_path / "message.hl7"
    message_file.write_bytes(wrap_oru(REPORT, control_id="SEND1"))
    listener, port = start_listener(env, tmp_path)
    runner = CliRunner()
    to = ["--to", f"127.0.0.1:{port}", "--timeout", "5", str(message_file)]
    with running(listener):
        ok = runner.invoke(
            main,
            ["send", "--tls-ca", str(pki.ca), "--tls-cert", str(pki.client_cert),
             "--tls-key", str(pki.client_key), *to],
        )  # fmt: skip
        no_cert = runner.invoke(main, ["send", "--tls-ca", str(pki.ca), *to])
        untrusted = runner.invoke(main, ["send", "--tls", *to])  # the test CA is not a system CA
        plain = runner.invoke(main, ["send", *to])
        delivered = deliver(
            ("127.0.0.1", port),
            wrap_oru(REPORT, control_id="DELIV1"),
            "DELIV1",
            timeout=5,
            ssl_context=tls.client_context(pki.ca, pki.client_cert, pki.client_key),
        )
        log = listener.log()
    assert ok.exit_code == 0, ok.output
    assert "SEND1 AA" in ok.output
    for result in (no_cert, untrusted, plain):
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output and "AA" not in result.output
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.output or "verify" in untrusted.output
    assert "(TLS)" in log and "TLS handshake failed" in log
    assert REPORT not in log
    assert delivered.code == "AA"
    assert keys.queued_messages(redis_client, keys.QUEUE_ANNOTATE) == 2
