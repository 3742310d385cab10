"""Logging for the service processes: one line per event on stdout, tagged by component.

Lines carry control ids and accession numbers, never report text or patient data
(the modules that log take care of that; this only formats).
"""

from __future__ import annotations

import logging
import sys

FORMAT = "%(asctime)s %(levelname)s [{component} %(process)d] %(name)s: %(message)s"


def setup_logging(level: str, component: str) -> None:
    """Send radflag's logs to stdout at `level`, prefixed with `component` and the pid."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(FORMAT.format(component=component)))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Client libraries are chatty at INFO about connections; their warnings still show.
    for noisy in ("kombu", "amqp", "urllib3"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
