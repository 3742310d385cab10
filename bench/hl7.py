"""Messages per second for the HL7 layer, against hl7apy's full parse as the baseline.

    python -m bench.hl7 --corpus ../shared/corpus/dev.jsonl [--seconds 1.0]

Every corpus report is wrapped as ORU^R01 (one OBX per line, one FT, `~`
repetitions, OBX-3 section suffixes) and as MDM^T02; each operation runs over
all of them for about `--seconds`.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from hl7.ack import build_ack
from hl7.extract import extract_report
from hl7.header import parse_header
from hl7.mllp import FrameDecoder, encode_frame
from hl7.result import build_result
from nlp.model import Annotation, Flag, Site
from tests.hl7.messages import STYLES, wrap_mdm, wrap_oru

CLOCK = datetime(2026, 1, 1, tzinfo=UTC)
ANNOTATION = Annotation(
    bme="present",
    sites=(Site("medial_femoral_condyle", "left"),),
    etiology=("overload",),
    flags=(
        Flag("BME", "routine", "Consider follow-up MRI.", ("Bone marrow edema.",)),
        Flag("TRAUMA_OVERLOAD", "routine", "Consider offloading.", ("Stress reaction.",)),
    ),
)


def corpus_messages(path: Path) -> list[bytes]:
    """Every report wrapped in every style."""
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    messages = []
    for record in records:
        for style in STYLES:
            messages.append(wrap_oru(record["text"], record.get("procedure"), style))
        messages.append(wrap_mdm(record["text"]))
    return messages


def rate(operation: Callable[[bytes], object], messages: list[bytes], seconds: float) -> float:
    """Messages per second, over whole passes (at least one) until `seconds` have passed."""
    done = 0
    start = time.perf_counter()
    while True:
        for message in messages:
            operation(message)
        done += len(messages)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return done / elapsed


def hl7apy_full(message: bytes) -> object:
    return parse_message(
        message.decode("utf-8"), find_groups=True, validation_level=VALIDATION_LEVEL.TOLERANT
    )


def mllp_decode(message: bytes) -> object:
    return FrameDecoder(1 << 20).feed(encode_frame(message))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--baseline-messages", type=int, default=50)
    args = parser.parse_args(argv)

    messages = corpus_messages(args.corpus)
    reports = {id(m): extract_report(m) for m in messages}
    headers = {id(m): parse_header(m) for m in messages}
    size = sum(len(m) for m in messages) / len(messages)
    operations: list[tuple[str, Callable[[bytes], object], list[bytes]]] = [
        ("hl7apy parse_message (baseline)", hl7apy_full, messages[: args.baseline_messages]),
        ("mllp FrameDecoder.feed", mllp_decode, messages),
        ("header.parse_header", parse_header, messages),
        (
            "ack.build_ack",
            lambda m: build_ack(headers[id(m)], "AA", control_id="1", timestamp=CLOCK),
            messages,
        ),
        ("extract.extract_report", extract_report, messages),
        (
            "result.build_result",
            lambda m: build_result(reports[id(m)], ANNOTATION, control_id="1", timestamp=CLOCK),
            messages,
        ),
    ]
    print(f"{len(messages)} messages, mean {size:.0f} bytes, about {args.seconds:g} s per row\n")
    print(f"| {'operation':<34} | {'messages/s':>11} | {'ms/message':>10} | {'x hl7apy':>8} |")
    print(f"|{'-' * 36}|{'-' * 13}|{'-' * 12}|{'-' * 10}|")
    baseline = None
    for name, operation, sample in operations:
        per_second = rate(operation, sample, args.seconds)
        baseline = baseline or per_second
        print(
            f"| {name:<34} | {per_second:>11,.0f} | {1000 / per_second:>10.3f} "
            f"| {per_second / baseline:>8.0f} |"
        )


if __name__ == "__main__":
    main()
