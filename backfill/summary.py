"""What a batch of a backfill came to, and what the whole run did.

A batch task reports a `BatchReport` (counts only: reasons are HL7 error codes
and fixed texts, flags are codes, never report text); the command adds them up
in a `Summary` with what it skipped itself and what it sent.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class BatchReport:
    """The outcome of one batch task."""

    batch_id: str
    annotated: int = 0
    skipped: int = 0  # already in the store when the task looked
    unprocessable: Counter[str] = field(default_factory=Counter)  # reason -> count
    failed: Counter[str] = field(default_factory=Counter)  # reason -> count
    flags: Counter[str] = field(default_factory=Counter)  # flag code -> reports
    annotated_keys: list[str] = field(default_factory=list)  # for --send
    followups_untracked: int = 0  # recommendations whose window had ended: not tracked

    @property
    def items(self) -> int:
        return (
            self.annotated + self.skipped + sum(self.unprocessable.values())
            + sum(self.failed.values())
        )  # fmt: skip

    def to_json(self) -> str:
        return json.dumps(
            {
                "batch_id": self.batch_id,
                "annotated": self.annotated,
                "skipped": self.skipped,
                "unprocessable": dict(self.unprocessable),
                "failed": dict(self.failed),
                "flags": dict(self.flags),
                "annotated_keys": self.annotated_keys,
                "followups_untracked": self.followups_untracked,
            }
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> BatchReport:
        data: dict[str, Any] = json.loads(text)
        return cls(
            batch_id=str(data["batch_id"]),
            annotated=int(data.get("annotated", 0)),
            skipped=int(data.get("skipped", 0)),
            unprocessable=Counter(data.get("unprocessable", {})),
            failed=Counter(data.get("failed", {})),
            flags=Counter(data.get("flags", {})),
            annotated_keys=list(data.get("annotated_keys", [])),
            followups_untracked=int(data.get("followups_untracked", 0)),
        )


@dataclass
class Summary:
    """A run of `radflag backfill` (one invocation; a resumed run counts what it skipped)."""

    items: int = 0
    skipped_done: int = 0  # in the store already (earlier runs, or a repeat)
    annotated: int = 0
    unprocessable: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    flags: Counter[str] = field(default_factory=Counter)
    followups_untracked: int = 0
    sent: int = 0
    not_sent: int = 0  # --send gave up waiting for the deliver queue
    elapsed: float = 0.0
    interrupted: bool = False

    def add(self, report: BatchReport) -> None:
        self.annotated += report.annotated
        self.skipped_done += report.skipped
        self.unprocessable.update(report.unprocessable)
        self.failed.update(report.failed)
        self.flags.update(report.flags)
        self.followups_untracked += report.followups_untracked

    @property
    def finished(self) -> int:
        return (
            self.skipped_done + self.annotated + sum(self.unprocessable.values())
            + sum(self.failed.values())
        )  # fmt: skip

    @property
    def rate(self) -> float:
        """Reports annotated per second of this run."""
        return self.annotated / self.elapsed if self.elapsed > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "annotated": self.annotated,
            "skipped_done": self.skipped_done,
            "unprocessable": sum(self.unprocessable.values()),
            "unprocessable_reasons": dict(self.unprocessable),
            "failed": sum(self.failed.values()),
            "failed_reasons": dict(self.failed),
            "not_finished": max(0, self.items - self.finished),
            "flags": dict(self.flags),
            "followups_untracked": self.followups_untracked,
            "sent": self.sent,
            "not_sent": self.not_sent,
            "elapsed_s": round(self.elapsed, 3),
            "reports_per_s": round(self.rate, 1),
            "interrupted": self.interrupted,
        }

    def lines(self) -> list[str]:
        """The summary for people, one fact per line."""
        out = [
            f"items          {self.items:,}",
            f"annotated      {self.annotated:,}",
            f"skipped (done) {self.skipped_done:,}",
            f"unprocessable  {sum(self.unprocessable.values()):,}",
            *(f"  {n:,}  {reason}" for reason, n in self.unprocessable.most_common()),
            f"failed         {sum(self.failed.values()):,}",
            *(f"  {n:,}  {reason}" for reason, n in self.failed.most_common()),
        ]
        left = self.items - self.finished
        if left > 0:
            out.append(f"not finished   {left:,} (run the same command again to resume)")
        out.append(f"sent           {self.sent:,}")
        if self.not_sent:
            out.append(
                f"not sent       {self.not_sent:,} (the deliver queue did not drain; "
                "run again with --send)"
            )
        out.append(f"elapsed        {self.elapsed:.1f} s, {self.rate:.1f} reports/s annotated")
        flags = ", ".join(f"{code} {n:,}" for code, n in sorted(self.flags.items()))
        out.append(f"flags          {flags or 'none'}")
        if self.followups_untracked:
            out.append(
                f"follow-ups     {self.followups_untracked:,} not tracked: their window had "
                "ended (in the results, not in the worklist)"
            )
        return out
