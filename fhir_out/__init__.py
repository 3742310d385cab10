"""FHIR R4 output: an annotated report as one transaction Bundle (pure; no I/O, no settings).

`build_bundle(annotation, ReportMeta(...), BundleOptions(...))` gives the Bundle
as a dict; `fhir_out.hl7_meta.report_meta` reads ReportMeta from an HL7 report.
Delivery is worker/fhir_delivery.py's; docs/fhir.md describes the mapping.
"""

from fhir_out.bundle import BundleError, BundleOptions, ReportMeta, build_bundle
from fhir_out.followups import FollowUp, RecommendationError

__all__ = [
    "BundleError",
    "BundleOptions",
    "FollowUp",
    "RecommendationError",
    "ReportMeta",
    "build_bundle",
]
