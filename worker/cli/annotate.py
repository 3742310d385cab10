"""`radflag annotate PATH... [--pretty]`: one contract JSON object per report on stdout.

Readers are chosen by file suffix (`READERS`); each yields (report id, text,
procedure, language or None) and raises `InputError` naming the file and line
(or message). `-` reads standard input, its kind told by its first bytes
(`stdin_kind`): HL7 messages, JSON Lines, or one plain-text report with the id
`stdin`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import click

from hl7.model import Report
from worker.cli.base import main

# id, text, procedure, language (None: detected from the text by nlp.annotate)
ReportInput = tuple[str, str, str | None, str | None]
# Progress is shown only for files with at least this many reports, on a TTY.
PROGRESS_MIN_REPORTS = 200


class InputError(Exception):
    """A report file cannot be read; the message names the file (and line)."""


STDIN = Path("-")
_stdin_data: list[bytes] = []  # standard input, read once


def _read_bytes(path: Path) -> bytes:
    if path == STDIN:
        if not _stdin_data:
            _stdin_data.append(sys.stdin.buffer.read())
        return _stdin_data[0]
    try:
        return path.read_bytes()
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.__class__.__name__}: {e})") from e


def _read_text(path: Path) -> str:
    try:
        return _read_bytes(path).decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: cannot read ({e.__class__.__name__}: {e})") from e


def stdin_kind() -> str:
    """What standard input holds, by its first bytes: ".hl7", ".jsonl" or ".txt"."""
    start = _read_bytes(STDIN).lstrip(b"\x0b \t\r\n\xef\xbb\xbf")[:3]
    if start in (b"MSH", b"FHS", b"BHS"):
        return ".hl7"
    return ".jsonl" if start.startswith(b"{") else ".txt"


def read_txt(path: Path) -> Iterator[ReportInput]:
    """A plain-text report; its id is the file stem (`stdin` for standard input)."""
    text = _read_text(path)
    yield ("stdin" if path == STDIN else path.stem), text, None, None


def read_jsonl(path: Path) -> Iterator[ReportInput]:
    """JSON Lines of {"id", "text", "procedure"?}; blank lines are skipped."""
    lines = _read_text(path).splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"{path}:{number}: not JSON ({e.msg})") from e
        if not isinstance(obj, dict):
            raise InputError(f"{path}:{number}: expected an object with id and text")
        report_id, text, procedure = obj.get("id"), obj.get("text"), obj.get("procedure")
        if not isinstance(report_id, str) or not isinstance(text, str):
            raise InputError(f"{path}:{number}: needs string fields id and text")
        if procedure is not None and not isinstance(procedure, str):
            raise InputError(f"{path}:{number}: procedure must be a string")
        yield report_id, text, procedure, None


def read_hl7(path: Path) -> Iterator[ReportInput]:
    """HL7 v2 messages (one, several, a batch or MLLP-framed); the id is MSH-10."""
    from worker.reports import report_language

    for report in hl7_reports(path):
        yield report.control_id, report.text, report.procedure, report_language(report)


def hl7_reports(path: Path) -> Iterator[Report]:
    """The reports of the HL7 v2 messages in a file; InputError names a bad message."""
    from hl7.batch import split_messages
    from hl7.errors import InboundMessageError
    from hl7.extract import extract_report

    messages = split_messages(_read_bytes(path))
    if not messages:
        raise InputError(f"{path}: no HL7 message (no MSH segment)")
    for number, message in enumerate(messages, 1):
        try:
            report = extract_report(message)
        except InboundMessageError as e:
            raise InputError(
                f"{path}: message {number}: not annotated (HL7 error {e.hl7_error_code}: {e})"
            ) from e
        yield report


READERS: dict[str, Callable[[Path], Iterator[ReportInput]]] = {
    ".txt": read_txt,
    ".jsonl": read_jsonl,
    ".hl7": read_hl7,
}


def reports_in(path: Path) -> Iterator[ReportInput]:
    """The reports in one file, by its suffix; `-`: standard input, by its first bytes."""
    if path == STDIN:
        return READERS[stdin_kind()](path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        known = ", ".join(sorted(READERS))
        raise InputError(f"{path}: unsupported file type (expected {known})")
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    return reader(path)


def _known_language(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    from nlp.ruleset import available_languages

    supported = available_languages()
    if value is not None and value not in supported:
        raise click.BadParameter(f"unknown language {value!r}; supported: {', '.join(supported)}")
    return value


@main.command("annotate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--pretty", is_flag=True, help="Indented JSON for people.")
@click.option(
    "--language",
    default=None,
    callback=_known_language,
    help="Rule language for every report (en, de). Default: detected from each report's "
    "text (with MSH-19 and PID-15 of .hl7 files as hints).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["json", "fhir"]),
    default="json",
    show_default=True,
    help="json: the annotation contract; fhir: one FHIR R4 transaction Bundle per report.",
)
def annotate_command(
    paths: tuple[Path, ...], pretty: bool, language: str | None, output_format: str
) -> None:
    """Annotate .txt, .jsonl or .hl7 reports (- reads stdin): one JSON object per report."""
    from nlp import annotate
    from nlp.errors import NlpError

    if list(paths).count(STDIN) > 1:
        click.echo("radflag annotate: - (standard input) can be given once", err=True)
        sys.exit(2)
    _stdin_data.clear()  # this invocation's standard input, not an earlier one's (tests)
    if output_format == "fhir":
        from worker.cli.annotate_fhir import annotate_fhir

        annotate_fhir(paths, pretty=pretty, language=language)
        return

    indent = 2 if pretty else None
    separators = None if pretty else (",", ":")
    try:
        for path in paths:
            reports = list(reports_in(path))
            show = sys.stderr.isatty() and len(reports) >= PROGRESS_MIN_REPORTS
            with (
                click.progressbar(reports, label=str(path), file=sys.stderr)
                if show
                else _plain(reports) as items
            ):
                for report_id, text, procedure, read_language in items:
                    chosen = language or read_language
                    annotation = annotate(text, procedure=procedure, language=chosen)
                    click.echo(
                        json.dumps(
                            annotation.to_json_dict(report_id),
                            indent=indent,
                            separators=separators,
                            ensure_ascii=False,
                        )
                    )
    except (InputError, NlpError) as e:
        click.echo(f"radflag annotate: {e}", err=True)
        sys.exit(2)


class _plain:
    """A no-op stand-in for click.progressbar."""

    def __init__(self, items: list[ReportInput]) -> None:
        self._items = items

    def __enter__(self) -> list[ReportInput]:
        return self._items

    def __exit__(self, *exc: object) -> None:
        return None


__all__ = [
    "READERS",
    "STDIN",
    "InputError",
    "annotate_command",
    "hl7_reports",
    "read_hl7",
    "read_jsonl",
    "read_txt",
    "reports_in",
    "stdin_kind",
]
