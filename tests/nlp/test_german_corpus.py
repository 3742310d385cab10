"""The German dev corpus scored with the shared scorer meets the issue's thresholds.

Also when the reports arrive in capitals or with umlauts written out (ae, oe,
ue, ss), as some senders and HL7 systems deliver them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.nlp.shared_scorer import annotate_and_score, corpus_reports

THRESHOLDS = {"status_acc": 0.93, "flag_f1": 0.93, "site_f1": 0.85, "etiology_f1": 0.85}
_ASCII = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"}
)
SPELLINGS: dict[str, Callable[[str], str]] = {
    "as-dictated": lambda text: text,
    "capitals": str.upper,
    "ascii": lambda text: text.translate(_ASCII),
}


@pytest.mark.shared
@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_german_corpus_meets_thresholds(shared_dir: Path, tmp_path: Path, spelling: str) -> None:
    """nlp.annotate (language detected) over corpus/dev_de.jsonl passes score.py's minimums."""
    respell = SPELLINGS[spelling]
    reports = corpus_reports(shared_dir / "corpus" / "dev_de.jsonl")
    for report in reports:
        report["text"] = respell(report["text"])
    languages: set[str] = set()
    annotate_and_score(
        shared_dir,
        reports,
        THRESHOLDS,
        tmp_path,
        seen=lambda annotation: languages.add(annotation.language),
    )
    assert languages == {"de"}
