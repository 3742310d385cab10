"""Seed inputs per target: tests/fixtures, and the regression inputs in tests/fixtures/fuzz."""

from __future__ import annotations

import json
from pathlib import Path

from hl7.mllp import encode_frame

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
REGRESSIONS = FIXTURES / "fuzz"


def _hl7_messages() -> list[bytes]:
    return [p.read_bytes() for p in sorted((FIXTURES / "hl7").glob("*.hl7"))]


def _report_texts(limit: int = 60) -> list[bytes]:
    texts = [p.read_bytes() for p in sorted((FIXTURES / "reports").rglob("*.txt"))]
    for path in sorted((FIXTURES / "reports").rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                texts.append(json.loads(line)["text"].encode("utf-8"))
            except (ValueError, KeyError, TypeError):
                continue  # bad-line.jsonl holds a broken line on purpose
    return texts[:limit]


def seeds(target: str) -> list[bytes]:
    """Starting inputs for `target`, then every regression input saved for it."""
    messages = _hl7_messages()
    if target == "mllp":
        # The first byte picks the read size; then frames, some back to back, some cut.
        found = [bytes([7]) + encode_frame(m[:400]) for m in messages]
        found.append(bytes([3]) + b"junk" + encode_frame(b"MSH|^~\\&|A\r") * 2 + b"\x0bMSH|")
    elif target in ("header", "extract"):
        found = messages
    elif target == "annotate":
        found = _report_texts()
    else:
        raise ValueError(f"unknown fuzz target {target!r}")
    return found + regressions(target)


def regressions(target: str) -> list[bytes]:
    """Inputs that once crashed or were slow, kept under tests/fixtures/fuzz/TARGET/."""
    directory = REGRESSIONS / target
    return [p.read_bytes() for p in sorted(directory.glob("*"))] if directory.is_dir() else []
