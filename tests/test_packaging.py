"""pyproject.toml: what the package needs at run time, bounded tools, no licence warning."""

from __future__ import annotations

import ast
import re
import tomllib

from tests.conftest import ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
RUNTIME_PACKAGES = (
    "resilience",
    "hl7",
    "nlp",
    "worker",
    "browse",
    "fhir_out",
    "followup",
    "accounts",
    "feedback",
    "backfill",
)


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower()


def _imports(package: str) -> set[str]:
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return found


def test_hl7apy_is_a_dev_dependency_only() -> None:
    """Only tests and benchmarks import hl7apy, so only the dev extra installs it."""
    runtime = {_name(r) for r in PROJECT["project"]["dependencies"]}
    dev = {_name(r) for r in PROJECT["project"]["optional-dependencies"]["dev"]}
    assert "hl7apy" not in runtime and "hl7apy" in dev
    for package in RUNTIME_PACKAGES:
        assert "hl7apy" not in _imports(package), package


def test_every_dependency_has_an_upper_bound() -> None:
    """Run-time and dev requirements, lint tools included, are bounded above."""
    optional = PROJECT["project"]["optional-dependencies"]["dev"]
    for requirement in [*PROJECT["project"]["dependencies"], *optional]:
        assert "<" in requirement or "==" in requirement, requirement


def test_licence_is_an_spdx_string() -> None:
    """A plain SPDX expression: setuptools >= 77 then warns about nothing."""
    assert isinstance(PROJECT["project"]["license"], str)
    assert any(r.startswith("setuptools>=77") for r in PROJECT["build-system"]["requires"])


def test_the_packages_are_all_installed() -> None:
    """Each top-level package of the code is in the wheel and under mypy."""
    include = PROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    assert {p.rstrip("*") for p in include} == set(RUNTIME_PACKAGES)
    assert set(PROJECT["tool"]["mypy"]["packages"]) == set(RUNTIME_PACKAGES) - {"nlp"}
