"""The image copies every package that pyproject installs (else `pip install .` leaves one out)."""

from __future__ import annotations

import tomllib

from tests.conftest import ROOT


def test_dockerfile_copies_every_package() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]]
    copied = {
        line.split()[1]
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("COPY ")
    }
    assert {"accounts", "feedback"} <= set(packages)
    assert set(packages) <= copied, set(packages) - copied
