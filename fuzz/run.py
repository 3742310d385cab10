"""Run one fuzz target under Atheris for a bounded time; print how many inputs it ran.

    python -m fuzz.run TARGET [--seconds 10] [--artifacts DIR]

Exit status 0: no crash, no input slower than --slow seconds. Otherwise libFuzzer
has written the input to DIR (crash-*, timeout-*, slow-unit-*): add it to
tests/fixtures/fuzz/TARGET/ as a regression input once fixed.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

MAX_LEN = {"mllp": 4096, "header": 4096, "extract": 16384, "annotate": 2000}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz.run")
    parser.add_argument("target", choices=sorted(MAX_LEN))
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--slow", type=int, default=10, help="an input slower than this fails")
    parser.add_argument("--artifacts", type=Path, default=Path("fuzz-artifacts"))
    args = parser.parse_args(argv)

    import atheris

    with atheris.instrument_imports(include=["hl7", "nlp", "fuzz"]):
        from fuzz import seeds, targets

    target = targets.TARGETS[args.target]
    if args.target == "annotate":
        import nlp

        nlp.annotate("warm-up: build the pipelines before the clock runs")
        nlp.annotate("Knochenmarködem im Femurkondylus.", language="de")
    args.artifacts.mkdir(parents=True, exist_ok=True)
    # libFuzzer adds what it finds to the corpus dir and exits from C when done, so the
    # corpus lives beside the artifacts (the caller's dir), fresh each run.
    corpus = args.artifacts / f"corpus-{args.target}"
    shutil.rmtree(corpus, ignore_errors=True)
    corpus.mkdir()
    for index, seed in enumerate(seeds.seeds(args.target)):
        (corpus / f"seed-{index:04d}").write_bytes(seed)
    libfuzzer_args = [
        sys.argv[0],
        str(corpus),
        f"-max_total_time={args.seconds}",
        f"-timeout={args.slow}",
        f"-max_len={MAX_LEN[args.target]}",
        "-rss_limit_mb=2048",
        "-print_final_stats=1",
        f"-artifact_prefix={args.artifacts.resolve()}/{args.target}-",
    ]
    atheris.Setup(libfuzzer_args, target)
    atheris.Fuzz()  # exits the process when the time is up or on a crash
    return 0


if __name__ == "__main__":
    sys.exit(main())
