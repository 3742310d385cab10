"""The backfill's throughput against what the annotator alone could do on the same cores.

    python -m bench.backfill --reports 100000 [--workers N] [--json]

1. Generates N synthetic reports as JSON Lines (the texts of --corpus, each
   report another id, accession and patient), in the work dir.
2. NLP only: `nlp.annotate` over the texts in this process, one core, after a
   warm-up (both pipelines built first): reports/s.
3. Backfill: a real redis-server, a `radflag worker --queues backfill` with W
   pool processes (default: every core), a SQLite store (or --database-url),
   and `radflag backfill FILE --workers 0` (the workers are started and ready
   before the clock starts, so the rate is the steady one; the command's
   own wall time, reading and checking the file included, is shown too).

Prints reports/s, the time per 100,000 reports, and the ratio to NLP-only x W
(1.0 would mean the whole path costs nothing beyond the annotator). The
machine's cores are shared by the generator, the command, Redis and the
store, so the figure is a floor.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from itertools import cycle, islice
from pathlib import Path
from typing import Any

from tests.servers import ROOT, RadflagProcess, service_env, start_redis

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "dev.jsonl"
CODE = "import sys; from worker.cli import main; sys.exit(main(prog_name='radflag'))"


def load_texts(corpus: Path) -> list[dict[str, Any]]:
    lines = corpus.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def write_reports(path: Path, corpus: list[dict[str, Any]], count: int, tag: str) -> None:
    """`count` reports over the corpus's texts, each another id, accession and patient."""
    with path.open("w", encoding="utf-8") as out:
        for n, item in enumerate(islice(cycle(corpus), count)):
            report = {"id": f"{tag}-{n:07d}", "text": item["text"], "patient_id": f"{tag}-P{n}"}
            if item.get("procedure"):
                report["procedure"] = item["procedure"]
            out.write(json.dumps(report) + "\n")


def nlp_rate(corpus: list[dict[str, Any]], count: int) -> float:
    """Reports per second of `nlp.annotate` alone, one core, pipelines built beforehand."""
    import nlp
    from nlp.pipeline import build_pipeline
    from nlp.ruleset import available_languages

    for language in available_languages():
        build_pipeline(language)
    for item in corpus[:10]:  # warm-up
        nlp.annotate(item["text"], procedure=item.get("procedure"))
    texts = list(islice(cycle(corpus), count))
    started = time.perf_counter()
    for item in texts:
        nlp.annotate(item["text"], procedure=item.get("procedure"))
    return count / (time.perf_counter() - started)


def backfill_rate(
    base: Path, reports: Path, workers: int, batch_size: int, database_url: str | None
) -> dict[str, Any]:
    """Run the backfill of `reports` on W ready workers; the command's summary and wall time."""
    redis = start_redis(base / "redis")
    worker = None
    try:
        env = service_env(base / "data", redis.url, database_url=database_url)
        worker = RadflagProcess(
            "worker", ["worker", "--queues", "backfill"],
            dict(env, RADFLAG_CONCURRENCY=str(workers)), base / "worker.log",
        ).start()  # fmt: skip
        worker.wait_for_log(" ready.", timeout=300)
        started = time.perf_counter()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = subprocess.run(
            [sys.executable, "-c", CODE, "backfill", str(reports), "--workers", "0", "--json",
             "--batch-size", str(batch_size)],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=24 * 3600,
        )  # fmt: skip
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the command only: it has exited
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if result.returncode != 0:
            raise SystemExit(f"backfill failed ({result.returncode}): {result.stderr[-2000:]}")
        summary: dict[str, Any] = json.loads(result.stdout)
        summary["wall_s"] = round(wall, 3)
        summary["cpu_s"] = round(cpu, 3)
        return summary
    finally:
        if worker is not None:
            worker.stop()
        redis.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--nlp-reports", type=int, default=2000, help="for the NLP-only rate")
    parser.add_argument("--database-url", help="store (default: SQLite in the work dir)")
    parser.add_argument(
        "--postgres", action="store_true", help="store in a throw-away PostgreSQL (tests/pg.py)"
    )
    parser.add_argument("--workdir", type=Path, help="keep data and logs here (default: temp)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.reports < 1 or args.workers < 1:
        parser.error("--reports and --workers must be at least 1")
    if not args.corpus.is_file():
        parser.error(f"no corpus at {args.corpus}")
    corpus = load_texts(args.corpus)
    base = args.workdir or Path(tempfile.mkdtemp(prefix="radflag-bench-backfill-"))
    base.mkdir(parents=True, exist_ok=True)
    try:
        reports = base / "reports.jsonl"
        write_reports(reports, corpus, args.reports, f"BENCH{time.time_ns() % 10**9}")
        nlp = nlp_rate(corpus, min(args.nlp_reports, args.reports))
        with contextlib.ExitStack() as stack:
            database_url = args.database_url
            if args.postgres:
                from tests.pg import running_postgres

                database_url = stack.enter_context(running_postgres()).create_database()
            summary = backfill_rate(base, reports, args.workers, args.batch_size, database_url)
    finally:
        if args.workdir is None:
            shutil.rmtree(base, ignore_errors=True)
    rate = summary["reports_per_s"]
    figures = {
        "reports": args.reports,
        "workers": args.workers,
        "cores": os.cpu_count(),
        "batch_size": args.batch_size,
        "store": "postgresql" if args.postgres or args.database_url else "sqlite",
        "nlp_only_per_s_one_core": round(nlp, 1),
        "nlp_only_x_workers_per_s": round(nlp * args.workers, 1),
        "backfill_per_s": rate,
        "backfill_s_per_100k": round(100_000 / rate, 1) if rate else None,
        "ratio_to_nlp_x_workers": round(rate / (nlp * args.workers), 3) if nlp else None,
        "command_wall_s": summary["wall_s"],
        "command_cpu_s": summary["cpu_s"],  # the submitter's own cost (reading, batching, polling)
        "annotated": summary["annotated"],
        "failed": summary["failed"],
        "unprocessable": summary["unprocessable"],
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    for name, value in figures.items():
        print(f"  {name:<28} {value}")


if __name__ == "__main__":
    main()
