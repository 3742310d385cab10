"""Backfill: running radflag over an archive of reports (`radflag backfill`, docs/backfill.md).

The pure parts live here (reading the input files into items with stable
dedupe keys, batching, the rate limiter, the progress meter, the summary);
worker/backfill_*.py and worker/cli/backfill.py do the I/O with Redis, the
store and the Celery workers.
"""
