"""`radflag eval`: annotate and score labelled reports, with score.py's figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from nlp import annotate
from nlp.evaluation import score
from worker.cli import main

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "reports"

GOLD = [
    {
        "id": "t-1",
        "text": "MRI RIGHT KNEE\nFINDINGS: Bone marrow edema in the medial femoral condyle.",
        "gold": {
            "bme": "present",
            "sites": [{"bone": "medial_femoral_condyle", "laterality": "right"}],
            "etiology": [],
            "flags": ["BME"],
        },
    },
    {
        # Labelled as a radiologist would correct it: the output says present.
        "id": "t-2",
        "text": "FINDINGS: Bone marrow edema in the lateral tibial plateau.",
        "gold": {"bme": "absent", "sites": [], "etiology": [], "flags": []},
    },
    {
        "id": "t-3",
        "text": "FINDINGS: No bone marrow edema.",
        "gold": {"bme": "absent", "sites": [], "etiology": [], "flags": []},
    },
]


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_eval_prints_figures_and_lists_the_report_that_differs(tmp_path: Path) -> None:
    gold = _write(tmp_path / "local.jsonl", GOLD)
    result = CliRunner().invoke(main, ["eval", str(gold), "--errors"])
    assert result.exit_code == 0, result.output
    assert "status accuracy      0.667" in result.output
    assert "reports=3 missing=0 status_acc=0.667" in result.output
    table = result.output.split("report / field", 1)[1]
    assert "t-2" in table and "t-1" not in table and "t-3" not in table
    assert "mention 'Bone marrow edema' @10: present, findings, lateral_tibial_plateau" in table


def test_eval_json_and_thresholds(tmp_path: Path) -> None:
    gold = _write(tmp_path / "local.jsonl", GOLD)
    result = CliRunner().invoke(
        main, ["eval", str(gold), "--json", "--errors", "--min", "status_acc=0.9"]
    )
    assert result.exit_code == 1
    data = json.loads(result.output)
    corpus = data["corpora"][0]
    assert corpus["figures"]["reports"] == 3
    assert corpus["short"] == ["status_acc 0.667 < 0.9"]
    assert [e["id"] for e in corpus["errors"]] == ["t-2"]
    assert corpus["errors"][0]["differs"]["bme"] == {"expected": "absent", "got": "present"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json\n", "bad.jsonl:1: not JSON"),
        ('{"id": "a", "text": "x"}\n', "bad.jsonl:1: gold.bme must be one of"),
        ('{"id": "a", "text": "x", "gold": {"bme": "absent"}}\n' * 2, "bad.jsonl:2: duplicate id"),
        ('{"id": 3, "text": "x", "gold": {"bme": "absent"}}\n', "bad.jsonl:1: needs string"),
        ("\n", "bad.jsonl: no reports"),
    ],
)
def test_bad_gold_files_give_one_line_and_exit_2(
    tmp_path: Path, content: str, message: str
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content, encoding="utf-8")
    result = CliRunner().invoke(main, ["eval", str(bad)])
    assert result.exit_code == 2
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_unknown_measure_is_a_usage_error(tmp_path: Path) -> None:
    gold = _write(tmp_path / "local.jsonl", GOLD)
    result = CliRunner().invoke(main, ["eval", str(gold), "--min", "speed=1"])
    assert result.exit_code == 2
    assert "unknown measure 'speed'" in result.output


def _score_py_lines(shared_dir: Path, gold: Path, out: Path) -> list[str]:
    run = subprocess.run(
        [sys.executable, str(shared_dir / "tools" / "score.py"), str(gold), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return run.stdout.strip().splitlines()


@pytest.mark.shared
@pytest.mark.parametrize("corpus", ["real_dev.jsonl", "dev_de.jsonl"])
def test_same_figures_as_score_py(shared_dir: Path, tmp_path: Path, corpus: str) -> None:
    gold = shared_dir / "corpus" / corpus
    rows = {json.loads(x)["id"]: json.loads(x) for x in gold.read_text().splitlines() if x}
    out = tmp_path / "out.jsonl"
    outputs = {
        rid: annotate(r["text"], procedure=r.get("procedure")).to_json_dict(rid)
        for rid, r in rows.items()
    }
    out.write_text("".join(json.dumps(o) + "\n" for o in outputs.values()), encoding="utf-8")
    assert score(rows, outputs).lines() == _score_py_lines(shared_dir, gold, out)
    result = CliRunner().invoke(main, ["eval", str(gold)])
    assert result.output.splitlines()[1:] == _score_py_lines(shared_dir, gold, out)


@pytest.mark.shared
def test_score_agrees_with_score_py_on_imperfect_output(shared_dir: Path, tmp_path: Path) -> None:
    """Missing reports, wrong sides, bad offsets and empty suggestions count the same way."""
    rows = {r["id"]: r for r in GOLD}
    outputs = {
        "t-1": {
            "bme": "present",
            "sites": [{"bone": "medial_femoral_condyle", "laterality": "left"}],
            "etiology": ["trauma"],
            "flags": [{"code": "BME", "priority": "routine", "suggestion": " "}],
            "mentions": [{"start": 0, "end": 3, "text": "xyz"}],
        },
        "t-2": {"bme": "possible", "flags": [{"code": "BME_POSSIBLE", "priority": "high"}]},
    }
    gold, out = (
        _write(tmp_path / "g.jsonl", GOLD),
        _write(tmp_path / "o.jsonl", list({"id": k, **v} for k, v in outputs.items())),
    )
    assert score(rows, outputs).lines() == _score_py_lines(shared_dir, gold, out)[:-1]


def test_fixture_corpus_scores_through_eval() -> None:
    result = CliRunner().invoke(main, ["eval", str(FIXTURES / "styles_en.jsonl"), "--json"])
    figures = json.loads(result.output)["corpora"][0]["figures"]
    assert figures["reports"] >= 200 and figures["status_acc"] >= 0.95
