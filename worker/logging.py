"""Logging for the service processes: one line per event on stdout, tagged by component.

Strategy: one root handler per process, set up here, and every library's
records (Celery's, kombu's, uvicorn's) propagate to it, so all lines of a
process share one format: text (`FORMAT`) or JSON (one object per line, keys
`ts level component pid logger message`). Celery is told not to touch the root
logger (`worker_hijack_root_logger=False` and the `setup_logging` signal) and
uvicorn gets no log config of its own. `radflag run` also copies every child's
lines into a rotating file in the data dir (`LogFile`), written by the
supervisor alone, so that rotation never races between processes.

Lines carry control ids and accession numbers, never report text or patient data
(the modules that log take care of that; this only formats).

Log injection (issue 15, item 9): control ids, accession numbers, peer
addresses and error texts come from senders, and a newline in one forged a
whole log line, an ANSI escape repainted the terminal. Every message is
escaped here, in one place, whoever logs it (`escape`, used by both
formatters): C0 and C1 control characters, DEL, the Unicode line and
paragraph separators and the bidirectional overrides become visible escapes
(`\n`, `\x1b`, `\u2028`), so one event is one line and shows what was sent.
Tracebacks (exc_info) are ours and keep their lines.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import re
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s [{component} %(process)d] %(name)s: %(message)s"
LOG_FILE_NAME = "radflag.log"

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}
_UNSAFE = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]
_UNICODE = [0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_ESCAPES: dict[int, str] = {
    **{code: f"\\x{code:02x}" for code in _UNSAFE},
    **{code: f"\\u{code:04x}" for code in _UNICODE},
    **{ord(char): text for char, text in _NAMED.items()},
}


def escape(text: str) -> str:
    """`text` with every character that could break or repaint a log line made visible."""
    if text.isprintable() and "\\" not in text:
        return text  # most lines: every character `_ESCAPES` names is not printable but "\\"
    return text.translate(_ESCAPES)


def safe_message(record: logging.LogRecord) -> str:
    """The record's message, escaped; a broken %-format shows as such, never raises."""
    try:
        message = record.getMessage()
    except (TypeError, ValueError):
        message = f"{record.msg!r} % {record.args!r}"
    return escape(message)


class JsonFormatter(logging.Formatter):
    """One JSON object per record; exceptions as their formatted text under `exc`."""

    def __init__(self, component: str) -> None:
        super().__init__()
        self.component = component

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "component": self.component,
            "pid": record.process,
            "logger": record.name,
            "message": safe_message(record),
        }
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """FORMAT, the message escaped, a traceback's lines indented under it."""

    _second: tuple[int, str] = (-1, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """`logging.Formatter.formatTime`, the local time's text made once per second."""
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        second, cached = int(record.created), self._second
        if cached[0] != second:
            cached = (second, time.strftime(self.default_time_format, self.converter(second)))
            self._second = cached
        return f"{cached[1]},{int(record.msecs):03d}"  # as default_msec_format

    def format(self, record: logging.LogRecord) -> str:
        original = record.msg, record.args
        record.msg, record.args = safe_message(record), None
        try:
            return super().format(record).replace("\n", "\n  ")
        finally:
            record.msg, record.args = original


def make_formatter(component: str, log_format: str = "text") -> logging.Formatter:
    """The formatter of `component`'s lines: "text" or "json"."""
    if log_format == "json":
        return JsonFormatter(component)
    return TextFormatter(FORMAT.format(component=component))


def setup_logging(level: str, component: str, log_format: str = "text") -> None:
    """Send every logger's records to stdout at `level`, in `log_format`, tagged `component`."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(make_formatter(component, log_format.lower()))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # The lines name no thread, process name or calling function: the records need not
    # look them up (the logging HOWTO's "Optimization"; a worker logs 3 lines a report).
    logging.logThreads = False
    logging.logMultiprocessing = False
    logging._srcfile = None
    logging.captureWarnings(True)  # Python warnings (Celery's) in the same format
    # Libraries that set up their own handlers would print in their own format.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "celery", "fastapi"):
        library = logging.getLogger(name)
        for old in list(library.handlers):
            library.removeHandler(old)
        library.propagate = True
    # Client libraries are chatty at INFO about connections; their warnings still show.
    for noisy in ("kombu", "amqp", "urllib3", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


class LogFile:
    """A rotating log file for already formatted lines, safe to write from many threads."""

    def __init__(self, path: Path, *, max_bytes: int, backups: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
        )
        self._handler.setFormatter(logging.Formatter("%(message)s"))
        self._lock = threading.Lock()

    def write(self, line: str) -> None:
        """Append one line (without its newline); rotates when the file is full."""
        record = logging.LogRecord("radflag", logging.INFO, "", 0, line, None, None)
        with self._lock:
            self._handler.emit(record)

    def close(self) -> None:
        with self._lock:
            self._handler.close()


_TEXT_HEAD = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ \[")


class OutputLines:
    """Puts a child's stray output lines (Celery's prints) into the log format.

    Lines the child's logging wrote pass unchanged; any other line becomes an
    INFO record of logger `output`, tagged with the child's component and pid.
    """

    def __init__(self, component: str, pid: int, log_format: str) -> None:
        self.pid = pid
        self.log_format = log_format.lower()
        self.formatter = make_formatter(component, self.log_format)

    def __call__(self, line: str) -> str:
        if self.log_format == "json" and line.startswith('{"ts"'):
            return line
        if self.log_format != "json" and (_TEXT_HEAD.match(line) or line.startswith("  ")):
            return line
        record = logging.LogRecord("output", logging.INFO, "", 0, line, None, None)
        record.process = self.pid
        return self.formatter.format(record)


class TeeHandler(logging.Handler):
    """Writes this process's records, formatted as on stdout, into a LogFile too."""

    def __init__(self, log_file: LogFile) -> None:
        super().__init__()
        self.log_file = log_file

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.log_file.write(self.format(record))
        except Exception:
            self.handleError(record)
