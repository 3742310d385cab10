"""A FHIR endpoint for the tests: takes transaction Bundles the way a FHIR server does.

No open FHIR server installs here from PyPI, npm or Debian without its own
database and services (docs/fhir.md says which were looked at), so the tests
send to this one. It is strict where radflag could be wrong:

- every Bundle goes through tests.fhir_check.validate_bundle (fhir.resources'
  R4B models plus the required code bindings); a bad one gets 400 with an
  OperationOutcome naming each problem, and nothing is stored;
- transactions are all or nothing, in FHIR's order (POST, then PUT); a
  conditional create (`ifNoneExist`) that matches returns the existing
  resource (200), a conditional update (`PUT Type?identifier=...`) updates its
  one match (200), creates when there is none (201), and fails the whole
  transaction with 412 when there are several; `PUT Type/id` creates or
  updates that id;
- `urn:uuid:` references are rewritten to the ids they resolve to;
- with `token` or `basic`, requests without those credentials get 401;
- `down()` closes the listening socket (connections are refused) and `up()`
  opens it again on the same port; `fail_next(status)` answers the next POSTs
  with that status (an overloaded or broken server).

It answers with a transaction-response Bundle (200) like HAPI does. It runs
in a thread of the test process, on 127.0.0.1 only, over TLS with `ssl_context`.
"""

from __future__ import annotations

import base64
import copy
import json
import ssl
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fhir_check import BundleInvalid, validate_bundle

MAX_BODY = 16 * 1024 * 1024


