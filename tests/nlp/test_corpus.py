"""The dev corpus scored with the shared scorer meets the issue's thresholds."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.nlp.shared_scorer import annotate_and_score, corpus_reports

THRESHOLDS = {
    "status_acc": 0.95,
    "flag_f1": 0.95,
    "site_f1": 0.90,
    "etiology_f1": 0.90,
    "priority_acc": 0.95,
}


@pytest.mark.shared
def test_dev_corpus_meets_thresholds(shared_dir: Path, tmp_path: Path) -> None:
    """nlp.annotate over corpus/dev.jsonl passes score.py's minimums with no bad offsets."""
    reports = corpus_reports(shared_dir / "corpus" / "dev.jsonl")
    annotate_and_score(shared_dir, reports, THRESHOLDS, tmp_path)
