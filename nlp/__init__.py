"""Pure NLP: report text in, `Annotation` out. Nothing heavy happens at import."""

from nlp.model import Annotation, Flag, Mention, Site

__all__ = ["Annotation", "Flag", "Mention", "Site", "annotate"]


def annotate(text: str, procedure: str | None = None, language: str | None = None) -> Annotation:
    """Annotate one report; the pipeline is built on first use, once per process."""
    from nlp.annotator import annotate as _annotate

    return _annotate(text, procedure=procedure, language=language)
