"""The rule set's version: a digest of the rule files, so a finding names the rules behind it."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

RULES_DIR = Path(__file__).with_name("rules")


@functools.cache
def ruleset_version(rules_dir: Path = RULES_DIR) -> str:
    """The first 12 hex digits of SHA-256 over every rule file's path and bytes, in path order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in rules_dir.rglob("*") if p.is_file() and p.suffix != ".md"):
        digest.update(path.relative_to(rules_dir).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]
