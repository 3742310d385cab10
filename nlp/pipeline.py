"""The spaCy/medspaCy pipeline: layout, targets, ConText. Built once per language.

Strategy: speed is the tokenizer's plus a little. The pipeline is
`spacy.blank(lang)` and three components registered with `@Language.factory`:

- `radflag_layout`: regex sections and sentences (nlp.layout), written onto the
  Doc as sentence starts so medspaCy's ConTextModifier can read `token.sent`;
- `radflag_targets`: one spaCy Matcher for BME synonyms and etiology cues, longest match wins, into the span group "radflag";
- `radflag_context`: medspaCy's ConText algorithm (`ConTextRule`,
  `ConTextModifier`, `ConTextGraph`) with our own rule file, run only on the
  sentences that hold a target, which is where it matters.

medspaCy's default ConText rules are not used: their ": no" rule beats "no"
(medspaCy issue 155) and they miss "possibly ..." and "... has resolved".
"""

# No `from __future__ import annotations`: spaCy resolves factory type hints at runtime.

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from spacy.language import Language
from spacy.matcher import Matcher
from spacy.tokens import Doc, Span

from nlp.layout import Layout, LayoutReader
from nlp.ruleset import RuleSet, load_ruleset

SPAN_GROUP = "radflag"
BME_LABEL = "BME"
EXCLUDE_LABEL = "EXCLUDE"
ETIOLOGY_LABEL = "ETIOLOGY"
BLOCK_LABEL = "ETIOLOGY_BLOCK"

STATUS_BY_CATEGORY = (
    ("NEGATED_EXISTENCE", "negated"),
    ("HYPOTHETICAL", "hypothetical"),
    ("HISTORICAL", "historical"),
    ("POSSIBLE_EXISTENCE", "possible"),
)


@dataclass(frozen=True)
class Match:
    """A target or etiology cue found in the Doc, with its ConText status."""

    start: int  # token offsets
    end: int
    char_start: int
    char_end: int
    label: str
    rule: int  # index into the rule set's targets or etiology_cues
    status: str = "present"


def _ensure_extensions() -> None:
    for name in ("radflag_layout", "radflag_matches"):
        if not Doc.has_extension(name):
            Doc.set_extension(name, default=None)


