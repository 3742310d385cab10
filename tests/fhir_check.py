"""The one check every FHIR Bundle the tests produce goes through.

`validate_bundle` parses the Bundle with fhir.resources' R4B models (structure,
cardinality, data types, every resource in every entry) and adds what those
models leave out: the required code bindings of the elements radflag writes
(fhir.resources does not check codes against their value sets), that every
`urn:uuid:` reference resolves inside the Bundle, that every request has a
method and URL, and that every derivation-reference points inside the report
text. The test FHIR endpoint (tests/fhir_server.py) uses the same check.
"""

from __future__ import annotations

import base64
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from fhir_out.codes import EXT_DERIVATION_REFERENCE

# Required bindings (R4) of the coded elements radflag writes: resourceType -> element -> codes.
REQUIRED_CODES: dict[str, dict[str, tuple[str, ...]]] = {
    "DiagnosticReport": {
        "status": (
            "registered", "partial", "preliminary", "final", "amended", "corrected",
            "appended", "cancelled", "entered-in-error", "unknown",
        ),
    },
    "Observation": {
        "status": (
            "registered", "preliminary", "final", "amended", "corrected", "cancelled",
            "entered-in-error", "unknown",
        ),
    },
    "DetectedIssue": {
        "status": ("registered", "preliminary", "final", "amended", "corrected", "cancelled",
                   "entered-in-error", "unknown"),
        "severity": ("high", "moderate", "low"),
    },
    "ServiceRequest": {
        "status": ("draft", "active", "on-hold", "revoked", "completed", "entered-in-error",
                   "unknown"),
        "intent": ("proposal", "plan", "directive", "order", "original-order", "reflex-order",
                   "filler-order", "instance-order", "option"),
        "priority": ("routine", "urgent", "asap", "stat"),
    },
    "Flag": {"status": ("active", "inactive", "entered-in-error")},
    "Device": {"status": ("active", "inactive", "entered-in-error", "unknown")},
    "Provenance": {},
    "Patient": {},
}  # fmt: skip
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH")


class BundleInvalid(ValueError):
    """The Bundle breaks the R4 definitions; `problems` lists each (FHIRPath-like location)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems[:10]))
        self.problems = problems


def resource_problems(resource: dict[str, Any], where: str) -> list[str]:
    """Code-binding problems of one resource (the model check is the Bundle's)."""
    kind = resource.get("resourceType")
    if kind not in REQUIRED_CODES:
        return [f"{where}: resource type {kind!r} is not one radflag writes"]
    problems = []
    for element, allowed in REQUIRED_CODES[kind].items():
        value = resource.get(element)
        if value is not None and value not in allowed:
            problems.append(f"{where}.{element}: {value!r} is not in the required value set")
    return problems


def validate_bundle(bundle: dict[str, Any]) -> Bundle:
    """Raise BundleInvalid listing every problem; return the parsed model when there is none."""
    try:
        model = Bundle.model_validate(bundle)
    except ValidationError as e:
        raise BundleInvalid(
            [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()]
        ) from e
    problems: list[str] = []
    if bundle.get("type") != "transaction":
        problems.append("Bundle.type: expected transaction")
    entries = bundle.get("entry") or []
    urls = {e.get("fullUrl") for e in entries}
    texts = _report_texts(entries)
    for number, entry in enumerate(entries):
        where = f"Bundle.entry[{number}]"
        resource = entry.get("resource") or {}
        problems += resource_problems(resource, f"{where}.resource")
        request = entry.get("request") or {}
        if request.get("method") not in METHODS or not request.get("url"):
            problems.append(f"{where}.request: needs a method and a url")
        for reference in _references(resource):
            if reference.startswith("urn:uuid:") and reference not in urls:
                problems.append(f"{where}: reference {reference} resolves to no entry")
        for offset, length, target in _derivations(resource):
            text = texts.get(target)
            if text is None or not (offset >= 0 and length > 0 and offset + length <= len(text)):
                problems.append(f"{where}: derivation-reference {offset}+{length} outside the text")
    if problems:
        raise BundleInvalid(problems)
    return model


def _report_texts(entries: list[dict[str, Any]]) -> dict[str, str]:
    out = {}
    for entry in entries:
        resource = entry.get("resource") or {}
        if resource.get("resourceType") == "DiagnosticReport" and resource.get("presentedForm"):
            data = resource["presentedForm"][0].get("data", "")
            out[entry.get("fullUrl", "")] = base64.b64decode(data).decode("utf-8")
    return out


def _references(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["reference"]] if isinstance(node.get("reference"), str) else []
        return found + [r for v in node.values() for r in _references(v)]
    if isinstance(node, list):
        return [r for v in node for r in _references(v)]
    return []


def _derivations(resource: dict[str, Any]) -> list[tuple[int, int, str]]:
    out = []
    for ext in resource.get("extension") or []:
        if ext.get("url") != EXT_DERIVATION_REFERENCE:
            continue
        parts = {e["url"]: e for e in ext.get("extension", [])}
        out.append(
            (
                parts.get("offset", {}).get("valueInteger", -1),
                parts.get("length", {}).get("valueInteger", 0),
                parts.get("reference", {}).get("valueReference", {}).get("reference", ""),
            )
        )
    return out
