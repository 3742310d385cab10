"""Scoring annotations against gold labels in the contract's corpus format.

The measures and their arithmetic are those of `shared/tools/score.py`, the
contract's scorer, figure for figure: `radflag eval` prints the same numbers for
the same output, so a hospital can validate radflag on its own labelled reports
with the command it already has. Pure: dicts in, figures out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

PRIORITY = {None: 0, "routine": 1, "high": 2, "urgent": 3}
FLAG_PRIORITY = {
    "BME": "routine",
    "BME_POSSIBLE": "routine",
    "OSTEONECROSIS_CONCERN": "high",
    "INFECTION_CONCERN": "urgent",
    "TUMOR_CONCERN": "high",
    "REACTIVE": "routine",
    "TRAUMA_OVERLOAD": "routine",
    "TRANSIENT_BME": "routine",
}
# Row labels of the precision/recall table, in score.py's order and spelling.
MEASURE_ROWS = (
    ("bme present", "bme"),
    ("sites (bone, side)", "site"),
    ("bones", "bone"),
    ("etiology", "etiology"),
    ("flags", "flag"),
)
FIGURES = (
    "reports",
    "missing",
    "status_acc",
    "bme_f1",
    "site_f1",
    "bone_f1",
    "etiology_f1",
    "flag_f1",
    "priority_acc",
    "bad_offsets",
    "empty_suggestions",
)


@dataclass
class Counts:
    """True and false positives and negatives of one set-valued measure."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, gold: Iterable[Any], pred: Iterable[Any]) -> None:
        g, p = set(gold), set(pred)
        self.tp += len(g & p)
        self.fp += len(p - g)
        self.fn += len(g - p)

    def value(self) -> tuple[float, float, float]:
        """(precision, recall, F1); 1.0 where nothing was expected or found, as score.py."""
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return p, r, f


@dataclass(frozen=True)
class Difference:
    """One report where the output disagrees with the gold label."""

    report_id: str
    fields: dict[str, tuple[Any, Any]]  # name -> (expected, got)
    mentions: tuple[dict[str, Any], ...]

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "id": self.report_id,
            "differs": {k: {"expected": e, "got": g} for k, (e, g) in self.fields.items()},
            "mentions": list(self.mentions),
        }


@dataclass
class Scores:
    """Every figure of score.py for one corpus, and the reports that differ."""

    counts: dict[str, Counts] = field(
        default_factory=lambda: {k: Counts() for _, k in MEASURE_ROWS}
    )
    reports: int = 0
    missing: int = 0
    status_ok: int = 0
    priority_ok: int = 0
    mentions: int = 0
    bad_offsets: int = 0
    empty_suggestions: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def figures(self) -> dict[str, int | float]:
        n = self.reports or 1
        out: dict[str, int | float] = {
            "reports": self.reports,
            "missing": self.missing,
            "status_acc": self.status_ok / n,
        }
        for _, key in MEASURE_ROWS:
            out[f"{key}_f1"] = self.counts[key].value()[2]
        out.update(
            priority_acc=self.priority_ok / n,
            bad_offsets=self.bad_offsets,
            empty_suggestions=self.empty_suggestions,
        )
        return {k: out[k] for k in FIGURES}

    def lines(self) -> list[str]:
        """The report as score.py prints it (without --errors), line for line."""
        out = []
        for label, key in MEASURE_ROWS:
            p, r, f = self.counts[key].value()
            out.append(f"{label:20s} P {p:.3f}  R {r:.3f}  F1 {f:.3f}")
        figures = self.figures
        out.append(f"{'status accuracy':20s} {figures['status_acc']:.3f}")
        out.append(f"{'priority accuracy':20s} {figures['priority_acc']:.3f}")
        out.append(
            f"mentions {self.mentions}, bad offsets {self.bad_offsets}, "
            f"flags without suggestion {self.empty_suggestions}, missing reports {self.missing}"
        )
        out.append(summary_line(figures))
        return out

    def shortfalls(self, minimums: Mapping[str, float]) -> list[str]:
        """Thresholds not met, and incomplete output, as score.py words them."""
        figures = self.figures
        short = [
            f"{name} {figures[name]:.3f} < {value}"
            for name, value in minimums.items()
            if figures[name] < value
        ]
        if self.missing or self.bad_offsets or self.empty_suggestions:
            short.append("incomplete output")
        return short


