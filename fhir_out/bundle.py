"""One annotated report -> one FHIR R4 transaction Bundle (a plain dict, ready for JSON).

Strategy: a pure function of the annotation, the report's metadata and the
options (the clock included), so the same report always gives the same Bundle
and tests can compare it. Every entry is written so that resending the Bundle
changes nothing: the Patient is a conditional create on its identifier, every
resource radflag owns is a conditional update on an identifier derived from
the accession (`<system>:finding|<accession>/<part>`), and the Provenance,
which has no identifier in R4, is an update of a fixed id derived from the
same. `fullUrl`s are `urn:uuid:`s derived from those identifiers, so the
references between the entries are stable too.

Resources: DiagnosticReport (the exam, its text as `presentedForm`),
Observation for the BME finding (present, possible or absent) with one
Observation per site (its `bodySite` and a laterality component), a
DetectedIssue per flag (severity from the flag's priority), a ServiceRequest
(intent proposal) per follow-up, a Flag for the patient's banner when asked
for, the Device that is radflag, and a Provenance. Findings point at their
evidence with the derivation-reference extension (offset and length into the
report text, in characters).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from fhir_out import codes
from fhir_out.followups import FollowUp, find_span, from_flags, normalise
from nlp.model import Annotation, Mention

# DiagnosticReport.status values radflag writes (HL7 v2 OBR-25 mapped by the caller).
REPORT_STATUSES = (
    "registered", "partial", "preliminary", "final", "amended", "corrected",
    "appended", "cancelled", "entered-in-error", "unknown",
)  # fmt: skip
# DiagnosticReport.status -> Observation.status (R4 has no partial/appended Observation).
OBSERVATION_STATUS = {
    "registered": "registered", "partial": "preliminary", "preliminary": "preliminary",
    "final": "final", "amended": "amended", "corrected": "corrected", "appended": "amended",
    "cancelled": "cancelled", "entered-in-error": "entered-in-error", "unknown": "unknown",
}  # fmt: skip
# DiagnosticReport.status -> ServiceRequest.status and Flag.status: a proposal of a
# report not yet final is a draft; of a withdrawn report, withdrawn too.
REQUEST_STATUS = {
    "registered": "draft", "partial": "draft", "preliminary": "draft",
    "cancelled": "revoked", "entered-in-error": "entered-in-error",
}  # fmt: skip
FLAG_STATUS = {"cancelled": "inactive", "entered-in-error": "entered-in-error"}
TEXT_PATH = "DiagnosticReport.presentedForm[0].data"
_NAMESPACE = uuid.UUID("5a4f1d0e-7b0e-4c51-9f7e-2d4a5f6c0b11")  # radflag's uuid5 namespace


@dataclass(frozen=True)
class ReportMeta:
    """What the Bundle needs to know about the report besides its annotation."""

    accession: str
    text: str
    patient_id: str = ""
    status: str = "final"  # a DiagnosticReport.status value
    procedure_text: str | None = None
    procedure_code: str = ""
    procedure_system: str = ""  # OBR-4.3, the coding system's name as the sender gave it
    effective: datetime | None = None  # OBR-7, the exam
    issued: datetime | None = None  # OBR-22, the report


@dataclass(frozen=True)
class BundleOptions:
    """What the hospital chooses, and what radflag says about itself."""

    identifier_system: str = "urn:radflag:id"
    patient_flag: bool = False
    radflag_version: str = "0"
    ruleset_version: str = "0"
    now: datetime | None = None  # the Provenance's `recorded`; None: the current time


class BundleError(ValueError):
    """The report cannot become a Bundle (no accession, a status FHIR does not know)."""


def build_bundle(
    annotation: Annotation,
    meta: ReportMeta,
    options: BundleOptions | None = None,
    *,
    recommendations: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The transaction Bundle for one annotated report; see the module docstring.

    `recommendations` are structured follow-ups (fhir_out.followups); without
    them each flag's suggestion becomes one. Raises BundleError, or
    RecommendationError for a bad recommendation.
    """
    options = options or BundleOptions()
    if not meta.accession.strip():
        raise BundleError("the report has no accession number (OBR-3, OBR-18 or TXA-12)")
    if meta.status not in REPORT_STATUSES:
        raise BundleError(f"report status {meta.status!r} is not a DiagnosticReport status")
    followups = (
        normalise(recommendations, len(meta.text))
        if recommendations is not None
        else from_flags(annotation, meta.text)
    )
    return _Builder(annotation, meta, options).build(followups)


