"""The (bone, laterality) pairs of a text's annotation: what most annotator tests compare."""

from __future__ import annotations

from nlp import annotate
from nlp.model import Annotation


def sites(
    text: str, procedure: str | None = None, language: str | None = None
) -> set[tuple[str, str | None]]:
    return {(s.bone, s.laterality) for s in annotate(text, procedure, language=language).sites}


def annotation_sites(annotation: Annotation) -> set[tuple[str, str | None]]:
    """The same pairs of an annotation already made (its status or causes are checked too)."""
    return {(s.bone, s.laterality) for s in annotation.sites}