class FhirEndpoint:
    """See the module docstring. Use as a context manager, or start()/stop()."""

    def __init__(
        self,
        *,
        token: str | None = None,
        basic: tuple[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.token = token
        self.basic = basic
        self.ssl_context = ssl_context
        self.port = 0
        self.resources: dict[str, dict[str, dict[str, Any]]] = {}  # type -> id -> resource
        self.versions: dict[tuple[str, str], int] = {}
        self.requests: list[tuple[str, int]] = []  # (path, status) of every POST
        self.bundles: list[dict[str, Any]] = []  # every Bundle that was applied
        self._failures: list[int] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle ---------------------------------------------------------------

    def start(self) -> FhirEndpoint:
        self.up()
        return self

    def up(self) -> None:
        endpoint = self

        class Handler(_Handler):
            owner = endpoint

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        if self.ssl_context is not None:
            server.socket = self.ssl_context.wrap_socket(server.socket, server_side=True)
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()

    def down(self) -> None:
        """Stop listening: new connections are refused until up()."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    stop = down

    def __enter__(self) -> FhirEndpoint:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.down()

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}/fhir"

    def fail_next(self, *statuses: int) -> None:
        """Answer the next POSTs with these statuses (and an OperationOutcome)."""
        with self._lock:
            self._failures.extend(statuses)

    # -- what the tests read -------------------------------------------------------

    def find(self, kind: str, system: str, value: str) -> list[dict[str, Any]]:
        """Stored resources of `kind` with identifier system|value."""
        with self._lock:
            return [copy.deepcopy(r) for r in self._matches(kind, system, value)]

    def all(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(r) for r in self.resources.get(kind, {}).values()]

    def count(self) -> int:
        with self._lock:
            return sum(len(v) for v in self.resources.values())

    # -- the transaction ----------------------------------------------------------------

    def _matches(self, kind: str, system: str, value: str) -> list[dict[str, Any]]:
        return [
            r
            for r in self.resources.get(kind, {}).values()
            if any(i.get("system") == system and i.get("value") == value
                   for i in r.get("identifier", []))
        ]  # fmt: skip

    def transaction(self, bundle: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Apply a transaction Bundle; (HTTP status, answer body)."""
        try:
            validate_bundle(bundle)
        except BundleInvalid as e:
            return 400, outcome("error", "invalid", e.problems)
        with self._lock:
            staged = copy.deepcopy(self.resources)
            try:
                responses = self._apply(bundle, staged)
            except _Failed as e:
                return e.status, outcome("error", e.code, [e.text])
            self.resources = staged
            for kind, resource_id, _ in responses:
                key = (kind, resource_id)
                self.versions[key] = self.versions.get(key, 0) + 1
            self.bundles.append(bundle)
        entries = [
            {"response": {"status": status, "location": f"{kind}/{rid}/_history/"
                          f"{self.versions[(kind, rid)]}"}}
            for kind, rid, status in responses
        ]  # fmt: skip
        return 200, {"resourceType": "Bundle", "type": "transaction-response", "entry": entries}

    def _apply(
        self, bundle: dict[str, Any], staged: dict[str, dict[str, dict[str, Any]]]
    ) -> list[tuple[str, str, str]]:
        entries = bundle.get("entry", [])
        order = sorted(range(len(entries)), key=lambda n: entries[n]["request"]["method"] != "POST")
        resolved: dict[str, str] = {}
        outcomes: dict[int, tuple[str, str, str]] = {}
        plans: list[tuple[int, str, str, bool]] = []  # entry, kind, id, is new
        for n in order:
            entry = entries[n]
            kind = entry["resource"]["resourceType"]
            request = entry["request"]
            method, url = request["method"], request["url"]
            if method == "POST":
                matches = self._search(staged, kind, request.get("ifNoneExist"))
                if len(matches) > 1:
                    raise _Failed(412, "multiple-matches", f"{kind}: ifNoneExist matches several")
                if matches:
                    resolved[entry["fullUrl"]] = f"{kind}/{matches[0]['id']}"
                    outcomes[n] = (kind, matches[0]["id"], "200 OK")
                    continue
                plans.append((n, kind, uuid.uuid4().hex[:16], True))
            elif method == "PUT":
                path, _, query = url.partition("?")
                if query:
                    matches = self._search(staged, kind, query)
                    if len(matches) > 1:
                        raise _Failed(412, "multiple-matches", f"{url}: several matches")
                    rid = matches[0]["id"] if matches else uuid.uuid4().hex[:16]
                    plans.append((n, kind, rid, not matches))
                else:
                    rid = path.split("/", 1)[1]
                    plans.append((n, kind, rid, rid not in staged.get(kind, {})))
            else:
                raise _Failed(405, "not-supported", f"{method} in a transaction")
            resolved[entry["fullUrl"]] = f"{kind}/{plans[-1][2]}"
        for n, kind, rid, new in plans:
            resource = _rewrite(copy.deepcopy(entries[n]["resource"]), resolved)
            resource["id"] = rid
            resource["meta"] = {"versionId": str(self.versions.get((kind, rid), 0) + 1)}
            staged.setdefault(kind, {})[rid] = resource
            outcomes[n] = (kind, rid, "201 Created" if new else "200 OK")
        return [outcomes[n] for n in range(len(entries))]

    def _search(
        self, staged: dict[str, dict[str, dict[str, Any]]], kind: str, query: str | None
    ) -> list[dict[str, Any]]:
        if not query:
            return []
        params = parse_qs(query, keep_blank_values=True)
        if set(params) != {"identifier"}:
            raise _Failed(400, "not-supported", f"search parameters {sorted(params)}")
        system, _, value = unquote(params["identifier"][0]).partition("|")
        return [
            r
            for r in staged.get(kind, {}).values()
            if any(i.get("system") == system and i.get("value") == value
                   for i in r.get("identifier", []))
        ]  # fmt: skip

    def _authorised(self, header: str | None) -> bool:
        if self.token is not None:
            return header == f"Bearer {self.token}"
        if self.basic is not None:
            expected = base64.b64encode(":".join(self.basic).encode()).decode()
            return header == f"Basic {expected}"
        return True

    def _next_failure(self) -> int | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None


class _Failed(Exception):
    def __init__(self, status: int, code: str, text: str) -> None:
        super().__init__(text)
        self.status, self.code, self.text = status, code, text


def outcome(severity: str, code: str, texts: list[str]) -> dict[str, Any]:
    """An OperationOutcome with one issue per text."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": t} for t in texts],
    }


def _rewrite(node: Any, resolved: dict[str, str]) -> Any:
    if isinstance(node, dict):
        if isinstance(node.get("reference"), str) and node["reference"] in resolved:
            node["reference"] = resolved[node["reference"]]
        for value in node.values():
            _rewrite(value, resolved)
    elif isinstance(node, list):
        for value in node:
            _rewrite(value, resolved)
    return node


class _Handler(BaseHTTPRequestHandler):
    owner: FhirEndpoint
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return None

    def do_POST(self) -> None:
        owner = self.owner
        if urlsplit(self.path).path.rstrip("/") != "/fhir":
            return self._answer(404, outcome("error", "not-found", [f"no endpoint {self.path}"]))
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return self._answer(413, outcome("error", "too-costly", ["body too large"]))
        body = self.rfile.read(length)
        if not owner._authorised(self.headers.get("Authorization")):
            return self._answer(401, outcome("error", "login", ["credentials required"]))
        failure = owner._next_failure()
        if failure is not None:
            return self._answer(failure, outcome("error", "transient", ["made to fail"]))
        if not (self.headers.get("Content-Type") or "").startswith("application/fhir+json"):
            return self._answer(415, outcome("error", "not-supported", ["not FHIR JSON"]))
        try:
            bundle = json.loads(body)
        except ValueError:
            return self._answer(400, outcome("error", "structure", ["body is not JSON"]))
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            return self._answer(400, outcome("error", "structure", ["expected a Bundle"]))
        status, answer = owner.transaction(bundle)
        self._answer(status, answer)

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode("utf-8")
        with self.owner._lock:
            self.owner.requests.append((self.path, status))
        self.send_response(status)
        self.send_header("Content-Type", "application/fhir+json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
