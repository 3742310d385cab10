"""The German dev corpus scored with the shared scorer meets the issue's thresholds.

Also when the reports arrive in capitals or with umlauts written out (ae, oe,
ue, ss), as some senders and HL7 systems deliver them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from nlp import annotate

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
    gold = tmp_path / "gold.jsonl"
    out = tmp_path / "out.jsonl"
    languages = set()
    corpus = shared_dir / "corpus" / "dev_de.jsonl"
    with (
        corpus.open(encoding="utf-8") as src,
        gold.open("w", encoding="utf-8") as gold_file,
        out.open("w", encoding="utf-8") as dst,
    ):
        for line in src:
            if line.strip():
                report = json.loads(line)
                report["text"] = respell(report["text"])
                gold_file.write(json.dumps(report) + "\n")
                annotation = annotate(report["text"], report.get("procedure"))
                languages.add(annotation.language)
                dst.write(json.dumps(annotation.to_json_dict(report["id"])) + "\n")
    assert languages == {"de"}
    mins = [arg for name, value in THRESHOLDS.items() for arg in ("--min", f"{name}={value}")]
    result = subprocess.run(
        [sys.executable, str(shared_dir / "tools" / "score.py"), str(gold), str(out), *mins],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    figures = dict(item.split("=") for item in result.stdout.strip().splitlines()[-1].split())
    assert figures["bad_offsets"] == "0" and figures["missing"] == "0"
    assert figures["empty_suggestions"] == "0"
