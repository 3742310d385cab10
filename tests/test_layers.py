"""The layers stay apart: nlp/ imports neither hl7/ nor worker/; hl7/ and fhir_out/ touch no I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from hl7.header import parse_header
from hl7.model import Report
from nlp.errors import NlpError, RuleFileError

ROOT = Path(__file__).resolve().parent.parent


def _imports(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("nlp", {"hl7", "worker", "redis", "celery", "socket", "asyncio", "sqlalchemy"}),
        ("hl7", {"worker", "redis", "celery", "socket", "asyncio", "sqlalchemy"}),
        ("fhir_out", {"worker", "redis", "celery", "socket", "asyncio", "sqlalchemy", "http"}),
        ("followup", {"worker", "redis", "celery", "socket", "asyncio", "sqlalchemy", "http"}),
        ("accounts", {"worker", "redis", "celery", "socket", "sqlalchemy", "fastapi", "hl7"}),
        ("feedback", {"worker", "redis", "celery", "socket", "sqlalchemy", "fastapi", "hl7"}),
        ("backfill", {"worker", "redis", "celery", "socket", "asyncio", "sqlalchemy", "http"}),
    ],
)
def test_pure_layers_import_no_io(package: str, forbidden: set[str]) -> None:
    bad = {f: sorted(names & forbidden) for f, names in _imports(package).items()}
    assert {f: n for f, n in bad.items() if n} == {}


def test_pure_layers_read_no_environment() -> None:
    for package in ("nlp", "hl7", "fhir_out", "followup"):
        for path in (ROOT / package).rglob("*.py"):
            assert "os.environ" not in path.read_text(encoding="utf-8"), path


def test_rule_file_error_is_an_nlp_error_not_an_hl7_one() -> None:
    from hl7.errors import RadflagError

    assert issubclass(RuleFileError, NlpError)
    assert not issubclass(RuleFileError, RadflagError)


def test_worker_maps_an_nlp_error_to_a_rejection(monkeypatch: pytest.MonkeyPatch) -> None:
    import nlp
    from hl7.errors import InboundMessageError
    from worker import reports

    def broken(*args: object, **kwargs: object) -> None:
        raise RuleFileError("rules/en/targets.jsonl:3: unknown key")

    monkeypatch.setattr(nlp, "annotate", broken)
    header = parse_header(b"MSH|^~\\&|RIS|HOSP|RADFLAG|HOSP|20260101||ORU^R01|C1|P|2.5.1\r")
    report = Report(
        header=header, patient_id="P1", accession="A1", procedure=None, text="Marrow edema."
    )
    with pytest.raises(InboundMessageError) as caught:
        reports.annotate_report(report)
    assert caught.value.hl7_error_code == 207
    assert "unknown key" in str(caught.value)
