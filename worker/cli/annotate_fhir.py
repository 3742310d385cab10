"""`radflag annotate --format fhir`: one FHIR R4 transaction Bundle per report on stdout.

.hl7 files give the Bundle everything the service sends (accession, patient,
OBR-25 status, times); .txt and .jsonl reports have only an id (used as the
accession) and text, so their Bundles have no patient and hence no
ServiceRequest or Flag (FHIR requires a subject for those), and status
`unknown`. The identifier system and the patient Flag come from the settings
(RADFLAG_FHIR_IDENTIFIER_SYSTEM, RADFLAG_FHIR_FLAG), as in the service.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from fhir_out import BundleError, ReportMeta, build_bundle
from fhir_out.hl7_meta import report_meta
from worker.cli.annotate import STDIN, InputError, hl7_reports, reports_in, stdin_kind
from worker.settings import Settings, SettingsError


def fhir_inputs(path: Path) -> Iterator[tuple[ReportMeta, str | None]]:
    """(report metadata, language or None) for each report in a file, by its suffix."""
    hl7 = stdin_kind() == ".hl7" if path == STDIN else path.suffix.lower() == ".hl7"
    if hl7 and (path == STDIN or path.is_file()):
        from worker.reports import report_language

        for report in hl7_reports(path):
            yield report_meta(report), report_language(report)
        return
    for report_id, text, procedure, language in reports_in(path):
        yield ReportMeta(accession=report_id, text=text, procedure_text=procedure,
                         status="unknown"), language  # fmt: skip


def annotate_fhir(paths: tuple[Path, ...], *, pretty: bool, language: str | None) -> None:
    """Write one Bundle per report; a one-line error and exit 2 for bad input or settings."""
    from nlp import annotate
    from nlp.ruleset import RuleFileError
    from worker.fhir_delivery import bundle_options

    try:
        options = bundle_options(Settings.from_mapping())
        for path in paths:
            for meta, read_language in list(fhir_inputs(path)):
                annotation = annotate(
                    meta.text, procedure=meta.procedure_text, language=language or read_language
                )
                try:
                    bundle = build_bundle(annotation, meta, options)
                except BundleError as e:
                    raise InputError(f"{path}: report {meta.accession or '?'}: {e}") from e
                click.echo(
                    json.dumps(
                        bundle,
                        indent=2 if pretty else None,
                        separators=None if pretty else (",", ":"),
                        ensure_ascii=False,
                    )
                )
    except (InputError, RuleFileError, SettingsError) as e:
        click.echo(f"radflag annotate: {e}", err=True)
        sys.exit(2)
