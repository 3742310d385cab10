"""Reports per second on one core: radflag's pipeline, medspaCy's default, the bare tokenizer.

    python -m bench.nlp --corpus ../shared/corpus/dev.jsonl [--repeat 5]

All run in one process over the same texts, each warmed up first, best of
`--repeat` passes taken in turns (load from other processes hits all alike).
"radflag annotate" is the whole `nlp.annotate` (pipeline plus report logic);
"radflag pipeline" is the spaCy pipeline alone. medspaCy's
default is `medspacy.load()` (PyRuSH sentences, target matcher, ConText,
default rules) with the same BME target rules added to its target matcher.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _texts(corpus: Path) -> list[tuple[str, str | None]]:
    rows = []
    for line in corpus.read_text(encoding="utf-8").splitlines():
        if line.strip():
            obj = json.loads(line)
            rows.append((obj["text"], obj.get("procedure")))
    return rows


def _best_seconds(runs: dict[str, Callable[[], Any]], repeat: int) -> dict[str, float]:
    """Best time of `repeat` passes for each run, the passes taken in turns.

    Taking turns (a pass of each, then again) spreads load from other
    processes over all contenders instead of skewing whichever ran during it;
    a garbage collection before each pass keeps one run's garbage off the next.
    """
    for run in runs.values():
        run()  # warm-up: builds caches, first-call costs
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):
        for name, run in runs.items():
            gc.collect()
            t0 = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def _medspacy_default(language: str = "en") -> Any:
    # PyRuSH logs every token at DEBUG through loguru; silence it so we time the
    # pipeline, not the logging.
    try:
        from loguru import logger

        logger.remove()
        logger.add(sys.stderr, level="WARNING")
    except ImportError:
        pass
    logging.getLogger("PyRuSH").setLevel(logging.WARNING)
    import medspacy
    from medspacy.target_matcher import TargetRule

    from nlp.ruleset import load_ruleset

    nlp = medspacy.load()
    rules = [
        TargetRule(t.literal, t.category, pattern=list(t.pattern) if t.pattern else None)
        for t in load_ruleset(language).targets
        if t.category == "BME" and t.regex is None
    ]
    nlp.get_pipe("medspacy_target_matcher").add(rules)
    return nlp


def measure(corpus: Path, repeat: int, language: str = "en") -> list[tuple[str, float]]:
    """(name, seconds per pass over the corpus) for each contender."""
    import spacy

    import nlp as radflag_nlp
    from nlp.pipeline import build_pipeline

    rows = _texts(corpus)
    texts = [t for t, _ in rows]
    pipeline = build_pipeline(language)
    tokenizer = spacy.blank(language).tokenizer
    medspacy_nlp = _medspacy_default(language)
    runs: dict[str, Callable[[], Any]] = {
        "radflag annotate": lambda: [radflag_nlp.annotate(t, p, language) for t, p in rows],
        "radflag pipeline": lambda: [pipeline(t) for t in texts],
        "medspaCy default": lambda: [medspacy_nlp(t) for t in texts],
        "spaCy tokenizer": lambda: [tokenizer(t) for t in texts],
    }
    return list(_best_seconds(runs, repeat).items())


def table(results: list[tuple[str, float]], reports: int) -> str:
    """The results as a text table with ratios to radflag annotate and to the tokenizer."""
    seconds = dict(results)
    ours = seconds["radflag annotate"]
    tok = seconds["spaCy tokenizer"]
    lines = [
        f"{'pipeline':18s} {'reports/s':>10s} {'ms/report':>10s} "
        f"{'vs radflag':>11s} {'x tokenizer':>12s}",
    ]
    for name, s in results:
        lines.append(
            f"{name:18s} {reports / s:10.0f} {1000 * s / reports:10.2f} "
            f"{s / ours:10.2f}x {s / tok:11.2f}x"
        )
    lines.append(
        f"radflag is {seconds['medspaCy default'] / ours:.1f}x faster than medspaCy's default "
        f"(target >= 10x) and takes {ours / tok:.2f}x the tokenizer's time (target <= 3x)."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, required=True, help="English corpus (JSONL)")
    ap.add_argument("--corpus-de", type=Path, help="German corpus (JSONL)")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    per_char: dict[str, float] = {}
    for language, corpus in (("en", args.corpus), ("de", args.corpus_de)):
        if corpus is None:
            continue
        results = measure(corpus, args.repeat, language)
        rows = _texts(corpus)
        print(f"[{language}] {len(rows)} reports from {corpus}, one core, best of {args.repeat}")
        print(table(results, len(rows)))
        chars = sum(len(t) for t, _ in rows)
        per_char[language] = dict(results)["radflag annotate"] / chars
    if len(per_char) == 2:
        ratio = per_char["de"] / per_char["en"]
        print(
            f"German takes {ratio:.2f}x English's time per character of report "
            f"(target <= 1.5x): {1e6 * per_char['de']:.2f} vs {1e6 * per_char['en']:.2f} us/char."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
