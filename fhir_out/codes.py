"""Code systems and codings of radflag's FHIR output.

Strategy: every radflag concept (the finding, its status, bones, etiology
categories, flags, laterality) is coded with the codings listed for it in
`codes.json`: SNOMED CT, then RadLex (and LOINC where one fits), each with the
display its source gives and that source recorded beside it, then radflag's own
code system. Only codes checked against a citable source are in that file
(docs/fhir.md has the table); a concept without one carries the radflag coding
alone, so a receiver always gets a code and never an invented one. The texts
(`CodeableConcept.text`) follow the report's language (English, German); the
codes and their displays do not.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

SNOMED = "http://snomed.info/sct"
RADLEX = "http://radlex.org"
# radflag's own code system: a URN, since radflag owns no web domain; see docs/fhir.md.
RADFLAG = "urn:radflag:fhir:codes"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
FLAG_CATEGORY = "http://terminology.hl7.org/CodeSystem/flag-category"
FLAG_PRIORITY = "http://terminology.hl7.org/CodeSystem/flag-priority"
PROVENANCE_PARTICIPANT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
DATA_OPERATION = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
LOINC = "http://loinc.org"
# 18748-4 "Diagnostic imaging study": the report's code when OBR-4 gives none.
LOINC_IMAGING_STUDY = "18748-4"
# SNOMED CT 272741003 |Laterality (attribute)|: the component that carries a site's side.
SNOMED_LATERALITY = "272741003"

EXT_DERIVATION_REFERENCE = "http://hl7.org/fhir/StructureDefinition/derivation-reference"
EXT_FLAG_PRIORITY = "http://hl7.org/fhir/StructureDefinition/flag-priority"
EXT_FLAG_DETAIL = "http://hl7.org/fhir/StructureDefinition/flag-detail"

# radflag priority -> FHIR Flag priority (flag-priority code system: PL low, PM medium, PH high).
FLAG_PRIORITY_CODES = {
    "routine": ("PL", "Low priority"),
    "high": ("PM", "Medium priority"),
    "urgent": ("PH", "High priority"),
}
# radflag priority -> DetectedIssue.severity (low | moderate | high).
ISSUE_SEVERITY = {"routine": "low", "high": "moderate", "urgent": "high"}
# radflag priority -> ServiceRequest.priority (routine | urgent | asap | stat).
REQUEST_PRIORITY = {"routine": "routine", "high": "urgent", "urgent": "asap"}

# codes.json's system names -> FHIR code system URIs (radflag's own is added by `concept`).
SYSTEMS = {"snomed": SNOMED, "radlex": RADLEX, "loinc": LOINC}

# Fixed texts radflag writes beside the codes, per report language (English is the default).
LABELS: dict[str, dict[str, str]] = {
    "Etiology": {"de": "Ätiologie"},
    "Laterality": {"de": "Seite"},
    "Imaging": {"de": "Bildgebung"},
    "Radiology": {"de": "Radiologie"},
    "MRI report": {"de": "MRT-Befund"},
}


@functools.cache
def _table() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(__file__).with_name("codes.json").read_text("utf-8"))
    return data


def entries(kind: str) -> dict[str, dict[str, Any]]:
    """The terms of one kind (bone, etiology, flag...) as `codes.json` lists them."""
    table: dict[str, dict[str, Any]] = _table().get(kind, {})
    return table


# The English text of each flag code (Flag and DetectedIssue texts).
FLAG_TEXT: dict[str, str] = {code: item["display"] for code, item in entries("flag").items()}


def humanise(term: str) -> str:
    """`medial_femoral_condyle` -> `Medial femoral condyle`."""
    return term.replace("_", " ").capitalize()


def label(text: str, language: str = "en") -> str:
    """One of radflag's fixed texts (`LABELS`) in the report's language; English otherwise."""
    return LABELS.get(text, {}).get(language, text)


def term_text(kind: str, term: str, language: str = "en") -> str:
    """radflag's text for a term in the report's language: `codes.json`'s `de` for German,
    its `display` otherwise (or the humanised term for one it does not list)."""
    item = entries(kind).get(term, {})
    english: str = item.get("display") or humanise(term)
    if language != "en" and item.get(language):
        return str(item[language])
    return english


def coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def concept(
    kind: str, term: str, *, text: str | None = None, language: str = "en"
) -> dict[str, Any]:
    """A CodeableConcept for a radflag term of `kind` (finding, status, bone, etiology, flag...).

    Codings: those `codes.json` lists for the term (SNOMED CT, RadLex, LOINC, each with
    its source's display), then radflag's own (`kind:term`, English display), which is
    always there. `text` defaults to the term's text in `language`.
    """
    item = entries(kind).get(term, {})
    codings = [
        coding(SYSTEMS[c["system"]], c["code"], c["display"]) for c in item.get("codings", [])
    ]
    codings.append(coding(RADFLAG, f"{kind}:{term}", term_text(kind, term)))
    return {"coding": codings, "text": text or term_text(kind, term, language)}


def laterality_concept(side: str, language: str = "en") -> dict[str, Any]:
    """Left, right or bilateral: SNOMED CT side qualifier, RadLex where it has one, radflag's."""
    return concept("laterality", side, language=language)
