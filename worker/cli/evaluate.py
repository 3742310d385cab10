"""`radflag eval GOLD.jsonl... [--errors] [--json] [--min NAME=VALUE]`: annotate and score.

For a hospital validating radflag on its own labelled reports before go-live:
the gold files are in the contract's corpus format (`{"id", "text",
"procedure"?, "gold": {"bme", "sites", "etiology", "flags"}}`), the figures are
those of `shared/tools/score.py`, line for line, and `--errors` lists every
report that differs, with its mentions, as a table on a terminal (JSON with
`--json`). Exit 0, 1 when a `--min` threshold is not met, 2 on unusable input.
"""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
from pathlib import Path
from typing import Any

import click

from nlp.evaluation import FIGURES, Difference, Scores, score
from worker.cli.base import main

BME_STATUSES = ("present", "possible", "absent")


class GoldError(Exception):
    """A gold file that cannot be used; the message names the file and line."""


def read_gold(path: Path) -> dict[str, dict[str, Any]]:
    """id -> corpus row; raises GoldError naming the file and line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as e:
        raise GoldError(f"{path}: no such file") from e
    except (OSError, UnicodeDecodeError) as e:
        raise GoldError(f"{path}: cannot read ({e.__class__.__name__})") from e
    rows: dict[str, dict[str, Any]] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise GoldError(f"{where}: not JSON ({e.msg})") from e
        if not isinstance(obj, dict):
            raise GoldError(f"{where}: expected an object with id, text and gold")
        rid, text, gold = obj.get("id"), obj.get("text"), obj.get("gold")
        if not isinstance(rid, str) or not isinstance(text, str):
            raise GoldError(f"{where}: needs string fields id and text")
        if rid in rows:
            raise GoldError(f"{where}: duplicate id {rid!r}")
        if not isinstance(gold, dict) or gold.get("bme") not in BME_STATUSES:
            raise GoldError(f"{where}: gold.bme must be one of {', '.join(BME_STATUSES)}")
        for key in ("sites", "etiology", "flags"):
            if not isinstance(gold.get(key, []), list):
                raise GoldError(f"{where}: gold.{key} must be a list")
        procedure = obj.get("procedure")
        if procedure is not None and not isinstance(procedure, str):
            raise GoldError(f"{where}: procedure must be a string")
        rows[rid] = obj
    if not rows:
        raise GoldError(f"{path}: no reports")
    return rows


def parse_minimums(values: tuple[str, ...]) -> dict[str, float]:
    out = {}
    for value in values:
        name, _, number = value.partition("=")
        if name not in FIGURES:
            raise click.BadParameter(f"unknown measure {name!r} (one of {', '.join(FIGURES)})")
        try:
            out[name] = float(number)
        except ValueError as e:
            raise click.BadParameter(f"{value!r}: expected NAME=NUMBER") from e
    return out


def annotate_rows(rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    from nlp import annotate

    return {
        rid: annotate(
            row["text"], procedure=row.get("procedure"), language=row.get("language")
        ).to_json_dict(rid)
        for rid, row in rows.items()
    }


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "-"
    return "-" if value is None else str(value)


def error_table(differences: list[Difference], width: int) -> list[str]:
    """The differing reports as a table people read: one block per report."""
    if not differences:
        return ["no report differs"]
    col = max(12, (width - 24) // 2)
    out = [f"{'report / field':22s}  {'expected':{col}s}  got", "-" * min(width, 24 + 2 * col)]
    for d in differences:
        first = True
        for name, (expected, got) in d.fields.items():
            left = d.report_id if first else ""
            exp = textwrap.wrap(_cell(expected), col) or ["-"]
            got_lines = textwrap.wrap(_cell(got), col) or ["-"]
            for i in range(max(len(exp), len(got_lines))):
                label = f"{left[:12]:12s} {name:9s}" if i == 0 else ""
                e = exp[i] if i < len(exp) else ""
                g = got_lines[i] if i < len(got_lines) else ""
                out.append(f"{label:22s}  {e:{col}s}  {g}")
            first = False
        for m in d.mentions:
            bones = ",".join(m.get("bones") or []) or "no bone"
            side = f" {m['laterality']}" if m.get("laterality") else ""
            out.append(
                f"{'':22s}  mention {m.get('text')!r} @{m.get('start')}: {m.get('status')}, "
                f"{m.get('section') or 'no section'}, {bones}{side}"
            )
        if not d.mentions:
            out.append(f"{'':22s}  (no mention found)")
        out.append("")
    return out


@main.command("eval")
@click.argument("gold_files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--errors", is_flag=True, help="List every report that differs from its gold label.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object with every figure.")
@click.option(
    "--min",
    "minimums",
    multiple=True,
    metavar="NAME=VALUE",
    help=f"Fail (exit 1) below this figure; NAME is one of {', '.join(FIGURES[2:9])}.",
)
def eval_command(
    gold_files: tuple[Path, ...], errors: bool, as_json: bool, minimums: tuple[str, ...]
) -> None:
    """Annotate labelled reports (the contract's corpus format) and score them.

    The figures are those of shared/tools/score.py. Exit 1 when a --min
    threshold is not met, 2 when a file cannot be used.
    """
    from nlp.errors import NlpError

    try:
        wanted = parse_minimums(minimums)
        corpora = [(path, read_gold(path)) for path in gold_files]
        results: list[tuple[Path, Scores]] = []
        for path, rows in corpora:
            results.append((path, score(rows, annotate_rows(rows))))
    except (GoldError, NlpError, click.BadParameter) as e:
        click.echo(
            f"radflag eval: {e.message if isinstance(e, click.BadParameter) else e}", err=True
        )
        sys.exit(2)
    failed = False
    if as_json:
        out = []
        for path, s in results:
            short = s.shortfalls(wanted)
            failed = failed or bool(short)
            entry: dict[str, Any] = {
                "file": str(path),
                "figures": s.figures,
                "precision_recall": {
                    k: dict(zip(("precision", "recall", "f1"), c.value(), strict=True))
                    for k, c in s.counts.items()
                },
                "mentions": s.mentions,
                "short": short,
            }
            if errors:
                entry["errors"] = [d.to_json_dict() for d in s.differences]
            out.append(entry)
        click.echo(json.dumps({"corpora": out}, indent=2))
    else:
        width = shutil.get_terminal_size((120, 24)).columns
        for n, (path, s) in enumerate(results):
            if n:
                click.echo()
            click.echo(f"== {path} ({s.reports} reports)")
            for line in s.lines():
                click.echo(line)
            short = s.shortfalls(wanted)
            if short:
                failed = True
                click.echo("short: " + "; ".join(short))
            if errors:
                click.echo()
                for line in error_table(s.differences, width):
                    click.echo(line)
    sys.exit(1 if failed else 0)


__all__ = ["GoldError", "eval_command", "read_gold"]
