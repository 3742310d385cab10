"""Run ../shared/tools/score.py on annotator output, as `make eval` does."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from nlp import annotate
from nlp.model import Annotation


def annotate_and_score(
    shared_dir: Path,
    reports: Iterable[dict[str, Any]],
    thresholds: dict[str, float],
    work_dir: Path,
    *,
    seen: Callable[[Annotation], None] = lambda annotation: None,
) -> dict[str, str]:
    """Annotate `reports` (corpus lines), score them with --min thresholds; the figures.

    Asserts that score.py met every threshold and found no missing report, bad
    offset or empty suggestion. `seen` is called with each annotation.
    """
    gold, out = work_dir / "gold.jsonl", work_dir / "out.jsonl"
    with gold.open("w", encoding="utf-8") as gold_file, out.open("w", encoding="utf-8") as dst:
        for report in reports:
            gold_file.write(json.dumps(report) + "\n")
            annotation = annotate(report["text"], report.get("procedure"))
            seen(annotation)
            dst.write(json.dumps(annotation.to_json_dict(report["id"])) + "\n")
    mins = [arg for name, value in thresholds.items() for arg in ("--min", f"{name}={value}")]
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
    return figures


def corpus_reports(path: Path) -> list[dict[str, Any]]:
    """The reports of a corpus file, one dict per non-blank line."""
    with path.open(encoding="utf-8") as src:
        return [json.loads(line) for line in src if line.strip()]
