"""The spaCy/medspaCy pipeline: layout, targets, ConText. Built once per language.

Strategy: speed is the tokenizer's plus a little (bench.nlp: about 2-2.5x
the bare tokenizer, 20x faster than medspaCy's default). The pipeline is
`spacy.blank(lang)` with an `UnwrappingTokenizer` (soft line breaks read as
spaces, offsets unchanged) and three components registered with
`@Language.factory`:

- `radflag_layout`: regex sections and sentences (nlp.layout), written onto the
  Doc as sentence starts (`doc.sents` works) in one `from_array` call;
- `radflag_targets`: BME synonyms and etiology cues (token patterns expanded
  into a PhraseMatcher), longest match wins, into the span group "radflag";
- `radflag_context`: medspaCy's ConText algorithm (`ConTextRule`,
  `ConTextModifier`, `ConTextGraph`) with our own rule file, run only on the
  sentences that hold a target or cue, which is where it matters.

medspaCy's default ConText rules are not used: their ": no" rule beats "no"
(medspaCy issue 155) and they miss "possibly ..." and "... has resolved".
"""

# No `from __future__ import annotations`: spaCy resolves factory type hints at runtime.

import functools
import itertools
import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from numpy import searchsorted, zeros
from spacy.attrs import IDX, SENT_START
from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc, Span

from nlp.anatomy import required_literal
from nlp.layout import Layout, LayoutReader
from nlp.ruleset import RuleSet, load_ruleset
from nlp.token_patterns import LowerPatternMatcher

SPAN_GROUP = "radflag"
TEXT_KEY = "radflag_text"
LOWERS_KEY = "radflag_lowers"
BME_LABEL = "BME"
EXCLUDE_LABEL = "EXCLUDE"
ETIOLOGY_LABEL = "ETIOLOGY"
BLOCK_LABEL = "ETIOLOGY_BLOCK"

