"""`python -m tests.chaos` (`make chaos`): the full chaos suite, or a chosen part; prints the table.

python -m tests.chaos                       # full: 2,000 msgs per scenario at 50/s,
                                            # store down 300 s, Redis killed 20 times
python -m tests.chaos --short               # what `make test` runs
python -m tests.chaos --only RKIL,STOR --messages 500
"""

from __future__ import annotations

import argparse
import sys

from tests.chaos.harness import Outcome
from tests.chaos.scenarios import print_table, run_suite


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos")
    parser.add_argument("--short", action="store_true", help="the CI form")
    parser.add_argument("--messages", type=int, help="per scenario")
    parser.add_argument("--rate", type=float, help="messages per second")
    parser.add_argument("--redis-kills", type=int, help="extra Redis-kill runs under load")
    parser.add_argument("--store-outage", type=float, help="seconds the store is down")
    parser.add_argument("--only", help="comma-separated scenario codes (e.g. RKIL,STOR)")
    args = parser.parse_args()
    short = args.short
    messages = args.messages or (60 if short else 2000)
    rate = args.rate or (20.0 if short else 50.0)
    kills = args.redis_kills if args.redis_kills is not None else (0 if short else 20)
    outage = args.store_outage or (15.0 if short else 300.0)
    only = set(args.only.split(",")) if args.only else None

    def report(outcome: Outcome) -> None:
        print(" | ".join(outcome.cells()) + (f"  ({outcome.note})" if outcome.note else ""),
              flush=True)  # fmt: skip

    print(f"chaos: {messages} messages per scenario at {rate:g}/s", flush=True)
    outcomes = run_suite(short=short, messages=messages, rate=rate, redis_kills=kills,
                         store_outage=outage, only=only, report=report)  # fmt: skip
    print()
    print_table(outcomes)
    lost = sum(o.lost for o in outcomes)
    print(f"\nacknowledged but lost, all scenarios: {lost}")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