class _Builder:
    def __init__(self, annotation: Annotation, meta: ReportMeta, options: BundleOptions) -> None:
        self.annotation = annotation
        self.meta = meta
        self.options = options
        self.language = annotation.language  # the texts radflag writes follow the report's
        self.recorded = _instant(options.now or datetime.now(UTC))
        self.entries: list[dict[str, Any]] = []
        self.report_url = self._url("report")
        self.bme_url = self._url("bme")
        self.device_url = self._url("device", self._device_key())
        self.patient_url = self._url("patient", meta.patient_id) if meta.patient_id else None

    # -- identity ---------------------------------------------------------------

    def _system(self, kind: str) -> str:
        return f"{self.options.identifier_system}:{kind}"

    def _value(self, part: str) -> str:
        return f"{self.meta.accession}/{part}"

    def _url(self, part: str, value: str | None = None) -> str:
        name = f"{part}|{value if value is not None else self._value(part)}"
        return f"urn:uuid:{uuid.uuid5(_NAMESPACE, self.options.identifier_system + '|' + name)}"

    def _device_key(self) -> str:
        return f"radflag-{self.options.radflag_version}-rules-{self.options.ruleset_version}"

    def _add(
        self, url: str, resource: dict[str, Any], system: str, value: str, *, create: bool = False
    ) -> None:
        search = f"identifier={quote(system + '|' + value, safe='')}"
        kind = resource["resourceType"]
        resource["identifier"] = [
            *resource.get("identifier", []),
            {"system": system, "value": value},
        ]
        request = (
            {"method": "POST", "url": kind, "ifNoneExist": search}
            if create
            else {"method": "PUT", "url": f"{kind}?{search}"}
        )
        self.entries.append({"fullUrl": url, "resource": resource, "request": request})

    # -- the Bundle -------------------------------------------------------------

    def build(self, followups: list[FollowUp]) -> dict[str, Any]:
        self._patient()
        self._device()
        site_urls = self._sites()
        self._bme(site_urls)
        issue_urls = self._issues()
        self._report([self.bme_url, *site_urls])
        self._followups(followups)
        if self.options.patient_flag:
            self._banner(issue_urls)
        self._provenance()
        return {"resourceType": "Bundle", "type": "transaction", "entry": self.entries}

    def _subject(self) -> dict[str, Any]:
        return {"subject": {"reference": self.patient_url}} if self.patient_url else {}

    def _patient(self) -> None:
        if self.patient_url is None:
            return
        system = self._system("patient")
        identifier = {
            "type": _v2_type("MR", "Medical record number"),
            "system": system,
            "value": self.meta.patient_id,
        }
        resource = {"resourceType": "Patient", "identifier": [identifier]}
        search = f"identifier={quote(system + '|' + self.meta.patient_id, safe='')}"
        self.entries.append(
            {
                "fullUrl": self.patient_url,
                "resource": resource,
                "request": {"method": "POST", "url": "Patient", "ifNoneExist": search},
            }
        )

    def _device(self) -> None:
        resource = {
            "resourceType": "Device",
            "status": "active",
            "manufacturer": "radflag",
            "deviceName": [{"name": "radflag", "type": "manufacturer-name"}],
            "version": [
                {"type": {"text": "software"}, "value": self.options.radflag_version},
                {"type": {"text": "rule set"}, "value": self.options.ruleset_version},
            ],
        }
        self._add(self.device_url, resource, self._system("device"), self._device_key())

    def _report(self, results: list[str]) -> None:
        meta = self.meta
        resource: dict[str, Any] = {
            "resourceType": "DiagnosticReport",
            "identifier": [
                {
                    "type": _v2_type("ACSN", "Accession ID"),
                    "system": self._system("accession"),
                    "value": meta.accession,
                }
            ],
            "status": meta.status,
            "category": [
                {
                    "coding": [codes.coding(codes.V2_0074, "RAD", "Radiology")],
                    "text": codes.label("Radiology", self.language),
                }
            ],
            "code": self._procedure(),
            **self._subject(),
            **_effective(meta.effective),
            "result": [{"reference": url} for url in results],
            "presentedForm": [
                {
                    "contentType": "text/plain; charset=utf-8",
                    "language": self.annotation.language,
                    "data": base64.b64encode(meta.text.encode("utf-8")).decode("ascii"),
                    "title": meta.procedure_text or "Radiology report",
                }
            ],
        }
        if meta.issued is not None:
            resource["issued"] = _instant(meta.issued)
        # The accession identifier is the one the report is found by (conditional update).
        self.entries.append(
            {
                "fullUrl": self.report_url,
                "resource": resource,
                "request": {
                    "method": "PUT",
                    "url": "DiagnosticReport?identifier="
                    + quote(f"{self._system('accession')}|{meta.accession}", safe=""),
                },
            }
        )

    def _procedure(self) -> dict[str, Any]:
        meta = self.meta
        text = meta.procedure_text or "Diagnostic imaging study"
        if meta.procedure_code:
            system = (
                f"{self.options.identifier_system}:procedure:{meta.procedure_system or 'local'}"
            )
            return {"coding": [codes.coding(system, meta.procedure_code, text)], "text": text}
        return {
            "coding": [
                codes.coding(codes.LOINC, codes.LOINC_IMAGING_STUDY, "Diagnostic imaging study")
            ],
            "text": text,
        }

    def _observation_base(self) -> dict[str, Any]:
        return {
            "resourceType": "Observation",
            "status": OBSERVATION_STATUS[self.meta.status],
            "category": [
                {
                    "coding": [codes.coding(codes.OBSERVATION_CATEGORY, "imaging", "Imaging")],
                    "text": codes.label("Imaging", self.language),
                }
            ],
            "code": codes.concept("finding", "bme", language=self.language),
            **self._subject(),
            **_effective(self.meta.effective),
            "device": {"reference": self.device_url},
        }

    def _bme(self, site_urls: list[str]) -> None:
        annotation = self.annotation
        resource = self._observation_base()
        language = self.language
        resource["valueCodeableConcept"] = codes.concept(
            "status", annotation.bme, language=language
        )
        resource["component"] = [
            {
                "code": {
                    "coding": [codes.coding(codes.RADFLAG, "component:etiology", "Etiology")],
                    "text": codes.label("Etiology", language),
                },
                "valueCodeableConcept": codes.concept("etiology", category, language=language),
            }
            for category in annotation.etiology
        ] or None
        if site_urls:
            resource["hasMember"] = [{"reference": url} for url in site_urls]
        # Every mention, whatever its status: a reader sees what was read, and where.
        self._evidence(resource, [(m.start, m.end) for m in annotation.mentions])
        self._add(self.bme_url, _clean(resource), self._system("finding"), self._value("bme"))

    def _sites(self) -> list[str]:
        urls = []
        for site in self.annotation.sites:
            side = site.laterality or "unknown-side"
            part = f"site/{site.bone}/{side}"
            url = self._url(part)
            mentions = [m for m in self.annotation.mentions if site.bone in m.bones]
            resource = self._observation_base()
            language = self.language
            resource["valueCodeableConcept"] = codes.concept(
                "status", _site_status(mentions), language=language
            )
            resource["bodySite"] = codes.concept(
                "bone", site.bone, text=_site_text(site.bone, site.laterality, language)
            )
            if site.laterality:
                resource["component"] = [
                    {
                        "code": {
                            "coding": [
                                codes.coding(codes.SNOMED, codes.SNOMED_LATERALITY, "Laterality")
                            ],
                            "text": codes.label("Laterality", language),
                        },
                        "valueCodeableConcept": codes.laterality_concept(site.laterality, language),
                    }
                ]
            self._evidence(resource, [(m.start, m.end) for m in mentions])
            self._add(url, resource, self._system("finding"), self._value(part))
            urls.append(url)
        return urls

    def _issues(self) -> list[tuple[str, str, str]]:
        """One DetectedIssue per flag; returns (fullUrl, flag code, priority) of each."""
        out: list[tuple[str, str, str]] = []
        for flag in self.annotation.flags:
            part = f"flag/{flag.code}"
            url = self._url(part)
            resource: dict[str, Any] = {
                "resourceType": "DetectedIssue",
                "status": OBSERVATION_STATUS[self.meta.status],
                "code": codes.concept("flag", flag.code, language=self.language),
                "severity": codes.ISSUE_SEVERITY[flag.priority],
                "identifiedDateTime": self.recorded,
                "author": {"reference": self.device_url},
                "implicated": [{"reference": self.report_url}, {"reference": self.bme_url}],
                "evidence": [{"detail": [{"reference": self.bme_url}]}],
                "detail": flag.suggestion,
            }
            if self.patient_url:
                resource["patient"] = {"reference": self.patient_url}
            spans = [span for s in flag.evidence if (span := find_span(self.meta.text, s))]
            self._evidence(resource, spans)
            self._add(url, resource, self._system("finding"), self._value(part))
            out.append((url, flag.code, flag.priority))
        return out

    def _followups(self, followups: list[FollowUp]) -> None:
        if self.patient_url is None:
            return  # ServiceRequest.subject is required: no patient, no request
        start = self.meta.effective or self.meta.issued
        for number, item in enumerate(followups, 1):
            part = f"followup/{number}"
            resource: dict[str, Any] = {
                "resourceType": "ServiceRequest",
                "status": REQUEST_STATUS.get(self.meta.status, "active"),
                "intent": "proposal",
                "priority": codes.REQUEST_PRIORITY[item.priority],
                "code": {"text": item.text},
                **self._subject(),
                "requester": {"reference": self.device_url},
                "reasonReference": [{"reference": self.bme_url}],
                "supportingInfo": [{"reference": self.report_url}],
                "note": [{"text": _followup_note(item)}],
            }
            if item.modality:
                resource["category"] = [{"text": item.modality}]
            if item.region:
                side = f"{item.side} " if item.side else ""
                resource["bodySite"] = [{"text": f"{side}{item.region}"}]
            if item.due_window_days is not None and start is not None:
                low, high = item.due_window_days
                resource["occurrencePeriod"] = {
                    "start": _date(start + timedelta(days=low)),
                    "end": _date(start + timedelta(days=high)),
                }
            self._evidence(resource, list(item.evidence))
            self._add(self._url(part), resource, self._system("finding"), self._value(part))

    def _banner(self, issues: list[tuple[str, str, str]]) -> None:
        if self.patient_url is None or not issues:
            return  # Flag.subject is required; no flags, no banner
        top_url, top_code, top_priority = max(
            issues, key=lambda i: ("routine", "high", "urgent").index(i[2])
        )
        priority_code, priority_text = codes.FLAG_PRIORITY_CODES[top_priority]
        resource = {
            "resourceType": "Flag",
            "extension": [
                {
                    "url": codes.EXT_FLAG_PRIORITY,
                    "valueCodeableConcept": {
                        "coding": [codes.coding(codes.FLAG_PRIORITY, priority_code, priority_text)],
                        "text": top_priority,
                    },
                },
                {"url": codes.EXT_FLAG_DETAIL, "valueReference": {"reference": top_url}},
                {"url": codes.EXT_FLAG_DETAIL, "valueReference": {"reference": self.report_url}},
            ],
            "status": FLAG_STATUS.get(self.meta.status, "active"),
            "category": [{"coding": [codes.coding(codes.FLAG_CATEGORY, "clinical", "Clinical")]}],
            "code": codes.concept(
                "flag",
                top_code,
                text=f"{codes.term_text('flag', top_code, self.language)}"
                f" ({codes.label('MRI report', self.language)})",
            ),
            **self._subject(),
            "period": {"start": self.recorded},
            "author": {"reference": self.device_url},
        }
        self._add(self._url("banner"), resource, self._system("finding"), self._value("banner"))

    def _provenance(self) -> None:
        targets = [e["fullUrl"] for e in self.entries if e["resource"]["resourceType"] != "Patient"]
        resource_id = "radflag-" + self.report_url.rsplit(":", 1)[1]
        resource = {
            "resourceType": "Provenance",
            "id": resource_id,
            "target": [{"reference": url} for url in targets],
            "recorded": self.recorded,
            "activity": {"coding": [codes.coding(codes.DATA_OPERATION, "CREATE", "create")]},
            "agent": [
                {
                    "type": {
                        "coding": [codes.coding(codes.PROVENANCE_PARTICIPANT, "author", "Author")]
                    },
                    "who": {
                        "reference": self.device_url,
                        "display": f"radflag {self.options.radflag_version} "
                        f"(rule set {self.options.ruleset_version})",
                    },
                }
            ],
            "entity": [{"role": "source", "what": {"reference": self.report_url}}],
        }
        self.entries.append(
            {
                "fullUrl": self._url("provenance"),
                "resource": resource,
                "request": {"method": "PUT", "url": f"Provenance/{resource_id}"},
            }
        )

    def _evidence(self, resource: dict[str, Any], spans: list[tuple[int, int]]) -> None:
        extensions = [
            {
                "url": codes.EXT_DERIVATION_REFERENCE,
                "extension": [
                    {"url": "reference", "valueReference": {"reference": self.report_url}},
                    {"url": "path", "valueString": TEXT_PATH},
                    {"url": "offset", "valueInteger": start},
                    {"url": "length", "valueInteger": end - start},
                ],
            }
            for start, end in dict.fromkeys(spans)
        ]
        if extensions:
            resource["extension"] = [*resource.get("extension", []), *extensions]


