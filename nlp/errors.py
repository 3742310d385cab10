"""The annotator's own errors: `nlp/` knows nothing of HL7 or of how a sender is answered.

`worker/` maps an `NlpError` to its own outcome (a dead letter with the reason
for a message already acknowledged; a one-line message and exit 2 in the CLI).
"""

from __future__ import annotations


class NlpError(Exception):
    """Base of every error the annotator raises on purpose."""


class RuleFileError(NlpError):
    """A rule file is missing, not JSON, or does not follow the schema."""


__all__ = ["NlpError", "RuleFileError"]
