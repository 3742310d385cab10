"""Shared test configuration: where ../shared is, and its marker."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tests marked `shared` need the corpus and samples beside the clone, as CI has
    # them; on a bare clone they are reported as skipped, the rest still run.
    if (SHARED / "corpus").is_dir():
        return
    skip = pytest.mark.skip(reason=f"{SHARED} is not beside this clone")
    for item in items:
        if "shared" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return SHARED
