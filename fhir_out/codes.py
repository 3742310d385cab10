"""Code systems and codings of radflag's FHIR output.

Strategy: every radflag concept (the finding, its status, bones, etiology
categories, flags, laterality) is coded with the codings listed for it in
`codes.json`, in the order SNOMED CT, RadLex, radflag's own code system. Only
codes that were checked against their source are in that file (docs/fhir.md
names them); a concept without one carries the radflag coding alone, so a
receiver always gets a code and never an invented one.
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

FLAG_TEXT: dict[str, str] = {
    "BME": "Bone marrow edema",
    "BME_POSSIBLE": "Possible bone marrow edema",
    "OSTEONECROSIS_CONCERN": "Concern for osteonecrosis",
    "INFECTION_CONCERN": "Concern for infection",
    "TUMOR_CONCERN": "Concern for tumor",
    "REACTIVE": "Reactive or degenerative bone marrow edema",
    "TRAUMA_OVERLOAD": "Traumatic or overload bone marrow edema",
    "TRANSIENT_BME": "Transient bone marrow edema",
}


@functools.cache
def _table() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(__file__).with_name("codes.json").read_text("utf-8"))
    return data


def humanise(term: str) -> str:
    """`medial_femoral_condyle` -> `Medial femoral condyle`."""
    return term.replace("_", " ").capitalize()


def coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def concept(kind: str, term: str, *, text: str | None = None) -> dict[str, Any]:
    """A CodeableConcept for a radflag term of `kind` (finding, status, bone, etiology, flag...).

    Codings: SNOMED CT and RadLex where `codes.json` lists a checked code, then
    radflag's own (`kind:term`), which is always there.
    """
    entry = _table().get(kind, {}).get(term, {})
    display = entry.get("display") or FLAG_TEXT.get(term) or humanise(term)
    codings = []
    if entry.get("snomed"):
        codings.append(coding(SNOMED, entry["snomed"], display))
    if entry.get("radlex"):
        codings.append(coding(RADLEX, entry["radlex"], display))
    codings.append(coding(RADFLAG, f"{kind}:{term}", display))
    return {"coding": codings, "text": text or display}


def laterality_concept(side: str) -> dict[str, Any]:
    """SNOMED CT laterality qualifier for left, right or bilateral."""
    entry = _table()["laterality"][side]
    return {"coding": [coding(SNOMED, entry["snomed"], entry["display"])], "text": side}