def _site_text(bone: str, side: str | None, language: str) -> str:
    """A site's text: "left medial femoral condyle"; in German "medialer Femurkondylus links"."""
    if language != "de":
        name = codes.term_text("bone", bone).lower()
        return f"{side} {name}" if side else name
    name = codes.term_text("bone", bone, language)
    return f"{name} {codes.term_text('laterality', side, language)}" if side else name


def _site_status(mentions: list[Mention]) -> str:
    return "present" if any(m.status == "present" for m in mentions) else "possible"


def _followup_note(item: FollowUp) -> str:
    origin = "recommended in the report" if item.source == "report" else "radflag suggestion"
    details = [origin]
    if item.flag:
        details.append(f"flag {item.flag}")
    if item.condition:
        details.append(f"condition: {item.condition}")
    if item.due_window_days is not None:
        details.append("due {}-{} days after the exam".format(*item.due_window_days))
    return "; ".join(details)


def _v2_type(code: str, display: str) -> dict[str, Any]:
    return {"coding": [codes.coding(codes.V2_0203, code, display)]}


def _effective(moment: datetime | None) -> dict[str, Any]:
    return {} if moment is None else {"effectiveDateTime": _instant(moment)}


def _instant(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat(timespec="seconds")


def _date(moment: datetime) -> str:
    return moment.date().isoformat()


def _clean(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if v is not None}
