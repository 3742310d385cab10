"""A real open-source FHIR server for the tests: Medplum's FhirRouter and R4 validator.

`tests/fhir_medplum/server.mjs` runs Medplum's `@medplum/fhir-router` (the
request handling of the Medplum server: transactions, conditional create and
update, reference resolution, search) over its in-memory repository, and
rejects with 400 every resource that Medplum's `validateResource` finds
invalid against the R4 StructureDefinitions. Its npm packages are installed
on first use (`npm ci`, pinned by package-lock.json); Node comes from Debian
(scripts/install-system-deps). The server listens on 127.0.0.1 only; stopping
it is "down" (its data is in memory and goes with it).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests.servers import free_port, wait_until

DIRECTORY = Path(__file__).resolve().parent / "fhir_medplum"


def ensure_installed() -> None:
    """`npm ci` in tests/fhir_medplum unless its node_modules match package-lock.json."""
    stamp = DIRECTORY / "node_modules" / ".radflag-installed"
    lock = DIRECTORY / "package-lock.json"
    with (DIRECTORY / ".install.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        if stamp.exists() and stamp.stat().st_mtime >= lock.stat().st_mtime:
            return
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=DIRECTORY, check=True, capture_output=True, timeout=300,
        )  # fmt: skip
        stamp.touch()


class MedplumFhir:
    """server.mjs as a child process on a fixed free port: start(), stop(), search()."""

    def __init__(self, log_path: Path, *, token: str | None = None) -> None:
        self.port = free_port()
        self.log_path = log_path
        self.token = token
        self.process: subprocess.Popen[bytes] | None = None
        self.record_path = log_path.with_suffix(".bundles.jsonl")  # every Bundle it took

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/fhir"

    def start(self) -> MedplumFhir:
        ensure_installed()
        args = ["node", "server.mjs", "--port", str(self.port), "--record", str(self.record_path)]
        if self.token:
            args += ["--token", self.token]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                args, cwd=DIRECTORY, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
        wait_until(self._listening, timeout=60, interval=0.1, what="the Medplum FHIR server")
        return self

    def _listening(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"Medplum FHIR server exited:\n{self.log_path.read_text()}")
        return f"listening on {self.port}" in self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.process = None

    def __enter__(self) -> MedplumFhir:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def received(self) -> list[dict[str, Any]]:
        """Every Bundle the server took (passed its validator) so far, oldest first."""
        if not self.record_path.exists():
            return []
        return [json.loads(line) for line in self.record_path.read_text().splitlines()]

    def search(self, kind: str, **params: str) -> list[dict[str, Any]]:
        """The resources a FHIR search finds (GET [base]/kind?params)."""
        query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
        request = urllib.request.Request(f"{self.url}/{kind}?{query}")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, no proxy
        with contextlib.closing(opener.open(request, timeout=10)) as answer:
            bundle = json.loads(answer.read())
        return [e["resource"] for e in bundle.get("entry", [])]

    def wait_for(self, kind: str, *, timeout: float, **params: str) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        return wait_until(
            lambda: self.search(kind, **params) or None,
            timeout=max(0.1, deadline - time.monotonic()), interval=0.2, what=f"{kind} {params}",
        )  # fmt: skip