def _token_pattern(
    nlp: Language, literal: str, pattern: Sequence[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    if pattern is not None:
        return [dict(t) for t in pattern]
    return [{"LOWER": t.lower_} for t in nlp.make_doc(literal)]


def _longest_first(matches: Iterable[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Non-overlapping (key, start, end) matches, longer first, then earlier."""
    kept: list[tuple[int, int, int]] = []
    taken: set[int] = set()
    for key, start, end in sorted(matches, key=lambda m: (m[1] - m[2], m[1])):
        if taken.isdisjoint(range(start, end)):
            kept.append((key, start, end))
            taken.update(range(start, end))
    return sorted(kept, key=lambda m: m[1])


class LayoutComponent:
    """Sets sections and sentences from the text's lines."""

    def __init__(self, rules: RuleSet) -> None:
        self._reader = LayoutReader(rules)

    def __call__(self, doc: Doc) -> Doc:
        layout = self._reader.read(doc.text)
        doc._.radflag_layout = layout
        starts = iter(s.start for s in layout.sentences)
        next_start = next(starts, None)
        for token in doc:
            # A token at or after the next sentence start opens that sentence.
            if next_start is not None and token.idx >= next_start and not token.is_space:
                token.is_sent_start = True
                next_start = next(starts, None)
                while next_start is not None and next_start <= token.idx:
                    next_start = next(starts, None)
        if len(doc):
            doc[0].is_sent_start = True
        return doc


class TargetComponent:
    """Finds BME mentions and etiology cues in one Matcher pass (longest match wins)."""

    def __init__(self, nlp: Language, rules: RuleSet) -> None:
        self._matcher = Matcher(nlp.vocab)
        self._labels: dict[int, tuple[str, int]] = {}
        for i, t in enumerate(rules.targets):
            self._add(nlp, f"T{i}", _token_pattern(nlp, t.literal, t.pattern), t.category, i)
        for i, c in enumerate(rules.etiology_cues):
            label = ETIOLOGY_LABEL if c.etiology is not None else BLOCK_LABEL
            self._add(nlp, f"E{i}", _token_pattern(nlp, c.literal, c.pattern), label, i)

    def _add(
        self, nlp: Language, key: str, pattern: list[dict[str, Any]], label: str, index: int
    ) -> None:
        self._matcher.add(key, [pattern])
        self._labels[nlp.vocab.strings[key]] = (label, index)

    def __call__(self, doc: Doc) -> Doc:
        targets, cues = [], []
        for key, start, end in self._matcher(doc):
            (targets if self._labels[key][0] in (BME_LABEL, EXCLUDE_LABEL) else cues).append(
                (key, start, end)
            )
        found = []
        for key, start, end in _longest_first(targets) + _longest_first(cues):
            label, index = self._labels[key]
            if label in (EXCLUDE_LABEL, BLOCK_LABEL):
                continue
            span = doc[start:end]
            found.append(Match(start, end, span.start_char, span.end_char, label, index))
        doc.spans[SPAN_GROUP] = [Span(doc, m.start, m.end, label=m.label) for m in found]
        doc._.radflag_matches = found
        return doc


class ContextComponent:
    """medspaCy ConText over the sentences that hold a target or cue."""

    def __init__(self, nlp: Language, rules: RuleSet) -> None:
        from medspacy.context import ConTextRule

        self._matcher = Matcher(nlp.vocab)
        self._rules: dict[int, Any] = {}
        for i, r in enumerate(rules.context):
            rule = ConTextRule(
                r.literal,
                r.category,
                pattern=list(r.pattern) if r.pattern else None,
                direction=r.direction,
                max_scope=r.max_scope,
                allowed_types=set(r.allowed_types) if r.allowed_types else None,
            )
            key = f"C{i}"
            self._matcher.add(key, [_token_pattern(nlp, r.literal, r.pattern)])
            self._rules[nlp.vocab.strings[key]] = rule

    def __call__(self, doc: Doc) -> Doc:
        from medspacy.context import ConTextGraph, ConTextModifier

        matches: list[Match] = doc._.radflag_matches or []
        by_sentence: dict[int, list[int]] = {}
        for i, m in enumerate(matches):
            by_sentence.setdefault(doc[m.start].sent.start, []).append(i)
        statuses = ["present"] * len(matches)
        for sent_start, indices in by_sentence.items():
            sent = doc[sent_start].sent
            found = self._matcher(sent)  # offsets relative to the sentence
            modifiers = [
                ConTextModifier(self._rules[key], sent.start + s, sent.start + e, doc)
                for key, s, e in _longest_first(found)
            ]
            if not modifiers:
                continue
            spans = [
                Span(doc, matches[i].start, matches[i].end, label=matches[i].label) for i in indices
            ]
            graph = ConTextGraph(targets=spans, modifiers=modifiers)
            graph.update_scopes()
            graph.apply_modifiers()
            categories: dict[int, set[str]] = {}
            for target, modifier in graph.edges:
                categories.setdefault(target.start, set()).add(modifier.category.upper())
            for i in indices:
                cats = categories.get(matches[i].start, set())
                statuses[i] = next((s for c, s in STATUS_BY_CATEGORY if c in cats), "present")
        doc._.radflag_matches = [
            Match(m.start, m.end, m.char_start, m.char_end, m.label, m.rule, status)
            for m, status in zip(matches, statuses, strict=True)
        ]
        return doc


@Language.factory("radflag_layout", default_config={"language": "en"})
def make_layout(nlp: Language, name: str, language: str) -> LayoutComponent:
    return LayoutComponent(load_ruleset(language))


@Language.factory("radflag_targets", default_config={"language": "en"})
def make_targets(nlp: Language, name: str, language: str) -> TargetComponent:
    return TargetComponent(nlp, load_ruleset(language))


@Language.factory("radflag_context", default_config={"language": "en"})
def make_context(nlp: Language, name: str, language: str) -> ContextComponent:
    return ContextComponent(nlp, load_ruleset(language))


@functools.cache
def build_pipeline(language: str = "en") -> Language:
    """The pipeline for one language, built on first use and cached for the process."""
    import spacy

    _ensure_extensions()
    rules = load_ruleset(language)
    nlp = spacy.blank(rules.spacy_language)
    config = {"language": language}
    nlp.add_pipe("radflag_layout", config=config)
    nlp.add_pipe("radflag_targets", config=config)
    nlp.add_pipe("radflag_context", config=config)
    return nlp


def layout_of(doc: Doc) -> Layout:
    """The Layout the pipeline stored on `doc`."""
    layout: Layout = doc._.radflag_layout
    return layout


__all__ = ["BME_LABEL", "ETIOLOGY_LABEL", "SPAN_GROUP", "Match", "build_pipeline", "layout_of"]