def summary_line(figures: Mapping[str, int | float]) -> str:
    return " ".join(
        f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items()
    )


def site_set(obj: Mapping[str, Any], with_side: bool = True) -> set[Any]:
    out: set[Any] = set()
    for s in obj.get("sites") or []:
        if isinstance(s, dict):
            out.add((s.get("bone"), s.get("laterality")) if with_side else s.get("bone"))
    return out


def flag_codes(obj: Mapping[str, Any]) -> set[Any]:
    return {f.get("code") if isinstance(f, dict) else f for f in obj.get("flags") or []}


def top_priority(flags: Iterable[Any] | None) -> str | None:
    best = None
    for f in flags or []:
        p = f.get("priority") if isinstance(f, dict) else None
        if PRIORITY.get(p, 0) > PRIORITY.get(best, 0):
            best = p
    return best


def gold_priority(codes: Iterable[str]) -> str | None:
    return top_priority([{"priority": FLAG_PRIORITY.get(c)} for c in codes])


def _sorted_sites(sites: set[Any]) -> list[str]:
    return sorted(f"{bone}/{side}" if side else str(bone) for bone, side in sites)


def score(gold: Mapping[str, Mapping[str, Any]], output: Mapping[str, Mapping[str, Any]]) -> Scores:
    """Score `output` (id -> annotation JSON) against `gold` (id -> corpus row)."""
    s = Scores()
    for rid, row in gold.items():
        g = row["gold"]
        o = output.get(rid)
        s.reports += 1
        if o is None:
            s.missing += 1
            o = {}
        if o.get("bme") == g["bme"]:
            s.status_ok += 1
        s.counts["bme"].add(
            {"bme"} if g["bme"] == "present" else set(),
            {"bme"} if o.get("bme") == "present" else set(),
        )
        s.counts["site"].add(site_set(g), site_set(o))
        s.counts["bone"].add(site_set(g, False), site_set(o, False))
        s.counts["etiology"].add(g.get("etiology") or [], o.get("etiology") or [])
        s.counts["flag"].add(g.get("flags") or [], flag_codes(o))
        if top_priority(o.get("flags")) == gold_priority(g.get("flags") or []):
            s.priority_ok += 1
        for f in o.get("flags") or []:
            if isinstance(f, dict) and not (f.get("suggestion") or "").strip():
                s.empty_suggestions += 1
        text = row.get("text", "")
        for m in o.get("mentions") or []:
            s.mentions += 1
            start, end = m.get("start"), m.get("end")
            if not (
                isinstance(start, int) and isinstance(end, int) and text[start:end] == m.get("text")
            ):
                s.bad_offsets += 1
        fields = {
            name: (expected, got)
            for name, expected, got in (
                ("bme", g["bme"], o.get("bme")),
                ("sites", _sorted_sites(site_set(g)), _sorted_sites(site_set(o))),
                ("etiology", sorted(g.get("etiology") or []), sorted(o.get("etiology") or [])),
                ("flags", sorted(g.get("flags") or []), sorted(flag_codes(o))),
            )
            if expected != got
        }
        if fields:
            mentions = tuple(
                {k: m.get(k) for k in ("text", "start", "status", "section", "bones", "laterality")}
                for m in o.get("mentions") or []
            )
            s.differences.append(Difference(rid, fields, mentions))
    return s


__all__ = [
    "FIGURES",
    "Counts",
    "Difference",
    "Scores",
    "flag_codes",
    "gold_priority",
    "score",
    "site_set",
    "summary_line",
    "top_priority",
]
