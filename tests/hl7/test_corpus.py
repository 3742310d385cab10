"""Corpus round trip: every dev report wrapped as ORU^R01 and MDM^T02 reads back as it was.

The strong check needs no annotator: the extracted text equals the plain text
character for character and the procedure is OBR-4's. The annotator check then
compares `nlp.annotate` on the extracted report with `nlp.annotate` on the
plain text (an MDM has no OBR, so no procedure on either side).
"""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest

from hl7.extract import extract_report
from tests.conftest import SHARED
from tests.hl7.messages import STYLES, wrap_mdm, wrap_oru

CORPORA = ("dev.jsonl", "dev_de.jsonl")
WRAPPINGS = (*(f"oru-{style}" for style in STYLES), "mdm")


def load(corpus: str) -> list[dict[str, Any]]:
    lines = (SHARED / "corpus" / corpus).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def wrap(record: dict[str, Any], wrapping: str) -> tuple[bytes, str | None]:
    """The message for a corpus record and the procedure the plain text is compared with."""
    control_id = f"{record['id']}-{wrapping}"
    if wrapping == "mdm":
        return wrap_mdm(record["text"], control_id=control_id), None
    style = wrapping.removeprefix("oru-")
    procedure = record.get("procedure")
    return wrap_oru(record["text"], procedure, style, control_id=control_id), procedure


@pytest.mark.shared
@pytest.mark.parametrize("corpus", CORPORA)
@pytest.mark.parametrize("wrapping", WRAPPINGS)
def test_extracted_text_is_the_plain_text(corpus: str, wrapping: str) -> None:
    """Every corpus report, wrapped, extracts to exactly its text and procedure."""
    records = load(corpus)
    assert records
    wrong = []
    for record in records:
        message, procedure = wrap(record, wrapping)
        report = extract_report(message)
        if report.text != record["text"] or report.procedure != procedure:
            wrong.append(record["id"])
        assert report.control_id == f"{record['id']}-{wrapping}"
    assert wrong == []


def summary(annotation: Any) -> tuple[Any, ...]:
    return (
        annotation.bme,
        tuple(annotation.sites),
        tuple(annotation.etiology),
        tuple(flag.code for flag in annotation.flags),
    )


@functools.cache
def plain_summary(text: str, procedure: str | None) -> tuple[Any, ...]:
    """The reference: the plain text annotated (once per text and procedure)."""
    from nlp import annotate

    return summary(annotate(text, procedure))


@pytest.mark.shared
@pytest.mark.parametrize("wrapping", WRAPPINGS)
def test_extracted_report_annotates_as_plain_text(wrapping: str) -> None:
    """nlp.annotate gives the same bme, sites, etiology and flags for extracted and plain text."""
    from nlp import annotate  # the annotator is built in parallel; imported here on purpose

    different = []
    for record in load("dev.jsonl"):
        message, procedure = wrap(record, wrapping)
        report = extract_report(message)
        extracted = summary(annotate(report.text, report.procedure))
        if extracted != plain_summary(record["text"], procedure):
            different.append(record["id"])
    assert different == []
