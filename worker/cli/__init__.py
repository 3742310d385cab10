"""`radflag` console command: importing the command modules registers their commands."""

from worker.cli import accounts as _accounts  # noqa: F401
from worker.cli import annotate as _annotate  # noqa: F401
from worker.cli import backfill as _backfill  # noqa: F401
from worker.cli import evaluate as _evaluate  # noqa: F401
from worker.cli import followups as _followups  # noqa: F401
from worker.cli import messages as _messages  # noqa: F401
from worker.cli import ops as _ops  # noqa: F401
from worker.cli import service as _service  # noqa: F401
from worker.cli.base import main

__all__ = ["main"]