STATUS_BY_CATEGORY = (
    ("NEGATED_EXISTENCE", "negated"),
    ("HYPOTHETICAL", "hypothetical"),
    ("HISTORICAL", "historical"),
    ("RESOLVED", "historical"),
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
    categories: frozenset[str] = frozenset()  # ConText categories that modify it
    # (char start, char end, category) of the ConText modifiers that modify it.
    modifiers: tuple[tuple[int, int, str], ...] = ()


def status_from(categories: set[str]) -> str:
    """A mention's status from the ConText categories that modify it.

    A finding said to persist, change or be seen again ("the previously seen
    edema has decreased") is current even though "previously" is historical; one
    said to be gone ("RESOLVED": "the edema still present on the prior study is no
    longer seen") stays past.
    """
    if "PERSISTENT" in categories:
        categories = categories - {"HISTORICAL"}
    return next((s for c, s in STATUS_BY_CATEGORY if c in categories), "present")


def _ensure_extensions() -> None:
    for name in ("radflag_layout", "radflag_matches", "radflag_sentence_tokens"):
        if not Doc.has_extension(name):
            Doc.set_extension(name, default=None)


class RuleMatcher:
    """Literal rules in a PhraseMatcher (hash lookups), token patterns in a Matcher.

    A Matcher costs about (tokens x patterns) predicate checks, so the two
    hundred-odd literal cues go to the PhraseMatcher, LOWER-only token patterns
    (IN sets, token regexes: most German rules) to a LowerPatternMatcher that
    indexes them by their first word, and only what is left to the Matcher.
    Matches come back in Doc token offsets, for a Doc or for a Span of it.
    """

    def __init__(self, nlp: Language) -> None:
        self._nlp = nlp
        self._phrases = PhraseMatcher(nlp.vocab, attr="LOWER")
        self._patterns = Matcher(nlp.vocab)
        self._has_patterns = False
        self._lower = LowerPatternMatcher()

    def add(self, key: str, literal: str, pattern: Sequence[dict[str, Any]] | None) -> int:
        """Add one rule under `key`; returns the key's hash, as matches report it."""
        if pattern is None:
            self._phrases.add(key, [self._nlp.make_doc(literal.lower())])
        else:
            phrases = expand_pattern(pattern)
            if phrases is not None:
                self._phrases.add(key, [Doc(self._nlp.vocab, words=list(p)) for p in phrases])
            elif not self._lower.add(int(self._nlp.vocab.strings.add(key)), pattern):
                self._patterns.add(key, [[dict(t) for t in pattern]])
                self._has_patterns = True
        return int(self._nlp.vocab.strings[key])

    def __call__(self, doclike: Doc | Span) -> list[tuple[int, int, int]]:
        found = list(self._phrases(doclike))
        if self._lower:
            doc = doclike.doc if isinstance(doclike, Span) else doclike
            lowers = doc.user_data.get(LOWERS_KEY)
            if lowers is None:  # once per Doc; sentences take slices of it
                lowers = doc.user_data[LOWERS_KEY] = [t.lower_ for t in doc]
            if isinstance(doclike, Span):
                found.extend(self._lower(lowers[doclike.start : doclike.end], doclike.start))
            else:
                found.extend(self._lower(lowers, 0))
        if self._has_patterns:
            offset = doclike.start if isinstance(doclike, Span) else 0
            found.extend((k, s + offset, e + offset) for k, s, e in self._patterns(doclike))
        return found


# Repetitions tried for "*" and "+" when a token pattern is expanded into phrases.
_MAX_REPEAT = 2
_MAX_PHRASES = 2000


def expand_pattern(pattern: Sequence[dict[str, Any]]) -> list[tuple[str, ...]] | None:
    """All phrases a LOWER-only token pattern matches, or None when it is not that simple.

    spaCy's Matcher checks every pattern at every token (slow with many "IN"
    sets); the same rules as phrases in a PhraseMatcher are hash lookups.
    """
    phrases: list[tuple[str, ...]] = [()]
    for token in pattern:
        if set(token) - {"LOWER", "OP"}:
            return None
        value = token.get("LOWER")
        if isinstance(value, str):
            words = [value]
        elif isinstance(value, dict) and set(value) == {"IN"}:
            words = [str(w) for w in value["IN"]]
        else:
            return None
        op = token.get("OP", "1")
        counts = {
            "1": [1],
            "?": [0, 1],
            "*": range(_MAX_REPEAT + 1),
            "+": range(1, _MAX_REPEAT + 1),
        }.get(op)
        if counts is None:
            return None
        grown: list[tuple[str, ...]] = []
        for prefix in phrases:
            for n in counts:
                grown.extend(prefix + combo for combo in itertools.product(words, repeat=n))
        phrases = grown
        if len(phrases) > _MAX_PHRASES:
            return None
    return [p for p in dict.fromkeys(phrases) if p]


def _longest_first(
    matches: Iterable[tuple[int, int, int]], rank: Mapping[int, int] | None = None
) -> list[tuple[int, int, int]]:
    """Non-overlapping (key, start, end) matches, longer first, then earlier.

    Two rules that match the same words: the one later in its rule file wins
    (`rank`: key -> position in the file). Without it the matcher's order
    decided, which follows the hashes of the rules' keys, so adding a rule
    anywhere could swap which of two others applied.
    """
    kept: list[tuple[int, int, int]] = []
    taken: set[int] = set()
    order = rank or {}
    for key, start, end in sorted(matches, key=lambda m: (m[1] - m[2], m[1], -order.get(m[0], 0))):
        if taken.isdisjoint(range(start, end)):
            kept.append((key, start, end))
            taken.update(range(start, end))
    return sorted(kept, key=lambda m: m[1])


class LayoutComponent:
    """Sets sections and sentences from the text's lines."""

    def __init__(self, rules: RuleSet) -> None:
        self._reader = LayoutReader(rules)

    def __call__(self, doc: Doc) -> Doc:
        layout = self._reader.read(doc_text(doc))
        doc._.radflag_layout = layout
        if not len(doc):
            return doc
        # Token start offsets in one C call; a sentence opens at the first
        # token at or after its start offset. from_array is several times
        # faster than setting token.is_sent_start one by one.
        offsets = doc.to_array(IDX)
        opens = searchsorted(offsets, [x.start for x in layout.sentences])
        starts = zeros((len(doc), 1), dtype="uint64")
        starts[opens[opens < len(doc)], 0] = 1
        starts[0, 0] = 1
        doc.from_array([SENT_START], starts)  # type: ignore[arg-type]
        doc._.radflag_sentence_tokens = sorted({0, *(int(i) for i in opens if i < len(doc))})
        return doc


class TargetComponent:
    """Finds BME mentions and etiology cues in one Matcher pass (longest match wins)."""

    def __init__(self, nlp: Language, rules: RuleSet) -> None:
        self._matcher = RuleMatcher(nlp)
        self._labels: dict[int, tuple[str, int]] = {}
        self.rank: dict[int, int] = {}  # rule key -> its line in its file (`_longest_first`)
        self._fallback = [t.fallback for t in rules.targets]
        # Regex targets: one finditer over the lower-cased text each, skipped at
        # C speed when their required literal is absent.
        self._regexes: list[tuple[int, Any, tuple[str, ...]]] = []
        for i, t in enumerate(rules.targets):
            if t.regex is not None:
                key = int(nlp.vocab.strings.add(f"T{i}"))
                literal = required_literal(t.regex.pattern)
                requires = t.requires or ((literal,) if literal else ())
                self._regexes.append((key, t.regex, requires))
            else:
                key = self._matcher.add(f"T{i}", t.literal, t.pattern)
            self._labels[key] = (t.category, i)
            self.rank[key] = i
        # Regex targets that require the same words share one scan: it stops only
        # where one of them matches, and there each is tried in its own lookahead,
        # so every match of every regex is found, overlapping as before.
        grouped: dict[tuple[str, ...], list[tuple[int, Any]]] = {}
        for key, rx, requires in self._regexes:
            grouped.setdefault(requires, []).append((key, rx))
        self._scanners: list[tuple[tuple[str, ...], Any, dict[str, int]]] = []
        for requires, members in grouped.items():
            names = {f"t{i}": key for i, (key, _) in enumerate(members)}
            gate = "|".join(f"(?:{rx.pattern})" for _, rx in members)
            each = "".join(f"(?:(?=(?P<t{i}>{rx.pattern})))?" for i, (_, rx) in enumerate(members))
            self._scanners.append((requires, re.compile(f"(?=(?:{gate})){each}"), names))
        for i, c in enumerate(rules.etiology_cues):
            label = ETIOLOGY_LABEL if c.etiology is not None or c.explains else BLOCK_LABEL
            key = self._matcher.add(f"E{i}", c.literal, c.pattern)
            self._labels[key] = (label, i)
            self.rank[key] = i

    def __call__(self, doc: Doc) -> Doc:
        targets: list[tuple[int, int, int]] = []
        fallbacks: list[tuple[int, int, int]] = []
        cues: list[tuple[int, int, int]] = []
        for key, start, end in self._matcher(doc) + self._regex_matches(doc):
            label, index = self._labels[key]
            if label in (ETIOLOGY_LABEL, BLOCK_LABEL):
                cues.append((key, start, end))
            elif self._fallback[index]:
                fallbacks.append((key, start, end))
            else:
                targets.append((key, start, end))
        rank = self.rank
        chosen = _longest_first(targets, rank)
        taken = {i for _, s, e in chosen for i in range(s, e)}
        chosen += _longest_first(
            (f for f in fallbacks if taken.isdisjoint(range(f[1], f[2]))), rank
        )
        found = []
        for key, start, end in sorted(chosen, key=lambda m: m[1]) + _longest_first(cues, rank):
            label, index = self._labels[key]
            if label in (EXCLUDE_LABEL, BLOCK_LABEL):
                continue
            span = doc[start:end]
            found.append(Match(start, end, span.start_char, span.end_char, label, index))
        doc.spans[SPAN_GROUP] = [Span(doc, m.start, m.end, label=m.label) for m in found]
        doc._.radflag_matches = found
        return doc

    def _regex_matches(self, doc: Doc) -> list[tuple[int, int, int]]:
        if not self._scanners:
            return []
        text = doc_text(doc).lower()
        out = []
        for requires, scanner, keys in self._scanners:
            for start, end in _windows(text, requires):
                for m in scanner.finditer(text, start, end):
                    for name, key in keys.items():
                        a, b = m.span(name)
                        if b <= a:
                            continue
                        span = doc.char_span(a, b, alignment_mode="expand")
                        if span is not None and len(span):
                            out.append((key, span.start, span.end))
        return sorted(set(out))


# A regex target is tried only around the words it requires: this far before
# and after each (a phrase is far shorter), windows that touch merged.
_WINDOW_BEFORE = 90
_WINDOW_AFTER = 70


def _windows(text: str, requires: tuple[str, ...]) -> list[tuple[int, int]]:
    """Character windows of `text` around each required word; the whole text if none given."""
    if not requires:
        return [(0, len(text))]
    spans: list[tuple[int, int]] = []
    for word in requires:
        i = text.find(word)
        while i >= 0:
            spans.append((max(0, i - _WINDOW_BEFORE), min(len(text), i + _WINDOW_AFTER)))
            i = text.find(word, i + len(word))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


class ContextComponent:
    """medspaCy ConText over the sentences that hold a target or cue.

    The rules are medspaCy `ConTextRule`s and the scopes, their limits and the
    target-modifier edges are computed as medspaCy's `ConTextGraph` computes
    them (`update_scopes`, then `apply_modifiers`), on plain tuples instead of
    `ConTextModifier` and `Span` objects: those objects' property lookups were
    a third of this component's time. `tests/nlp/test_context.py` holds the
    two computations equal on the fixtures.
    """

    def __init__(self, nlp: Language, rules: RuleSet) -> None:
        from medspacy.context import ConTextRule

        self._matcher = RuleMatcher(nlp)
        self._rules: dict[int, Any] = {}
        self.rank: dict[int, int] = {}  # rule key -> its line in the file (`_longest_first`)
        # Per rule key: direction, category (as written and upper case),
        # terminated_by, allowed and excluded target types.
        self._specs: dict[int, _RuleSpec] = {}
        self._parentheses: set[int] = set()  # the "(" and ")" rules: a gloss ends no scope
        for i, r in enumerate(rules.context):
            rule = ConTextRule(
                r.literal,
                r.category,
                pattern=list(r.pattern) if r.pattern else None,
                direction=r.direction,
                max_scope=r.max_scope,
                allowed_types=set(r.allowed_types) if r.allowed_types else None,
                terminated_by=set(r.terminated_by) or None,
            )
            if rule.max_targets is not None or rule.on_modifies is not None:
                raise ValueError(
                    "max_targets and on_modifies are not supported"
                )  # pragma: no cover
            key = self._matcher.add(f"C{i}", r.literal, r.pattern)
            self.rank[key] = i
            self._rules[key] = rule
            if r.direction == "TERMINATE" and r.literal in ("(", ")") and not r.pattern:
                self._parentheses.add(key)
            self._specs[key] = _RuleSpec(
                rule.direction,
                rule.category,
                rule.category.upper(),
                frozenset(rule.terminated_by),
                None if rule.allowed_types is None else frozenset(rule.allowed_types),
                None if rule.excluded_types is None else frozenset(rule.excluded_types),
                rule.max_scope,
            )

    def __call__(self, doc: Doc) -> Doc:
        matches: list[Match] = doc._.radflag_matches or []
        bounds: list[int] = doc._.radflag_sentence_tokens
        by_sentence: dict[tuple[int, int], list[int]] = {}
        for i, m in enumerate(matches):
            k = bisect_right(bounds, m.start) - 1
            sentence = (bounds[k], bounds[k + 1] if k + 1 < len(bounds) else len(doc))
            by_sentence.setdefault(sentence, []).append(i)
        statuses = ["present"] * len(matches)
        found: list[frozenset[str]] = [frozenset()] * len(matches)
        cue_spans: list[tuple[tuple[int, int, str], ...]] = [()] * len(matches)
        for (sent_start, sent_end), indices in by_sentence.items():
            modifiers: list[list[Any]] = []
            for key, s, e in _longest_first(self._matcher(doc[sent_start:sent_end]), self.rank):
                spec = self._specs[key]
                if key in self._parentheses and _gloss(doc, s, sent_start, sent_end):
                    continue
                lo, hi = _scope(spec.direction, spec.max_scope, s, e, sent_start, sent_end)
                modifiers.append([spec, s, e, lo, hi])
            if not modifiers:
                continue
            _limit_scopes(modifiers)
            categories: dict[int, set[str]] = {}
            cues: dict[int, list[tuple[int, int, str]]] = {}
            # apply_modifiers: each target with each modifier, edges in modifier order
            for spec, s, e, lo, hi in modifiers:
                if spec.direction in ("TERMINATE", "PSEUDO"):
                    continue
                first, last = s, e
                cue = None
                for i in indices:
                    target = matches[i]
                    t_start, t_end = target.start, target.end
                    if _overlaps(s, e, t_start, t_end):
                        continue
                    label = target.label.upper()
                    if spec.allowed is not None:
                        if label not in spec.allowed:
                            continue
                    elif spec.excluded is not None and label in spec.excluded:
                        continue
                    if not _overlaps(lo, hi, t_start, t_end):
                        continue
                    if cue is None:
                        cue = (doc[first].idx, doc[last - 1].idx + len(doc[last - 1]), spec.upper)
                    category = spec.upper
                    between = range(t_end, s) if t_end <= s else range(e, t_start)
                    if category == "RESOLVED" and any(doc[k].text == "," for k in between):
                        # "ein weiterhin nachweisbares ... Ödem im Kondylus, die Frakturlinie
                        # ist nicht mehr abgrenzbar": gone across a comma may be another
                        # thing's; a finding said to persist outweighs it
                        category = "HISTORICAL"
                    categories.setdefault(t_start, set()).add(category)
                    cues.setdefault(t_start, []).append(cue)
            for i in indices:
                found[i] = frozenset(categories.get(matches[i].start, set()))
                statuses[i] = status_from(set(found[i]))
                cue_spans[i] = tuple(sorted(set(cues.get(matches[i].start, ()))))
        doc._.radflag_matches = [
            Match(m.start, m.end, m.char_start, m.char_end, m.label, m.rule, status, cats, cue)
            for m, status, cats, cue in zip(matches, statuses, found, cue_spans, strict=True)
        ]
        return doc


@dataclass(frozen=True)
class _RuleSpec:
    """What ConText's scope and edge computations read from one ConTextRule."""

    direction: str  # upper case, as ConTextRule keeps it
    category: str  # as written
    upper: str  # upper case
    terminated_by: frozenset[str]
    allowed: frozenset[str] | None
    excluded: frozenset[str] | None
    max_scope: int | None


# The most tokens a parenthesis inside a clause may hold and still be a gloss.
_GLOSS_TOKENS = 4


def _gloss(doc: Doc, at: int, sent_start: int, sent_end: int) -> bool:
    """Whether the "(" or ")" at `at` bounds a gloss inside a running clause: it ends no scope.

    "without any edema-type (Modic 1) signal", "The bone bruise pair (medial patellar
    facet and lateral femoral condyle) is not seen": a short parenthesis between two
    words of one clause names or explains what is beside it, so a cue before it reaches
    into it and one after it reaches back over it. A parenthesis at a clause's end
    ("No fracture (edema in the talus).") still ends the scope, and so does one that
    says something of its own: a stop word of the language in it ("no fracture line
    (the cortex is smooth) and marked edema").
    """
    token = doc[at].text
    if token == "(":
        opening, closing = at, -1
        for k in range(at + 1, min(at + 2 + _GLOSS_TOKENS, sent_end)):
            if doc[k].text in "()":
                closing = k if doc[k].text == ")" else -1
                break
    elif token == ")":
        opening, closing = -1, at
        for k in range(at - 1, max(at - 2 - _GLOSS_TOKENS, sent_start - 1), -1):
            if doc[k].text in "()":
                opening = k if doc[k].text == "(" else -1
                break
    else:
        return False
    return (
        sent_start < opening < closing - 1
        and closing + 1 < sent_end
        and doc[opening - 1].is_alpha
        and doc[closing + 1].is_alpha
        and not any(doc[k].is_stop for k in range(opening + 1, closing))
    )


def _overlaps(a0: int, a1: int, b0: int, b1: int) -> bool:
    """medspaCy's `tuple_overlaps((a0, a1), (b0, b1))` (not symmetric)."""
    return a0 <= b0 < a1 or a0 < b1 <= a1


def _limit_scopes(modifiers: list[list[Any]]) -> None:
    """medspaCy's `ConTextGraph.update_scopes`: each pair limits the other, in order.

    A modifier is [spec, start, end, scope_start, scope_end]; scopes change in place.
    """
    for i in range(len(modifiers) - 1):
        first = modifiers[i]
        for j in range(i + 1, len(modifiers)):
            second = modifiers[j]
            _limit_scope(first, second)
            _limit_scope(second, first)


def _limit_scope(mod: list[Any], other: list[Any]) -> None:
    """medspaCy's `ConTextModifier.limit_scope(other)` on [spec, start, end, lo, hi] lists."""
    spec, o_spec = mod[0], other[0]
    if not _overlaps(mod[3], mod[4], other[3], other[4]):
        return
    if spec.direction == "TERMINATE":
        return
    if (
        o_spec.direction != "TERMINATE"
        and o_spec.upper not in spec.terminated_by
        and o_spec.upper != spec.upper
    ):
        return
    if spec.category == o_spec.category and (
        spec.allowed != o_spec.allowed or spec.excluded != o_spec.excluded
    ):
        return
    if spec.direction in ("FORWARD", "BIDIRECTIONAL") and other[1] > mod[1]:
        mod[4] = min(mod[4], other[1])
    if spec.direction in ("BACKWARD", "BIDIRECTIONAL") and other[2] < mod[2]:
        mod[3] = max(mod[3], other[2])


def _scope(
    direction: str, max_scope: int | None, start: int, end: int, sent_start: int, sent_end: int
) -> tuple[int, int]:
    """A modifier's scope in the sentence, as medspaCy's ConTextModifier sets it.

    Computed here from our sentence bounds because `token.sent` (what
    ConTextModifier uses) costs a scan of the Doc on every call. A terminating
    modifier ("but", "jedoch") modifies nothing; its scope is only what other
    modifiers' scopes are checked against, and medspaCy's `tuple_overlaps`
    misses a scope that lies wholly inside another, so the sentence as its scope
    never cut a shorter one ("kein" reaches 4 tokens: "Keine Fraktur, jedoch
    KMÖ" read the edema as negated). Its own words are its scope.
    """
    direction = direction.upper()
    if direction == "TERMINATE":
        return start, end
    lo, hi = sent_start, sent_end
    if direction == "FORWARD":
        lo = end
        if max_scope is not None:
            hi = min(hi, end + max_scope)
    elif direction == "BACKWARD":
        hi = start
        if max_scope is not None:
            lo = max(lo, start - max_scope)
    elif max_scope is not None:
        lo, hi = max(lo, start - max_scope), min(hi, end + max_scope)
    return lo, hi


_MAX_RUN = 64
_LONG_RUN = re.compile(rf"\S{{{_MAX_RUN + 1},}}")


def _cut_run(m: "re.Match[str]") -> str:
    run = m.group()
    return "".join(" " if (i + 1) % _MAX_RUN == 0 else ch for i, ch in enumerate(run))


class UnwrappingTokenizer:
    """The language's tokenizer, run on the text with soft line breaks made spaces.

    Hard-wrapped reports split phrases over lines ("bone marrow\nedema");
    replacing those breaks by spaces keeps every character offset.
    """

    def __init__(self, tokenizer: Any, reader: LayoutReader) -> None:
        self._tokenizer = tokenizer
        self._reader = reader

    def __call__(self, text: str) -> Doc:
        unwrapped = self._reader.unwrap(text)
        # spaCy's tokenizer is quadratic in the length of one whitespace-free
        # run ("a:a:a:..." x 40k took 28 s): runs longer than any word are cut
        # by a space every _MAX_RUN characters (same length, same offsets).
        # (Splitting on whitespace finds whether there is such a run at a third
        # of the regex's cost; most reports have none.)
        if max(map(len, unwrapped.split()), default=0) > _MAX_RUN:
            doc = self._tokenizer(_LONG_RUN.sub(_cut_run, unwrapped))
        else:
            doc = self._tokenizer(unwrapped)
        # Doc.text joins every token in Python; keep the string we already have.
        doc.user_data[TEXT_KEY] = unwrapped
        return doc

    def pipe(self, texts: Iterable[str], batch_size: int = 1000) -> Iterable[Doc]:
        for text in texts:
            yield self(text)


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
    nlp.tokenizer = UnwrappingTokenizer(nlp.tokenizer, LayoutReader(rules))
    config = {"language": language}
    nlp.add_pipe("radflag_layout", config=config)
    nlp.add_pipe("radflag_targets", config=config)
    nlp.add_pipe("radflag_context", config=config)
    return nlp


def doc_text(doc: Doc) -> str:
    """The Doc's text, without rebuilding it from the tokens when the tokenizer kept it."""
    text = doc.user_data.get(TEXT_KEY)
    return text if isinstance(text, str) else doc.text


def layout_of(doc: Doc) -> Layout:
    """The Layout the pipeline stored on `doc`."""
    layout: Layout = doc._.radflag_layout
    return layout


__all__ = [
    "BME_LABEL",
    "ETIOLOGY_LABEL",
    "SPAN_GROUP",
    "Match",
    "build_pipeline",
    "doc_text",
    "layout_of",
]
