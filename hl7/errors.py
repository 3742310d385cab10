"""radflag's error hierarchy.

Strategy: one base class for the whole project. `PermanentError`s are never
retried; an `InboundMessageError` also says how the sender is answered (the ACK
code class and the HL7 table 0357 error code). `TransientError`s (broker or
destination down) are the only ones a task retries. This module is pure so that
`hl7/`, `nlp/` and `worker/` can all share it.
"""

from __future__ import annotations


class RadflagError(Exception):
    """Base of every error radflag raises on purpose."""


class PermanentError(RadflagError):
    """Retrying cannot help."""


class TransientError(RadflagError):
    """May succeed later (broker, database or destination unavailable)."""


class InboundMessageError(PermanentError):
    """An inbound message that can never be processed: answered AR/CR with an ERR segment.

    `hl7_error_code` is from HL7 table 0357; `reject` False means the sender gets
    AE/CE (application error) instead of AR/CR.
    """

    hl7_error_code: int = 207
    reject: bool = True

    def __init__(self, message: str, *, hl7_error_code: int | None = None) -> None:
        super().__init__(message)
        if hl7_error_code is not None:
            self.hl7_error_code = hl7_error_code
        # The MessageHeader read so far, when MSH was readable enough to answer in
        # kind (version, delimiters, swapped sender) although a field was wrong.
        self.header: object | None = None

    @property
    def text(self) -> str:
        return str(self)


class SegmentSequenceError(InboundMessageError):
    hl7_error_code = 100


class RequiredFieldMissing(InboundMessageError):
    hl7_error_code = 101


class DataTypeError(InboundMessageError):
    hl7_error_code = 102


class UnsupportedMessageType(InboundMessageError):
    hl7_error_code = 200


class UnsupportedVersion(InboundMessageError):
    hl7_error_code = 203


class NoReportText(InboundMessageError):
    """The message carries no readable report text (e.g. only an ED/PDF attachment).

    200: radflag does not support that kind of report (207 is kept for our own faults).
    """

    hl7_error_code = 200


class ReportTooLong(InboundMessageError):
    """A report text longer than the annotator can take (spaCy's max_length)."""

    hl7_error_code = 207


class FrameError(PermanentError):
    """Bytes on an MLLP connection that are not a valid frame."""


class FrameTooLarge(FrameError):
    """An MLLP frame longer than the configured maximum."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"MLLP frame of at least {size} bytes exceeds the maximum of {limit}")
        self.size = size
        self.limit = limit
        # Set by hl7.mllp.FrameDecoder: the first bytes of the dropped frame (its MSH, to
        # answer it) and the frames completed before it in the same read (to answer first).
        self.head: bytes = b""
        self.frames: list[bytes] = []
