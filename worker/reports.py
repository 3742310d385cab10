"""Annotating an extracted HL7 report: the one place that joins `hl7` and `nlp`."""

from __future__ import annotations

import nlp
from hl7.errors import InboundMessageError
from hl7.model import Report
from nlp.errors import NlpError
from nlp.language import detect_language
from nlp.model import Annotation


def report_language(report: Report) -> str:
    """The rule language: the text decides; MSH-19, then PID-15, only when it cannot."""
    return detect_language(report.text, hints=(report.header.language, report.patient_language))


class AnnotationFailed(InboundMessageError):
    """The annotator could not read a report (a broken rule file, say): our fault, HL7 207."""

    hl7_error_code = 207


def annotate_report(report: Report) -> Annotation:
    """Annotate the report's text with its ordered procedure and its language.

    An `NlpError` becomes an `AnnotationFailed`, the rejection worker/ knows how
    to dead-letter with its reason.
    """
    try:
        return nlp.annotate(
            report.text, procedure=report.procedure, language=report_language(report)
        )
    except NlpError as e:
        raise AnnotationFailed(f"annotator: {e}") from e
