"""`annotate(text, procedure)`: run the pipeline, then turn matches into an Annotation."""

from __future__ import annotations

import dataclasses
import functools
import re
from bisect import bisect_right
from collections.abc import Callable

from nlp.anatomy import Anatomy, AnatomyReader, one_side, spine_levels
from nlp.language import resolve_language
from nlp.layout import FINDINGS_SECTION, HISTORY_SECTION, Layout, Line, Sentence, list_item
from nlp.model import Annotation, Mention, Modifier
from nlp.pipeline import BME_LABEL, ETIOLOGY_LABEL, Match, build_pipeline, doc_text, layout_of
from nlp.report import AFFIRMED, UNNAMED_CAUSE, MentionRecord, SiteCue, build_annotation
from nlp.rule_specs import SignalRules
from nlp.ruleset import (
    DIFFERENTIAL_SECTION,
    DISCUSSION_SECTION,
    EXAM_SECTION,
    RuleSet,
    load_ruleset,
)

DEFAULT_LANGUAGE = "en"
# Mentions in these sections that read as current are prior findings (the history).
_PRIOR_SECTIONS = ("history", "comparison")


@functools.cache
def _anatomy_reader(language: str) -> AnatomyReader:
    return AnatomyReader(load_ruleset(language))


def annotate(text: str, procedure: str | None = None, language: str | None = None) -> Annotation:
    """Annotate one report (language from its text when None); raises RuleFileError on bad rules.

    `language` is a rule language ("de"), or an HL7 code ("GER") taken as a hint.
    """
    language = resolve_language(text, language)
    rules = load_ruleset(language)
    doc = build_pipeline(language)(text)
    layout = layout_of(doc)
    # The Doc's text is `text` with soft line breaks as spaces (same offsets):
    # read anatomy and cues from it, and take mention text from the original.
    unwrapped = doc_text(doc)
    matches: list[Match] = doc._.radflag_matches
    # A foot or hand exam reads its digits' bones ("the fifth proximal phalanx"): the exam
    # the title block or the procedure names, else the joints the text names when they
    # point to one such bone (a report wrapped under a "FINDINGS:" header reads the same).
    reader = plain_reader = _anatomy_reader(language)
    lowered = unwrapped.lower()
    if plain_reader.may_name_exam_bones(lowered):
        exam_title = f"{layout.exam_text}\n{procedure or ''}".lower()
        reader = plain_reader.for_exam(
            frozenset(joint for joint, rx in rules.exam_joints if rx.search(exam_title))
        )
        if reader is plain_reader:
            reader = plain_reader.for_exam(
                frozenset(joint for joint, rx in rules.exam_joints if rx.search(lowered)),
                sole=True,
            )
    # Where the text near a mention names no side: the side the report's current
    # sentences give that bone elsewhere ("Diagnosen: Osteomyelitis ... Metatarsale-I-
    # Köpfchen links"), then the rest of the report (the history first), then the title
    # block, then the ordered procedure. Computed on first need: most mentions name
    # their side.
    report_side = functools.cache(
        lambda: (
            _text_side(
                unwrapped, layout, reader, rules, title=f"{layout.exam_text}\n{procedure or ''}"
            )
            or _title_side(layout.exam_text, reader, rules, without_past=True)
            or reader.side_of(procedure or "")
            # a title block whose only side is said of a past event ("Hx R fibula ORIF 2019")
            # and no procedure side
            or _title_side(layout.exam_text, reader, rules)
            # an earlier exam's side ("Comparison: MRI of the left ankle two years ago"),
            # when nothing else names one
            or _text_side(unwrapped, layout, reader, rules, _SIDELESS_SECTIONS[:2])
        )
    )
    named_sides = functools.cache(lambda: _named_bone_sides(unwrapped, layout, reader, rules))

    def fallback(bone: str | None = None) -> str | None:
        side = named_sides().get(bone) if bone is not None else None
        if side is None and bone in reader.local_side:
            return None  # a pedicle's side is told beside it, not in the history
        return side or report_side()

    if rules.generic is not None:
        matches = _generic_hypothetical(unwrapped, matches, layout, rules.generic)
    if rules.contrasted is not None:
        matches = _generic_hypothetical(
            unwrapped, matches, layout, rules.contrasted, causes_too=True
        )
    matches = _unchosen_hypothetical(unwrapped, matches, layout, rules)
    targets = [m for m in matches if m.label == BME_LABEL]
    # A bare "edema" counts only where a bone owns it; the others are not
    # mentions at all (nor clause neighbours of the real ones).
    targets = [
        m
        for m in targets
        if not rules.targets[m.rule].bone_owned
        or _bone_owned(unwrapped, m, targets, layout, reader)
    ]
    # A signal description counts only on a fluid-sensitive sequence and in a bone.
    targets = [
        m
        for m in targets
        if not rules.targets[m.rule].signal
        or _signal_in_bone(unwrapped, m, targets, layout, rules, reader)
    ]
    described: dict[int, Match] = {}  # a named mention's start -> the signal it characterises
    targets = _without_described_signals(unwrapped, targets, layout, rules, reader, described)
    cues = [m for m in matches if m.label == ETIOLOGY_LABEL]
    blocks = _block_sides(unwrapped, layout, reader, rules)
    captions = _CaptionSides(unwrapped, layout, rules, reader)
    exams = _later_exams(unwrapped, layout, rules, targets, reader)
    standing = _standing_differential(layout, rules, cues)
    records = [
        _record(
            text,
            unwrapped,
            m,
            targets,
            cues,
            layout,
            rules,
            reader,
            fallback,
            blocks,
            captions,
            exams,
            standing,
            described.get(m.char_start),
        )
        for m in targets
    ]
    # A bare "contusion" is bone marrow edema only when a bone is named with it.
    kept = [
        (r, m)
        for r, m in zip(records, targets, strict=True)
        if r.bone_sides or not rules.targets[m.rule].requires_bone
    ]
    kept = _explained_by_summary(kept, unwrapped, cues, layout, rules)
    kept = _withdrawn_by_later_denial(kept, unwrapped, layout, rules)
    records = _carried_forward(_hedged_by_summary(kept, cues, layout, rules), exams)
    return build_annotation(
        records,
        rules,
        _site_cues(unwrapped, records, cues, layout, rules, reader, standing, exams.story),
        _denied_by_summary(cues, layout, rules),
    )


def _withdrawn_by_later_denial(
    kept: list[tuple[MentionRecord, Match]], text: str, layout: Layout, rules: RuleSet
) -> list[tuple[MentionRecord, Match]]:
    """Uncertain or signal-only mentions a later plain denial in their section takes back.

    "... war ein fragliches diskretes Ödem im Os lunatum erwähnt. Nach ... handelt es sich
    um ein Suszeptibilitätsartefakt; ein Knochenmarködem liegt nicht vor.", "Die
    beschriebene STIR-hyperintense Signalanhebung im distalen Femur entspricht ... einem
    Enchondrom; ein Knochenmarködem liegt nicht vor.": a denial of any edema that opens
    its sentence or ";" part (a few words at most before it), names no bone, is not of
    the rest only ("no edema elsewhere") and is said of no other side, and stands in a
    sentence (or a ";" part) after every affirmed mention of its section, is the
    section's last word on them when none of them names the edema as present in words
    (each is a signal description or a possible edema).
    """
    out = list(kept)
    for section in {r.section for r, _ in kept if r.current}:
        mine = [(i, r, m) for i, (r, m) in enumerate(kept) if r.current and r.section == section]
        affirmed = [(i, r, m) for i, r, m in mine if r.mention.status in AFFIRMED]
        if not affirmed or not all(
            r.mention.status == "possible" or rules.targets[m.rule].signal for _, r, m in affirmed
        ):
            continue
        last_end = max(r.mention.end for _, r, _ in affirmed)
        signals_only = all(rules.targets[m.rule].signal for _, _, m in affirmed)
        last = layout.sentence_index(last_end - 1)
        sides = {side for _, r, _ in affirmed for _, side in r.bone_sides}
        if not any(
            r.mention.status == "negated"
            and not r.bone_sides
            and not r.elsewhere
            and (r.mention.laterality in (None, "bilateral") or sides <= {r.mention.laterality})
            and _later_plain_denial(text, layout, r.mention.start, last, last_end, signals_only)
            for _, r, _ in mine
        ):
            continue
        for i, r, m in affirmed:
            out[i] = (
                dataclasses.replace(r, mention=dataclasses.replace(r.mention, status="negated")),
                m,
            )
    return out


# How many words may stand before a denial that opens its sentence or ";" part ("There
# is no", "ein", "kein Anhalt für ein").
_OPENING_WORDS = 4


def _later_plain_denial(
    text: str, layout: Layout, start: int, last: int, last_end: int, signals_only: bool
) -> bool:
    """Whether a denial at `start` opens its sentence or ";" part (at most a few words
    before it) and comes after the last affirmed mention (ending at `last_end`, in
    sentence `last`): in a later sentence, or in a later ";" part of that one when the
    mentions are all signal descriptions ("Fragliches diskretes Knochenmarködem ...; ein
    eindeutiges Bone-bruise-Muster besteht nicht" keeps the edema possible)."""
    index = layout.sentence_index(start)
    part_start, _ = _semicolon_part(text, layout.sentences[index], start)
    if len(text[part_start:start].split()) > _OPENING_WORDS:
        return False
    return index > last or (signals_only and part_start > last_end)


def _denied_by_summary(cues: list[Match], layout: Layout, rules: RuleSet) -> frozenset[str]:
    """Causes the summary denies and nowhere affirms: they are not the edema's.

    "First report: edema of the lunate, in keeping with early avascular necrosis ...
    Conclusion: ulnar impaction ... There are no features of avascular necrosis." The
    summary (impression, addendum, a "Dx:" line) is the report's last word: a cause it
    names only as negated is left out, wherever else it is named. Weak cues ("no
    fracture") deny nothing.
    """
    denied: set[str] = set()
    affirmed: set[str] = set()
    for cue in cues:
        spec = rules.etiology_cues[cue.rule]
        if spec.etiology is None or spec.weak:
            continue
        line = layout.line_at(cue.char_start)
        if line.section not in rules.summaries and not _summary_label(line, rules):
            continue
        (denied if cue.status == "negated" else affirmed).add(spec.etiology)
    return frozenset(denied - affirmed)


def _carried_forward(records: list[MentionRecord], exams: _LaterExams) -> list[MentionRecord]:
    """What an earlier exam's edema says, for the edema a later exam still shows.

    A case told over several exams names its disease and its bone with the first
    ("MRI showed ... edema of the right femoral head and neck ... Transient
    osteoporosis of pregnancy was diagnosed. Repeat MRI four months postpartum
    showed near-complete resolution, with only minimal residual edema in the femoral
    neck"): a later mention that names no cause of its own keeps those causes, one
    that names no bone ("the repeat MRI showed that the bone marrow lesion had
    enlarged", in the later exam's own sentence) the bones of the last earlier
    mention that names some. Only mentions superseded by a later exam carry causes
    while historical (`_record`).
    """
    if exams.resolved_at < 0:
        return records
    superseded = [
        r for r in records if r.mention.status == "historical" and exams.supersedes(r.mention.end)
    ]
    earlier = [r for r in superseded if r.etiology_evidence]
    strong = [r for r in earlier if not r.weak_etiology]
    carried: dict[str, tuple[str, ...]] = {}
    for r in strong or earlier:
        for category, sentences in r.etiology_evidence.items():
            carried[category] = tuple(dict.fromkeys((*carried.get(category, ()), *sentences)))
    placed = next((r for r in reversed(superseded) if r.bone_sides), None)
    out = []
    for r in records:
        if r.current and r.mention.status in AFFIRMED and r.mention.start > exams.resolved_at:
            if carried and not r.etiology_evidence:
                r = dataclasses.replace(r, etiology_evidence=carried, weak_etiology=not strong)
            if placed is not None and not r.bone_sides and r.mention.end <= exams.resolved_until:
                r = dataclasses.replace(
                    r,
                    bone_sides=placed.bone_sides,
                    mention=dataclasses.replace(
                        r.mention, bones=placed.mention.bones, laterality=placed.mention.laterality
                    ),
                )
        out.append(r)
    return out


def _hedged_by_summary(
    kept: list[tuple[MentionRecord, Match]],
    cues: list[Match],
    layout: Layout,
    rules: RuleSet,
) -> list[MentionRecord]:
    """Signal descriptions whose only explanation, the summary's, is uncertain: possible.

    "Findings: increased STIR signal in the medial cuneiform. Impression: Possible
    stress reaction; ... equivocal." A signal is edema by what the report makes
    of it; when every present mention is a bare signal and the summary sections
    give causes only as possibilities, the edema is possible too.
    """
    records = [r for r, _ in kept]
    present = [(r, m) for r, m in kept if r.current and r.mention.status == "present"]
    if not present or not all(rules.targets[m.rule].signal for _, m in present):
        return records
    if any(r.section in rules.summaries for r, _ in present):
        # "IMP: 1. MFC subchondral T2 bright/T1 dark signal w/ low signal line.
        # ?subchondral insufficiency fx.": the summary states the signal itself as a
        # finding; only its cause is uncertain
        return records
    statuses = {
        c.status
        for c in cues
        if layout.line_at(c.char_start).section in rules.summaries
        or _summary_label(layout.line_at(c.char_start), rules)
    }
    if "possible" not in statuses or "present" in statuses:
        return records
    return [
        dataclasses.replace(r, mention=dataclasses.replace(r.mention, status="possible"))
        if r.current and r.mention.status == "present"
        else r
        for r in records
    ]


def _explained_by_summary(
    kept: list[tuple[MentionRecord, Match]],
    text: str,
    cues: list[Match],
    layout: Layout,
    rules: RuleSet,
) -> list[tuple[MentionRecord, Match]]:
    """Bare signals that the summary explains as something else than edema: negated.

    "Findings: ... patchy intermediate T1 signal ..., minimally brighter on the
    fat-suppressed image. Diagnosis: Red (hematopoietic) marrow reconversion, a normal
    variant." When every affirmed mention is a bare signal, the summary sections affirm
    no edema and name no cause, and one of their sentences names what such a signal is
    instead (clauses.json signal `mimics`), the signals are that.
    """
    signal = rules.signal
    if signal is None or signal.mimics is None:
        return kept
    affirmed = [(r, m) for r, m in kept if r.current and r.mention.status in AFFIRMED]
    if not affirmed or not all(rules.targets[m.rule].signal for _, m in affirmed):
        return kept
    if any(r.section in rules.summaries for r, _ in affirmed):
        return kept

    def summary(offset: int) -> bool:
        line = layout.line_at(offset)
        return line.section in rules.summaries or _summary_label(line, rules)

    if any(
        summary(c.char_start) and c.status in AFFIRMED and rules.etiology_cues[c.rule].etiology
        for c in cues
    ):
        return kept
    explained = any(
        summary(sentence.start)
        and signal.mimics.search(text[sentence.start : sentence.end].lower()) is not None
        for sentence in layout.sentences
    )
    if not explained:
        return kept
    return [
        (
            dataclasses.replace(r, mention=dataclasses.replace(r.mention, status="negated")),
            m,
        )
        if r.current and r.mention.status in AFFIRMED
        else (r, m)
        for r, m in kept
    ]


def _summary_label(line: Line, rules: RuleSet) -> bool:
    """True if the line is labelled as a note's summary ("Dx: ...", "Imp: ...",
    "Radiologist: ..."), in its title block or a current section: it sums the note up
    as a summary section does (sections.json `summary_labels`)."""
    return line.heading in rules.summary_labels and (
        line.section == EXAM_SECTION or line.section in rules.current_sections
    )


def _bone_owned(
    text: str, match: Match, targets: list[Match], layout: Layout, reader: AnatomyReader
) -> bool:
    sentence = layout.sentences[layout.sentence_index(match.char_start)]
    line = layout.lines[sentence.line]
    clause = _clause_of(text, match, targets, layout, reader)
    return reader.bone_owns(text, clause, match.char_start, match.char_end, line.heading)


def _clause_of(
    text: str, match: Match, targets: list[Match], layout: Layout, reader: AnatomyReader
) -> tuple[int, int]:
    index = layout.sentence_index(match.char_start)
    sentence = layout.sentences[index]
    start = match.char_start
    # "surrounding STIR hyperintense edema": a signal right before the word is its
    # adjective, not another clause ("  " at most between them).
    neighbours = [
        (t.char_start, t.char_end)
        for t in _in_sentence(targets, layout, index)
        if t is not match
        and not (start - 3 <= t.char_end <= start and not text[t.char_end : start].strip())
    ]
    if text.startswith("(", match.char_end) or text.startswith(" (", match.char_end):
        aside = _PARENTHESIS_AFTER.match(text, match.char_end, sentence.end)
        if aside is not None:
            # "edema-like signal (low on T1, high on PD fat-sat) in the lateral tibial
            # plateau": the signal in brackets describes the mention, not another clause.
            neighbours = [n for n in neighbours if not aside.start() <= n[0] < aside.end()]
    return reader.clause(
        text, sentence.start, sentence.end, match.char_start, match.char_end, neighbours
    )


_PARENTHESIS_AFTER = re.compile(r" ?\([^()]{1,80}\)")


def _in_sentence(targets: list[Match], layout: Layout, index: int) -> list[Match]:
    """The targets in sentence `index`; the grouping is built once per list (linear work)."""
    key = id(targets)
    cached = _SENTENCE_GROUPS.get(key)
    if cached is None or cached[0] is not targets:
        groups: dict[int, list[Match]] = {}
        for t in targets:
            groups.setdefault(layout.sentence_index(t.char_start), []).append(t)
        cached = (targets, groups)
        _SENTENCE_GROUPS.clear()
        _SENTENCE_GROUPS[key] = cached
    return cached[1].get(index, [])


# One grouping at a time, keyed by the list it was built from (the list is kept
# alive by the entry, so its id cannot be reused while the entry stands).
_SENTENCE_GROUPS: dict[int, tuple[list[Match], dict[int, list[Match]]]] = {}


def _without_described_signals(
    text: str,
    targets: list[Match],
    layout: Layout,
    rules: RuleSet,
    reader: AnatomyReader,
    described: dict[int, Match],
) -> list[Match]:
    """Signal descriptions that a named mention later in their sentence characterises.

    "Subtle STIR signal in the femoral head that may represent early bone
    marrow edema": one finding, whose status is the named mention's. Each such
    named mention's start is mapped to the signal in `described` (it takes the
    signal's bones when its own clause names none: "..., vereinbar mit KMÖ").
    """
    out = []
    for m in targets:
        if rules.targets[m.rule].signal:
            index = layout.sentence_index(m.char_start)
            named = next(
                (
                    t
                    for t in _in_sentence(targets, layout, index)
                    if not rules.targets[t.rule].signal
                    and not rules.targets[t.rule].requires_bone
                    and (
                        t.status not in ("historical", "negated")
                        or _denies_identity(text, m, t, rules)
                    )
                    and m.char_end <= t.char_start
                    and (
                        ";" not in text[m.char_end : t.char_start]
                        # "...; early edema cannot be excluded": a named mention that
                        # names no place of its own speaks of the signal before it
                        or not _names_a_bone(text, t, targets, layout, reader)
                    )
                    and not _elsewhere(text, m, t, targets, layout, reader)
                ),
                None,
            )
            if named is None:
                named = _hedged_in_next_sentence(text, m, targets, layout, rules, reader)
            if named is None:
                named = _denied_later_in_line(text, m, targets, layout, rules, reader)
            if named is not None:
                described.setdefault(named.char_start, m)
                continue
        out.append(m)
    return out


def _hedged_in_next_sentence(
    text: str,
    signal: Match,
    targets: list[Match],
    layout: Layout,
    rules: RuleSet,
    reader: AnatomyReader,
) -> Match | None:
    """A hedged named mention in the next sentence that speaks of the signal, or None.

    "Patchy T2 hyperintensity in the lunate. This may represent early marrow
    edema; ...": the sentence opens by referring back (clauses.json signal
    `refer_back`) and its mention names no bone of its own, so the finding is
    the signal, as hedged as that mention.
    """
    if rules.signal is None:
        return None
    index = layout.sentence_index(signal.char_start)
    if index + 1 >= len(layout.sentences) or any(
        t.char_start > signal.char_start
        for t in _in_sentence(targets, layout, index)
        if t is not signal
    ):
        return None
    if _referring_next(text, layout, index, rules.signal) is None:
        # "... an ill-defined area of increased STIR signal in the medial talar dome. A
        # small osteochondral lesion with marrow edema cannot be excluded.": a next
        # sentence of the same line that names no bone speaks of the signal too
        following = layout.sentences[index + 1]
        if following.line != layout.sentences[index].line or reader.find_bones(
            text[following.start : following.end].lower()
        ):
            return None
    return next(
        (
            t
            for t in _in_sentence(targets, layout, index + 1)
            if not rules.targets[t.rule].signal
            and not rules.targets[t.rule].requires_bone
            and t.status == "possible"
            and not _names_a_bone(text, t, targets, layout, reader)
        ),
        None,
    )


def _denied_later_in_line(
    text: str,
    signal: Match,
    targets: list[Match],
    layout: Layout,
    rules: RuleSet,
    reader: AnatomyReader,
) -> Match | None:
    """A named mention later on the signal's line that denies edema at the signal's bone,
    or, naming no bone, in a sentence that refers back to the signal.

    "The apparent high STIR signal in the cuboid lies at the edge of the field of
    view ... This is artefact: there is no bone marrow edema in the cuboid." The
    paragraph says what the signal is not: the finding is the denied edema.
    """
    index = layout.sentence_index(signal.char_start)
    line = layout.sentences[index].line
    bones: set[str] | None = None
    for later in range(index + 1, len(layout.sentences)):
        if layout.sentences[later].line != line:
            break
        for t in _in_sentence(targets, layout, later):
            if (
                rules.targets[t.rule].signal
                or rules.targets[t.rule].requires_bone
                or t.status != "negated"
                # "... and no other site of marrow oedema": a denial of other places
                or "ELSEWHERE" in t.categories
            ):
                continue
            if bones is None:
                bones = _clause_bones(text, signal, targets, layout, reader)
            own = _clause_bones(text, t, targets, layout, reader)
            if bones & own and not _other_levels(text, signal, t, targets, layout, reader, rules):
                return t
            sentence = layout.sentences[later]
            if (
                not own
                and rules.signal is not None
                and rules.signal.refer_back.match(text[sentence.start : sentence.end].lower())
            ):
                # "... shows an apparent band of high signal across the lateral femoral
                # condyle ... The finding in (a) is therefore an artefact of inhomogeneous
                # fat suppression and not marrow edema."
                return t
    return None


def _other_levels(
    text: str,
    a: Match,
    b: Match,
    targets: list[Match],
    layout: Layout,
    reader: AnatomyReader,
    rules: RuleSet,
) -> bool:
    """True when both mentions' clauses name spine levels, and none the same.

    "?subtle STIR hyperintensity of the L3 and L4 endplates ... Modic 2 change at
    L5-S1, no edema there": one bone name, two places.
    """
    a_lo, a_hi = _clause_of(text, a, targets, layout, reader)
    mine = spine_levels(text[a_lo:a_hi], rules.spine_levels)
    if not mine:
        return False
    b_lo, b_hi = _clause_of(text, b, targets, layout, reader)
    theirs = spine_levels(text[b_lo:b_hi], rules.spine_levels)
    return bool(theirs) and mine.isdisjoint(theirs)


def _clause_bones(
    text: str, match: Match, targets: list[Match], layout: Layout, reader: AnatomyReader
) -> set[str]:
    """The bones the mention's own clause names."""
    lo, hi = _clause_of(text, match, targets, layout, reader)
    return {h.bone for h in reader.find_bones(text[lo:hi].lower())}


def _elsewhere(
    text: str,
    signal: Match,
    named: Match,
    targets: list[Match],
    layout: Layout,
    reader: AnatomyReader,
) -> bool:
    """True when the two mentions' clauses name bones, and none the same: two findings.

    "STIR hyperintensity in the calcaneus, consistent with osteomyelitis, and a
    smaller reactive marrow edema in the adjacent cuboid": the named mention does
    not characterise the signal.
    """
    own = _clause_bones(text, named, targets, layout, reader)
    if not own:
        return False
    at_signal = _clause_bones(text, signal, targets, layout, reader)
    return bool(at_signal) and at_signal.isdisjoint(own)


def _names_a_bone(
    text: str, match: Match, targets: list[Match], layout: Layout, reader: AnatomyReader
) -> bool:
    """True when the mention's own clause names a bone."""
    return bool(_clause_bones(text, match, targets, layout, reader))


def _denies_identity(text: str, signal: Match, named: Match, rules: RuleSet) -> bool:
    """True when `named` is negated by words between the two that say what the signal is not.

    "the signal at the humeral head is not to be rated as bone marrow edema"
    speaks of the signal; "STIR signal in the MFC, no edema in the LFC" does not.
    """
    deny = rules.signal.not_identity if rules.signal is not None else None
    return deny is not None and any(
        category == "NEGATED_EXISTENCE"
        and signal.char_end <= a < named.char_start
        and deny.match(text[a : named.char_start].lower()) is not None
        for a, _, category in named.modifiers
    )


def _earlier_sentences(layout: Layout, index: int, count: int) -> list[int]:
    """Up to `count` sentence indices before `index` in the same section, nearest first."""
    section = layout.lines[layout.sentences[index].line].section
    out = []
    for i in range(index - 1, max(-1, index - 1 - count), -1):
        if layout.lines[layout.sentences[i].line].section != section:
            break
        out.append(i)
    return out


def _signal_in_bone(
    text: str,
    match: Match,
    targets: list[Match],
    layout: Layout,
    rules: RuleSet,
    reader: AnatomyReader,
) -> bool:
    """True if a signal description is edema: fluid-sensitive, and its signal in a bone.

    The sequence may be named in the phrase, its sentence or the sentences
    before it ("Figure 2: STIR. The talar dome is bright."); a clause that
    names no place takes the sentence before it when that one names a bone
    and nothing else ("On T1 a dark area in the talus. On STIR it is bright.").
    """
    signal = rules.signal
    if signal is None:
        return False
    lowered = text.lower()
    phrase = lowered[match.char_start : match.char_end]
    index = layout.sentence_index(match.char_start)
    sentence = layout.sentences[index]
    earlier = _earlier_sentences(layout, index, signal.lookback_sentences)
    if not signal.fluid.search(phrase):
        if signal.not_fluid.search(phrase) and not signal.low.search(phrase):
            return False  # "high T1 signal": fat or blood, not edema
        spans = [(sentence.start, sentence.end)] + [
            (layout.sentences[i].start, layout.sentences[i].end) for i in earlier
        ]
        if not any(signal.fluid.search(lowered[a:b]) for a, b in spans):
            return False
    after = lowered[match.char_end : sentence.end]
    following = " ".join(after.split()[:3])
    near = " ".join(after.split()[:5])
    if (
        signal.inside.match(following.lstrip(" ,;:"))  # "on T1", "in der T1-Wichtung"
        and signal.not_fluid.search(following)
        and not signal.fluid.search(following)
        # ", in T1 flau signalgeminderter Markraum": the dark side of the same finding
        and not signal.low.search(near)
        # ", in T1 regelrechtes Fettmarksignal": T1 is said to be normal
        and not (signal.normal and signal.normal.search(near))
    ):
        return False  # "the endplates are bright on T1": fat
    preceding = " ".join(lowered[sentence.start : match.char_start].split()[-2:])
    if signal.not_fluid.search(preceding) and not signal.fluid.search(f"{preceding} {phrase}"):
        return False  # "band-like T1 hyperintensity"
    # What the rest of its clause says of it; a clause after ";" speaks of something
    # else ("; stress reaction versus artifact from the adjacent fat") unless it opens
    # with what the signal is ("; consistent with a cyst").
    own, semicolon, rest = after.partition(";")
    if semicolon and signal.identity.match(rest.lstrip()):
        own = after
    alternative = signal.alternative.search(own) if signal.alternative is not None else None
    fat = signal.fat_after.search(own) if signal.fat_after is not None else None
    if fat is not None and (alternative is None or fat.start() < alternative.start()):
        # "... that drops out on STIR": fat; not "edema vs artifact from inhomogeneous fat
        # suppression", an alternative
        return False
    said = own[: alternative.start()] if alternative is not None else own
    for found in signal.identity.finditer(said):
        window = " ".join(own[found.end() :].split()[:6])
        if reader.names_structure(window):
            return False
    if _named_next(lowered, layout, index, signal, reader):
        return False  # "... high signal in the metaphyses. This is residual red marrow."
    clause = _clause_of(text, match, targets, layout, reader)
    place = reader.signal_place(text, clause, match.char_start, match.char_end)
    if place is not None:
        return place
    heading = layout.lines[sentence.line].heading
    if heading and reader.find_bones(heading):
        return True  # "2nd MT shaft: subtle STIR signal"
    nearby = earlier[:1]
    if _referring_next(lowered, layout, index, signal) is not None:
        nearby = [index + 1, *nearby]  # "... high signal. This area lies in the cuboid."
    for i in nearby:
        other = lowered[layout.sentences[i].start : layout.sentences[i].end]
        if reader.find_bones(other):
            # What lies beside its place is a landmark ("... of the posterior calcaneal
            # tuberosity, directly deep to a skin ulcer. ... the same region is bright").
            beside = signal.beside.search(other)
            return not reader.names_structure(other[: beside.start()] if beside else other)
    return False


def _named_next(
    lowered: str, layout: Layout, index: int, signal: SignalRules, reader: AnatomyReader
) -> bool:
    """True if the next sentence says what the signal is, a structure ("This is residual
    red (haematopoietic) marrow", "These represent enchondromas"): clauses.json signal
    `refer_back_identity` after its `refer_back` opener, a structure within six words."""
    if signal.refer_back_identity is None:
        return False
    referring = _referring_next(lowered, layout, index, signal)
    if referring is None:
        return False
    words, opener_end = referring
    said = signal.refer_back_identity.match(words, opener_end)
    if said is None:
        return False
    return reader.names_structure(" ".join(words[said.end() :].split()[:6]))


def _referring_next(
    text: str, layout: Layout, index: int, signal: SignalRules
) -> tuple[str, int] | None:
    """The sentence after sentence `index` (lower case) and the end of its opening words,
    when they refer back to the sentence before (clauses.json signal `refer_back`: "This
    area ...", "These ...", "Diese ..."); None otherwise, or after the last sentence."""
    if index + 1 >= len(layout.sentences):
        return None
    following = layout.sentences[index + 1]
    words = text[following.start : following.end].lower().lstrip()
    opener = signal.refer_back.match(words)
    return None if opener is None else (words, opener.end())


def _block_sides(
    text: str, layout: Layout, reader: AnatomyReader, rules: RuleSet
) -> list[str | None]:
    """For each line, the side of the block title above it in its section ("RIGHT KNEE:"),
    or of a side label that opens it ("R: ...", "Lt wrist: ...", laterality.json
    `line_labels`)."""
    labels = dict(rules.side_labels)
    item = list_item(rules.list_marker)
    sides: list[str | None] = []
    current: str | None = None
    section = None
    for k, line in enumerate(layout.lines):
        if line.section != section:
            section, current = line.section, None
        raw = text[line.start : line.end].strip()
        words = raw.rstrip(":").split()
        side = None
        if (
            0 < len(words) <= 4
            and (raw.endswith(":") or raw.isupper() or _titles_a_list(text, layout, k, raw, item))
            and ". " not in raw
        ):
            side = reader.side_of(raw.lower())
        if side is None:
            # "R: ...", "Lt wrist: ...", and one label after a header ("Findings: Right
            # femoral head: crescent ...")
            for label in raw.split(":")[:-1][: 2 if line.heading else 1]:
                label_words = label.lower().split()
                if not 0 < len(label_words) <= 3:
                    break
                side = labels.get(label_words[0].rstrip("."))
                if side is not None:
                    break
        if side is not None:
            current = side
        sides.append(current)
    return sides


def _titles_a_list(text: str, layout: Layout, k: int, raw: str, item: re.Pattern[str]) -> bool:
    """Whether line `k` (`raw`, stripped), of at most three words without a full stop,
    is the title of the list right below it in its section ("Right foot" over "- 3rd
    metatarsal: STIR-bright marrow ..."; `item`: sentences.json `list_marker`)."""
    if len(raw.split()) > 3 or raw.endswith(".") or k + 1 >= len(layout.lines):
        return False
    below = layout.lines[k + 1]
    return below.section == layout.lines[k].section and bool(
        item.match(text[below.start : below.end])
    )


# Sections whose side words are no side of the report's text: the title block, a
# teaching discussion's ("The left hip is affected about as often as the right") and an
# earlier exam's comparison ("MRI of the left ankle two years ago"; used when nothing
# else names a side).
_SIDELESS_SECTIONS = (EXAM_SECTION, DISCUSSION_SECTION, "comparison")
# How far before "the other knee" the side word it is the other of may stand, in characters.
_OPPOSITE_CHARS = 300
_OTHER_SIDE = {"left": "right", "right": "left"}


def _text_side(
    text: str,
    layout: Layout,
    reader: AnatomyReader,
    rules: RuleSet,
    skipped: tuple[str, ...] = (),
    title: str = "",
) -> str | None:
    """The one side the report's text names outside its title block, the history first.

    "History: right knee pain." gives right; a text naming both sides
    ("prior left hip episode, now right knee pain") gives none, so the title
    or the procedure decides. Sides named in the `skipped` sections do not count
    (by default a teaching discussion's and an earlier exam's comparison). Where both
    sides are named, the one said with the joint the `title` (title block and procedure)
    names is the report's.
    """
    skipped = skipped or _SIDELESS_SECTIONS
    normal = rules.normal_side
    opposite = rules.side_opposite
    title_side = _title_side(title, reader, rules, without_past=True) if title.strip() else None
    # a side word said of a past event ("Previous ORIF of the left ankle (2017)") is no
    # side of an exam whose title names the other side, nor, with no title side, beside
    # the other side said of no past event
    past_side = _OTHER_SIDE.get(title_side or "") if rules.side_past is not None else None

    def named(lower: str) -> list[tuple[int, str]]:
        """Side words, without those that only say a side is normal ("the right knee is
        normal": the other knee is the patient's); "the other knee" after a side word
        is the other side, and that side word is no side of the exam."""
        found = reader.laterality_words(lower)
        if not found:
            return found
        if normal is not None:
            spans = [m.span() for m in normal.finditer(lower)]
            found = [w for w in found if not any(a <= w[0] < b for a, b in spans)]
        if opposite is not None and found:
            for m in opposite.finditer(lower):
                before = [
                    w
                    for w in found
                    if m.start() - _OPPOSITE_CHARS <= w[0] < m.start() and w[1] in _OTHER_SIDE
                ]
                if before:
                    found.remove(before[-1])
                    found.append((m.start(), _OTHER_SIDE[before[-1][1]]))
            found.sort()
        if rules.side_past is not None and found:
            if past_side is not None:
                found = [
                    w for w in found if w[1] != past_side or not _said_of_past(lower, w[0], rules)
                ]
            elif {"left", "right"} <= {side for _, side in found}:
                # "Old ununited ulnar styloid fracture of the right wrist ... Fall onto the
                # left hand": of both sides, the one not said of a past event
                now = [w for w in found if not _said_of_past(lower, w[0], rules)]
                if now and len({side for _, side in now}) == 1:
                    found = now
        return found

    exam_joints = frozenset(
        joint for joint, rx in rules.exam_joints if title and rx.search(title.lower())
    )
    history = [x for x in layout.lines if x.section == "history"]
    if history:
        joined = " ".join(text[x.start : x.end] for x in history).lower()
        words = named(joined)
        if rules.side_past is not None:
            # a history that names a side only for a past event ("Right distal radius
            # fracture as a child.") leaves the side to the rest of the text
            words = [w for w in words if not _said_of_past(joined, w[0], rules)]
        sides = {side for _, side in words}
        by_joint = _side_by_joint(joined, words, exam_joints, rules)
        if len(sides) == 1 and by_joint != _OTHER_JOINTS:
            return sides.pop()
        if len(sides) > 1 and by_joint not in (None, _OTHER_JOINTS):
            return by_joint
    # Then one scan of the whole text, each side word placed in its line's section.
    starts = [x.start for x in layout.lines]
    counted: list[tuple[int, str]] = []
    current: set[str] = set()  # sides of the findings, impression or addendum
    lower = text.lower()
    for offset, side in named(lower):
        i = bisect_right(starts, offset) - 1
        if i >= 0 and offset <= layout.lines[i].end and layout.lines[i].section not in skipped:
            counted.append((offset, side))
            if layout.lines[i].section in rules.current_sections:
                current.add(side)
    rest = {side for _, side in counted}
    by_joint = _side_by_joint(lower, counted, exam_joints, rules)
    if len(rest) > 1:
        if by_joint not in (None, _OTHER_JOINTS):
            return by_joint
        # the history names both sides, the findings one ("seven months earlier a
        # painful left knee ... Image 1: Sagittal T1-weighted image of the right ankle")
        if len(current) == 1:
            return current.pop()
        exam = rules.exam_sentence
        if exam is not None:
            # both sides named ("she had a left ACL reconstruction in 2016 ... I requested
            # an MRI of the right wrist"): the side given with the exam (sections.json
            # `exam_sentence`) is the report's
            with_exam = {reader.side_of(m.group()) for m in exam.finditer(lower)} - {None}
            if len(with_exam) == 1:
                return with_exam.pop()
    if len(rest) == 1 and by_joint != _OTHER_JOINTS:
        return rest.pop()
    return None


def _title_side(
    title: str, reader: AnatomyReader, rules: RuleSet, without_past: bool = False
) -> str | None:
    """The side a title block (or procedure) names, without side words laterality.json
    `normal_side` says are not the exam's ("MRT Sprunggelenk RECHTS (Seitenangabe der
    Anforderung „links“ fehlerhaft)"), and `without_past`, without those said of a past
    event (a title block that is a history line: "Runner. Hx R fibula ORIF 2019."); both
    sides -> bilateral."""
    side = reader.side_of(title)  # remembered for short texts: titles repeat
    if side is None:
        return None
    normal = rules.normal_side
    lower = title.lower()
    normal_hit = normal is not None and normal.search(lower) is not None
    past = rules.side_past if without_past else None
    if not normal_hit and (past is None or past.search(lower) is None):
        return side
    words = reader.laterality_words(lower)
    if normal is not None and normal_hit:
        spans = [m.span() for m in normal.finditer(lower)]
        words = [w for w in words if not any(a <= w[0] < b for a, b in spans)]
    if past is not None:
        words = [w for w in words if not _said_of_past(lower, w[0], rules)]
    return one_side(named for _, named in words)


# Where the sentence of a side word begins and ends, for `_said_of_past`, and how far
# either way it is looked for, in characters.
_SENTENCE_END = re.compile(r"[.;!?\n](?:\s|$)|\n")
_PAST_SENTENCE_CHARS = 200
# How many words either side of the side word a present complaint may stand.
_COMPLAINT_WORDS = 3


def _said_of_past(lower: str, offset: int, rules: RuleSet) -> bool:
    """Whether the sentence of the side word at `offset` tells a past event (laterality.json
    `past`: "Previous ORIF of the left ankle (2017).", "Right shoulder stabilisation 2019")
    and no present complaint (`past_unless`: "left knee pain after meniscectomy")."""
    past = rules.side_past
    if past is None:
        return False
    lo, hi = max(0, offset - _PAST_SENTENCE_CHARS), offset + _PAST_SENTENCE_CHARS
    starts = [m.end() for m in _SENTENCE_END.finditer(lower, lo, offset)]
    start = starts[-1] if starts else lo
    end_match = _SENTENCE_END.search(lower, offset, hi)
    end = end_match.start() if end_match else min(len(lower), hi)
    if past.search(lower, start, end) is None:
        return False
    unless = rules.side_past_unless
    if unless is None:
        return True
    # the complaint said with the side word ("left knee pain", "pain in the left knee"), not
    # anywhere in a long unpunctuated line ("... swelling since ?ACL had a left knee
    # arthroscopy in 2017")
    before = lower[start:offset].split()[-_COMPLAINT_WORDS:]
    after = lower[offset:end].split()[: _COMPLAINT_WORDS + 1]
    return unless.search(" ".join(before + after)) is None


# How many words may stand between a side word and the joint it is said of ("the left
# wrist", "left-sided painful knee"), and how near after the joint a side word may follow
# ("Knie links").
_JOINT_WORDS = 2
_JOINT_GAP = re.compile(rf"[\s-]*(?:[^\W\d]+[\s-]+){{0,{_JOINT_WORDS}}}")
_JOINT_BEFORE_CHARS = 24
_WORD_START = re.compile(r"(?<![^\W\d])[^\W\d]")


# `_side_by_joint`'s answer when every side word is said only of other joints than the exam's.
_OTHER_JOINTS = "other joints"


def _side_by_joint(
    lower: str, words: list[tuple[int, str]], exam_joints: frozenset[str], rules: RuleSet
) -> str | None:
    """What the joints the side words are said of tell, when each is said of one (of
    laterality.json `exam_joints`) and the title names a joint: the one side said of the
    exam's joints ("grazes on the left elbow and pain at the right wrist" under "MRI of
    the wrist"), `_OTHER_JOINTS` when none is ("Episode of left hip transient
    osteoporosis" under "MRI RIGHT KNEE"), else None ("pain on the right side ... left
    shoulder: cuff repair 2020" names no side by joints)."""
    if not exam_joints or not words:
        return None
    sides: set[str] = set()
    for offset, side in words:
        said = {joint for joint, rx in rules.exam_joints if _said_with(lower, offset, rx)}
        if not said:
            return None
        if said & exam_joints:
            sides.add(side)
    if not sides:
        return _OTHER_JOINTS
    return sides.pop() if len(sides) == 1 else None


def _said_with(lower: str, offset: int, joint: re.Pattern[str]) -> bool:
    """Whether the side word at `offset` is said of a `joint` word: right before it, at
    most `_JOINT_WORDS` words between ("left wrist"), or right after it ("Knie links")."""
    word_end = _WORD.match(lower, offset).end()  # type: ignore[union-attr]
    gap = _JOINT_GAP.match(lower, word_end)
    gap_end = gap.end() if gap is not None else word_end
    starts = [m.start() for m in _WORD_START.finditer(lower, word_end, gap_end)] + [gap_end]
    if any(joint.match(lower, at) for at in starts):
        return True
    before = [m.end() for m in joint.finditer(lower, max(0, offset - _JOINT_BEFORE_CHARS), offset)]
    return bool(before) and not lower[before[-1] : offset].strip(" \t-")


def _named_bone_sides(
    text: str, layout: Layout, reader: AnatomyReader, rules: RuleSet
) -> dict[str, str]:
    """Bones that the report's current sentences name with one side, and that side.

    A side word of a findings, impression or addendum sentence (or one of no section)
    names the bone right before or after it, at most one word and no punctuation
    between ("the left acetabulum", "Metatarsale-I-Köpfchen links"); a bone given both
    sides gets none. A side said to be normal ("Rechte Hüfte regelrecht") does not count.
    """
    lower = text.lower()
    words = reader.laterality_words(lower)
    if not words:
        return {}
    normal = rules.normal_side
    spans = [m.span() for m in normal.finditer(lower)] if normal is not None else []
    by_sentence: dict[int, list[tuple[int, str]]] = {}
    for offset, side in words:
        # nor a side said of a past event ("previous right hallux amputation")
        if not any(a <= offset < b for a, b in spans) and not _said_of_past(lower, offset, rules):
            by_sentence.setdefault(layout.sentence_index(offset), []).append((offset, side))
    seen: dict[str, set[str]] = {}
    for index, offsets in by_sentence.items():
        sentence = layout.sentences[index]
        if layout.lines[sentence.line].section not in rules.current_sections:
            continue
        said = lower[sentence.start : sentence.end]
        hits = reader.find_bones(said)
        for offset, side in offsets:
            at = offset - sentence.start
            word_end = _WORD.match(said, at).end()  # type: ignore[union-attr]
            for hit in hits:
                # right before the bone ("left acetabulum") or right after it
                # ("Metatarsale-I-Köpfchen links"), at most one word between
                gap = said[word_end : hit.start] if hit.start >= word_end else said[hit.end : at]
                if (
                    (hit.start >= word_end or hit.end <= at)
                    and len(gap.split()) <= 1
                    and not _GAP_BREAK.search(gap)
                    # "the contralateral femoral neck and both femoral heads": a side
                    # after "and" is the next bone's
                    and (hit.start >= word_end or not _GAP_JOIN.search(gap))
                ):
                    seen.setdefault(hit.bone, set()).add(side)
    return {bone: sides.pop() for bone, sides in seen.items() if len(sides) == 1}


_GAP_BREAK = re.compile(r"[,;:.()]")
_GAP_JOIN = re.compile(r"\b(?:and|or|und|oder|sowie)\b")
_WORD = re.compile(r"\S*")


def _record(
    text: str,
    unwrapped: str,
    match: Match,
    targets: list[Match],
    cues: list[Match],
    layout: Layout,
    rules: RuleSet,
    reader: AnatomyReader,
    fallback: Callable[[str | None], str | None],
    blocks: list[str | None],
    captions: _CaptionSides,
    exams: _LaterExams,
    standing: bool,
    signal: Match | None = None,
) -> MentionRecord:
    """One mention's record; `signal`: the signal description it characterises, if any.

    `exams`: where the text tells of later exams (`_later_exams`); `standing`: the
    report's differential diagnosis is its last word (`_standing_differential`).
    """
    index = layout.sentence_index(match.char_start)
    sentence = layout.sentences[index]
    line = layout.lines[sentence.line]
    # A case told in a history section, with no findings section: its exam results
    # are the case's findings ("Case presentation: ... MRI two weeks after onset
    # revealed bone marrow edema in the medial femoral condyle").
    # The sentences after one that tells a result on its line go on telling it
    # ("MRT li. Knie (14.01.): Ruptur des VKB. Bone bruise im lateralen Femurkondylus").
    told = (
        exams.story
        and line.section == "history"
        and (
            _tells_result(unwrapped, sentence.start, sentence.end, rules)
            or (
                line.start < sentence.start
                and _tells_result(unwrapped, line.start, sentence.end, rules)
            )
        )
    )
    current = (
        line.section in rules.current_sections
        or told
        or (standing and line.section == DIFFERENTIAL_SECTION)
        # "Discussion: ... That high STIR signal is marrow edema surrounding the
        # fracture line": a teaching discussion's word about this case's images, said
        # before the mention (not "Edema ... accompanies insertional disease, but it is
        # not seen in this case")
        or _speaks_of_case(unwrapped, layout, rules, index, upto=match.char_end)
    )
    status = match.status
    if (
        status == "present"
        and rules.targets[match.rule].signal
        and (
            _cause_only_hedged(cues, sentence)
            or (
                rules.signal is not None
                and _referring_next(unwrapped, layout, index, rules.signal) is not None
                and _cause_only_hedged(cues, layout.sentences[index + 1])
                and not any(t.status in AFFIRMED for t in _in_sentence(targets, layout, index + 1))
            )
        )
    ):
        # "faint STIR signal in the 2nd MT shaft, questionable early stress reaction":
        # a signal is edema by what the report makes of it, and it only hedges that;
        # so does the next sentence that refers back to it ("This may represent an
        # early stress reaction, but ...").
        status = "possible"
    if line.section in _PRIOR_SECTIONS and status in AFFIRMED and not told:
        status = "historical"
    # An earlier exam's edema that a later one found gone still tells the case's cause.
    superseded = status in AFFIRMED and exams.supersedes(match.char_end)
    if (
        status in AFFIRMED
        and _after_prior_exam(unwrapped, match, sentence.start, rules, exams)
        and not (superseded and _heads_history(layout, line, rules))
    ):
        status = "historical"
    clause = _clause_of(unwrapped, match, targets, layout, reader)
    block = blocks[sentence.line]
    opener = _opening_side(unwrapped, sentence, rules, reader)
    if opener is not None:
        # "On the right, ..., and a faint band of STIR signal in the fibula."
        block = opener
    elif block is None:
        # "Image 1: coronal PD fat-sat, right knee. ... a region of high signal"
        block = captions[index]
    if block is not None:
        # Under "RIGHT KNEE:" in a report of both knees, that block's side comes
        # before the rest of the report's.
        def fallback(bone: str | None = None) -> str | None:
            return block

    anatomy = reader.read(
        unwrapped, clause, match.char_start, match.char_end, line.heading, fallback
    )
    if not anatomy.bones and signal is not None:
        # "Subchondral signal in the medial plateau on PD fs, consistent with BME":
        # the bones are the signal's, in the clause before the break.
        at_signal = reader.read(
            unwrapped,
            _clause_of(unwrapped, signal, targets, layout, reader),
            signal.char_start,
            signal.char_end,
            line.heading,
            fallback,
        )
        anatomy = dataclasses.replace(at_signal, severity=anatomy.severity or at_signal.severity)
    if rules.around is not None and (
        not anatomy.bones
        or (
            rules.around_spreads is not None
            and rules.around_spreads.search(unwrapped, match.char_end, clause[1]) is not None
        )
    ):
        anatomy = _around_what_came_before(
            unwrapped, match, clause, index, layout, rules, reader, anatomy, fallback
        )
    if rules.continuation is not None and anatomy.bones:
        anatomy = _continued(unwrapped, match, targets, sentence, rules, reader, anatomy, fallback)
    if not anatomy.bones and (rules.targets[match.rule].signal or opener is not None):
        # "MR images show high T2 signal in a subchondral pattern." after a
        # sentence naming the femoral heads: the signal is theirs; or before
        # "This area lies in the cuboid." Edema a sentence gives a side of its own
        # and no bone ("... calcaneal body on the right, with surrounding oedema. On
        # the left there is a smaller zone of marrow oedema") is in the bones of the
        # sentence before, on its own side.
        nearby = _earlier_sentences(layout, index, 1)
        if (
            rules.signal is not None
            and _referring_next(unwrapped, layout, index, rules.signal) is not None
        ):
            nearby = [index + 1, *nearby]
        for i in nearby[:1]:
            earlier = layout.sentences[i]
            heading = layout.lines[earlier.line].heading
            borrowed = reader.read(
                unwrapped,
                (earlier.start, earlier.end),
                earlier.start,
                earlier.start,
                heading,
                fallback,
            )
            if opener is not None:
                borrowed = reader.on_side(borrowed, opener)
            elif block is not None and earlier.line != sentence.line:
                # "Rechts: ... epiphysär ... STIR hyperintens.\nLinks: ... ebenfalls eine
                # schmale, STIR-hyperintense Zone": the bone before, on this block's side
                borrowed = reader.on_side(borrowed, block)
            anatomy = dataclasses.replace(borrowed, severity=anatomy.severity)
    sides = {side for _, side in anatomy.bones}
    laterality = None
    for side in sides:
        laterality = side if laterality is None or laterality == side else "bilateral"
    if not anatomy.bones:
        laterality = fallback(None)
    section = line.section
    if current and section != "impression" and _summary_label(line, rules):
        # "Dx: inhomogeneous fat suppression artefact. No bone marrow edema." sums the
        # note up as an impression does, and decides over the findings as one
        section = "impression"
    mention = Mention(
        start=match.char_start,
        end=match.char_end,
        text=text[match.char_start : match.char_end],
        status=status,  # type: ignore[arg-type]
        section=rules.section_output.get(section) if section else None,
        bones=tuple(b for b, _ in anatomy.bones),
        laterality=laterality,  # type: ignore[arg-type]
        severity=anatomy.severity,
        sentence_start=sentence.start,
        sentence_end=sentence.end,
        joints=tuple(dict.fromkeys(reader.joint_of[b] for b, _ in anatomy.bones)),
    )
    evidence: dict[str, tuple[str, ...]] = {}
    weak = False
    cause_cues: tuple[tuple[int, int, str], ...] = ()
    if current and (status in AFFIRMED or superseded):
        bones = frozenset(b for b, _ in anatomy.bones)
        evidence, weak, cause_cues = _etiology(
            unwrapped, match, index, sentence.line, cues, layout, rules, reader, bones
        )
    mention = dataclasses.replace(
        mention,
        modifiers=tuple(
            Modifier(a, b, text[a:b], category)
            for a, b, category in sorted({*match.modifiers, *cause_cues})
        ),
    )
    return MentionRecord(
        mention=mention,
        section=section,
        current=current,
        bone_sides=anatomy.bones,
        sentence=unwrapped[sentence.start : sentence.end],
        elsewhere="ELSEWHERE" in match.categories,
        etiology_evidence=evidence,
        weak_etiology=weak,
    )


def _semicolon_part(text: str, sentence: Sentence, at: int) -> tuple[int, int]:
    """The ";"-delimited part of `sentence` around offset `at` (start, end)."""
    lo = text.rfind(";", sentence.start, at)
    hi = text.find(";", at, sentence.end)
    return (lo + 1 if lo >= 0 else sentence.start), (hi if hi >= 0 else sentence.end)


def _generic_hypothetical(
    text: str,
    matches: list[Match],
    layout: Layout,
    generic: re.Pattern[str],
    causes_too: bool = False,
) -> list[Match]:
    """Mentions in sentences about a disease in general, as hypothetical.

    The causes such a sentence names stay: a teaching text's general words are
    mostly about the case's own disease ("Steroid-associated avascular necrosis
    is often bilateral"); with `causes_too` (a sentence that sets another disease
    against the case) they are hypothetical as well.
    """
    verdicts: dict[tuple[int, int], bool] = {}
    out = []
    for m in matches:
        if m.label != BME_LABEL and not causes_too:
            out.append(m)
            continue
        index = layout.sentence_index(m.char_start)
        sentence = layout.sentences[index]
        # a ";" opens a part that may be such a sentence of its own ("... is typical of
        # osteoarthritis; osteonecrosis, by contrast, usually involves the femoral head")
        part, _ = _semicolon_part(text, sentence, m.char_start)
        if (index, part) not in verdicts:
            whole = generic.match(text[sentence.start : sentence.end].lower())
            rest = text[part : sentence.end].lstrip().lower()
            own = part != sentence.start and generic.match(rest)
            verdicts[index, part] = bool(whole or own)
        if verdicts[index, part] and m.status != "hypothetical":
            m = dataclasses.replace(m, status="hypothetical")
        out.append(m)
    return out


def _unchosen_hypothetical(
    text: str, matches: list[Match], layout: Layout, rules: RuleSet
) -> list[Match]:
    """Mentions in a quiz's choices as hypothetical, but in the one its answer picks.

    "D. Patellar bone bruise from transient lateral dislocation ... Answer: B." says
    what the case might have been, not what it shows.
    """
    chosen = functools.cache(lambda: _chosen(text, rules))
    out = []
    for m in matches:
        if m.label == BME_LABEL and m.status != "hypothetical":
            letter = _answer_option(
                text, layout, layout.sentences[layout.sentence_index(m.char_start)].line
            )
            if letter is not None and letter not in chosen():
                m = dataclasses.replace(m, status="hypothetical")
        out.append(m)
    return out


def _chosen(text: str, rules: RuleSet) -> tuple[str, ...]:
    """The letters a quiz's answer picks ("Answer: B"), lower case."""
    choice = rules.answer_choice
    return () if choice is None else tuple(m.group(1) for m in choice.finditer(text.lower()))


class _CaptionSides:
    """For each sentence, the side a figure caption or exam label before it on its line names.

    "Image 1: coronal PD fat-sat, right knee. ... the subchondral marrow contains a
    region of high signal": the caption's sentence (the last one of the line, up to
    this one, that opens with "Image 1:", "Figure 2.", with the exam and a colon,
    "MRT des rechten Vorfußes (24.10.): ...", or with the exam and its side, "The MRI
    of his left foot, performed last week, ...") is nearer to the findings told after
    it than a history of both knees. A line is read on first need, once.
    """

    def __init__(self, text: str, layout: Layout, rules: RuleSet, reader: AnatomyReader) -> None:
        self._text, self._layout, self._reader = text, layout, reader
        self._figure = rules.figure_line
        heading = rules.exam_heading
        self._exam = None if heading is None else _exam_label(heading.pattern)
        self._said = rules.exam_sentence
        self._sides: dict[int, str | None] = {}

    def __getitem__(self, index: int) -> str | None:
        if index not in self._sides:
            self._read_line(index)
        return self._sides[index]

    def _read_line(self, index: int) -> None:
        sentences = self._layout.sentences
        line = sentences[index].line
        first = index
        while first > 0 and sentences[first - 1].line == line:
            first -= 1
        side = None
        for i in range(first, len(sentences)):
            sentence = sentences[i]
            if sentence.line != line:
                break
            said = self._text[sentence.start : sentence.end].lower()
            if (
                (self._figure is not None and self._figure.match(said) is not None)
                or (self._exam is not None and self._exam.match(said) is not None)
                or (self._said is not None and self._said.match(said) is not None)
            ):
                side = self._reader.side_of(said)
            self._sides[i] = side


@functools.lru_cache(maxsize=4)
def _exam_label(heading: str) -> re.Pattern[str]:
    """An exam named as a label before its findings ("MRT des rechten Vorfußes (24.10.): ...")."""
    return re.compile(rf"(?:{heading})\s*(?:\([^)]{{0,30}}\))?\s*:")


def _opening_side(
    text: str, sentence: Sentence, rules: RuleSet, reader: AnatomyReader
) -> str | None:
    """The side a sentence opens with for all of it ("On the right, ..."), if any."""
    if rules.side_opener is None:
        return None
    opened = rules.side_opener.match(text[sentence.start : sentence.end].lower())
    return reader.side_of(opened.group()) if opened else None


def _heads_history(layout: Layout, line: Line, rules: RuleSet) -> bool:
    """Whether `line` is a summary above the text's history: a letter's diagnosis.

    "Diagnose: Migratorisches Knochenmarködemsyndrom / Anamnese: ... / Im
    Kontroll-MRT des linken Knies ist das frühere Ödem vollständig rückläufig": the
    later exam of the story does not make the letter's own diagnosis an earlier one.
    """
    if line.section not in rules.summaries:
        return False
    return any(
        other.section == HISTORY_SECTION for other in layout.lines if other.start > line.start
    )


def _after_prior_exam(
    text: str, match: Match, sentence_start: int, rules: RuleSet, exams: _LaterExams
) -> bool:
    """Whether the mention is among an earlier exam's findings, told in prose.

    "Eighteen months ago an MRI of the right knee showed ... marrow edema" is
    history; "..., but the lateral plateau now contains new edema" and edema the
    sentence says persists are not. "Initial MRI: ..." is an earlier exam when the
    text goes on to a later one.
    """
    prior = rules.prior_exam
    if prior is None:
        return False
    before = text[sentence_start : match.char_start].lower()
    if exams.supersedes(match.char_end):
        # "MRI demonstrated ... edema of the femoral head. A repeat MRI after eight
        # weeks showed complete resolution ...": the later exam's word stands, also
        # over edema that persisted until then ("follow-up of the known edema because
        # she still has pain. Follow-up MRI: normal marrow signal now"); not over edema
        # its own sentence calls current ("Die MRT zeigt ein neu aufgetretenes Ödem im
        # Talus rechts. Im Kontroll-MRT des linken Knies ist das frühere Ödem
        # vollständig rückläufig": the later exam is of another joint).
        return prior.current is None or prior.current.search(before) is None
    if "PERSISTENT" in match.categories:
        return False
    ends = [m.end() for m in prior.opener.finditer(before)]
    if (
        not ends
        and prior.labelled is not None
        and prior.later is not None
        and exams.mentioned_at > match.char_end
    ):
        # "Initial MRI: ... marrow edema of the navicular. Follow-up MRI at 4 months: ..."
        ends = [m.end() for m in prior.labelled.finditer(before)]
        if not ends:
            # "Initial MRI (day 5):" on a line of its own, its findings listed below it
            return exams.under_label(sentence_start)
    return bool(ends) and prior.pivot.search(before, ends[-1]) is None


@functools.lru_cache(maxsize=4)
def _label_line(labelled: str) -> re.Pattern[str]:
    """`labelled` (an earlier exam's label) as the whole of a line, its colon optional.

    "Initial MRI" on a line of its own heads its findings as "Initial MRI:" does.
    """
    if labelled.endswith(r"\s*:"):
        labelled = labelled[: -len(r"\s*:")] + r"\s*:?"
    return re.compile(rf"(?m)^[ \t]*(?:{labelled})[ \t]*$")


@dataclasses.dataclass(frozen=True)
class _LaterExams:
    """Where a text tells of exams after the one its findings start with (-1: nowhere).

    `mentioned_at`: the last mention of a later exam ("Follow-up MRI at 4 months");
    `resolved_at`: the start of the last sentence (or part of one between ";") in
    which a later exam that was done finds the edema gone ("A repeat MRI after
    eight weeks showed complete resolution of the marrow edema") or, after an
    earlier mention, tells of edema itself; every affirmed mention before it is
    the earlier exam's.
    """

    mentioned_at: int = -1
    resolved_at: int = -1
    resolved_until: int = -1  # the end of that sentence
    # No findings section: a case told in a history section
    # ("Case presentation: ... MRI revealed ..."), whose exam results are its findings.
    story: bool = False
    # Where findings listed under an earlier exam's label line stand: from the end of
    # each such line ("Initial MRI (day 5 after injury):") to the next later exam named.
    labelled: tuple[tuple[int, int], ...] = ()

    def supersedes(self, end: int) -> bool:
        """Whether a mention ending at `end` is an earlier exam's, by a later one."""
        return end <= self.resolved_at

    def under_label(self, start: int) -> bool:
        """Whether text from `start` is listed under an earlier exam's label line."""
        return any(a <= start < b for a, b in self.labelled)


# How far before "resolved" the words naming what resolved are read, in characters.
_RESOLVED_SUBJECT_CHARS = 40


def _later_exams(
    text: str, layout: Layout, rules: RuleSet, targets: list[Match], reader: AnatomyReader
) -> _LaterExams:
    """The text's `_LaterExams`, found once a report (`targets`: its mentions)."""
    prior = rules.prior_exam
    if prior is None or prior.later is None:
        return _LaterExams()
    lowered = text.lower()
    starts = [m.start() for m in prior.later.finditer(lowered)]
    mentioned_at = starts[-1] if starts else -1
    labelled: tuple[tuple[int, int], ...] = ()
    if starts and prior.labelled is not None:
        labelled = tuple(
            (found.end(), next((s for s in starts if s >= found.end()), len(text)))
            for found in _label_line(prior.labelled.pattern).finditer(lowered)
        )
    # Only a text with a mention in its history can tell its case there.
    story = (
        prior.result is not None
        and any(layout.line_at(t.char_start).section == "history" for t in targets)
        and not _holds_findings(text, layout)
    )
    if prior.resolved is None or prior.done_later is None or prior.not_done is None or not targets:
        return _LaterExams(mentioned_at, story=story, labelled=labelled)
    resolved_at = resolved_until = -1
    first = min(t.char_start for t in targets)
    # A later exam that found the edema gone: the part of its sentence between
    # semicolons ("... around a nidus; the lesion was ablated, and an MRI three
    # months later showed that the oedema had gone."). Only after a mention.
    for found in prior.resolved.finditer(lowered, first):
        if found.start() < resolved_at:
            continue
        part, sentence = _part_of_sentence(lowered, layout, found.start(), found.end())
        # "Follow-up MRI: periosteal edema resolved; marrow signal still ...": what
        # resolved is soft tissue (read only when a later exam could be its sentence's)
        soft = functools.cache(
            lambda part=part, found=found: reader.names_only_soft_tissue(
                lowered[max(part[0], found.start() - _RESOLVED_SUBJECT_CHARS) : found.start()]
            )
        )
        if prior.done_later.search(lowered, *part) and not prior.not_done.search(lowered, *part):
            if not soft():
                resolved_at, resolved_until = part[0], sentence[1]
            continue
        # ... or in one of the two sentences before, on the same line: "... and a new
        # MRI was done. The graft is intact. The bone bruises seen on the first scan
        # have completely resolved."
        index = layout.sentence_index(found.start())
        for back in layout.sentences[max(0, index - 2) : index]:
            if (
                back.line == layout.sentences[index].line
                and back.start > first
                and back.start > resolved_at
                and prior.done_later.search(lowered, back.start, back.end)
                and not prior.not_done.search(lowered, back.start, back.end)
                and not soft()
            ):
                resolved_at, resolved_until = back.start, sentence[1]
                break
    # ... or a later exam whose sentence tells of edema itself (present, hedged or
    # gone: "A follow-up MRI at five months showed ...; there was questionable faint
    # edema-like signal in the greater tuberosity"), after an earlier mention. Only
    # the sentences of the mentions are searched.
    searched: set[int] = set()
    for target in sorted(targets, key=lambda t: t.char_start):
        index = layout.sentence_index(target.char_start)
        sentence_span = layout.sentences[index]
        if index in searched or sentence_span.start <= first:
            continue
        searched.add(index)
        exam = prior.done_later.search(lowered, sentence_span.start, target.char_start)
        if exam is None:
            continue
        part, sentence = _part_of_sentence(lowered, layout, exam.start(), exam.end())
        if part[0] > resolved_at and not prior.not_done.search(lowered, *part):
            resolved_at, resolved_until = part[0], sentence[1]
    return _LaterExams(mentioned_at, resolved_at, resolved_until, story, labelled)


def _holds_findings(text: str, layout: Layout) -> bool:
    """Whether a findings section after the history holds anything besides its title.

    A "FINDINGS:" line alone, or one that a sending system put above a whole case
    report (its title and introduction come before "Case presentation:"), is no
    findings section: a report tells its history before its findings.
    """
    history = next((i for i, line in enumerate(layout.lines) if line.section == "history"), -1)
    for line in layout.lines[history + 1 :]:
        if line.section == FINDINGS_SECTION:
            raw = text[line.start : line.end]
            _, colon, rest = raw.partition(":")
            if (rest if colon else raw).strip():
                return True
    return False


def _tells_result(text: str, start: int, end: int, rules: RuleSet) -> bool:
    """Whether text[start:end] tells an exam's result (clauses.json prior_exam `result`)."""
    prior = rules.prior_exam
    return (
        prior is not None
        and prior.result is not None
        and prior.result.search(text[start:end].lower()) is not None
    )


def _part_of_sentence(
    lowered: str, layout: Layout, start: int, end: int
) -> tuple[tuple[int, int], tuple[int, int]]:
    """The part of the sentence around [start, end) between semicolons, and the sentence."""
    sentence = layout.sentences[layout.sentence_index(start)]
    begin = max(sentence.start, lowered.rfind(";", sentence.start, start) + 1)
    stop = lowered.find(";", end, sentence.end)
    return (begin, stop if stop >= 0 else sentence.end), (sentence.start, sentence.end)


_AROUND_AFTER_WORDS = 6  # words after a mention searched for an `around` word
# How far after a mention a `continuation` word may start, in characters ("KMÖ im Sinne
# einer Osteitis, ebenso ..."): a word further on goes on from something else.
_CONTINUATION_REACH = 80


def _continued(
    text: str,
    match: Match,
    targets: list[Match],
    sentence: Sentence,
    rules: RuleSet,
    reader: AnatomyReader,
    anatomy: Anatomy,
    fallback: Callable[[str | None], str | None],
) -> Anatomy:
    """The mention's bones and those of a part of its sentence that goes on to another place.

    "In den Köpfen der Metakarpalia II und III Knochenmarködem im Sinne einer Osteitis,
    ebenso ein kleineres Areal im Os capitatum": the part after "ebenso" (clauses.json
    `continuation`, up to the next ";" or the sentence's end) names no edema of its own,
    so its bones are the mention's. Not when another mention stands before that part.
    """
    assert rules.continuation is not None
    found = rules.continuation.search(text, match.char_end, sentence.end)
    if (
        found is None
        or found.start() - match.char_end > _CONTINUATION_REACH
        or any(match.char_end <= t.char_start < found.end() for t in targets)
    ):
        return anatomy
    _, end = _semicolon_part(text, sentence, found.end())
    if any(found.end() <= t.char_start < end for t in targets):
        return anatomy  # the part tells a finding of its own
    part = text[found.end() : end].lower()
    signal = rules.signal
    if reader.names_structure(part) or (
        signal is not None and signal.normal is not None and signal.normal.search(part)
    ):
        # another thing's place ("ebenso eine kleine Zyste im Os hamatum", "zusätzlich
        # Tendinopathie am Ansatz der Sehne am Kalkaneus") or a normal bone
        return anatomy
    more = reader.read(text, (found.end(), end), found.end(), found.end(), "", fallback)
    named = {bone for bone, _ in anatomy.bones}
    added = tuple(one for one in more.bones if one[0] not in named)
    if not added:
        return anatomy
    return dataclasses.replace(anatomy, bones=anatomy.bones + added)


def _around_what_came_before(
    text: str,
    match: Match,
    clause: tuple[int, int],
    index: int,
    layout: Layout,
    rules: RuleSet,
    reader: AnatomyReader,
    anatomy: Anatomy,
    fallback: Callable[[str | None], str | None],
) -> Anatomy:
    """The bones of "perifocal edema" whose clause names none: those named before it.

    "Metastasis in the right ilium. The perifocal edema has decreased." First
    what its sentence names before its clause, then the sentence before (in the
    same section). Anything else keeps `anatomy`. Edema that spreads from
    there ("Surrounding edema extends into the right pedicle") keeps its own
    bones beside those.
    """
    assert rules.around is not None
    sentence = layout.sentences[index]
    before = text[sentence.start : match.char_start].lower().split()
    # the two words before it, or the sentence's first two ("Surrounding it is extensive,
    # ill-defined marrow oedema")
    words = [*before[:2], *before[-2:]]
    # and a verb a few words after it ("STIR hyperintensity and low T1 signal surround
    # the segment and spread into the femoral neck")
    after = text[match.char_end : clause[1]].lower().split()[:_AROUND_AFTER_WORDS]
    mention = text[match.char_start : match.char_end].lower()
    if not rules.around.search(" ".join([*words, mention, *after])):
        return anatomy
    # A clause that opens the sentence: the words before the mention in it
    # ("Im Hüftkopf ... Nekroseareal mit Doppellinienzeichen, umgebend Marködem, das
    # bis in den Schenkelhals reicht").
    places = [(sentence.start, clause[0] if clause[0] > sentence.start else match.char_start)]
    places += [
        (layout.sentences[i].start, layout.sentences[i].end)
        for i in _earlier_sentences(layout, index, 1)
    ]
    # What the words and the sentence before name, and only then a sub-heading's bone
    # ("Left femur: A lesion of the proximal femoral shaft ... Around it there is
    # surrounding edema extending into the lesser trochanter": the shaft, not the femur).
    tries = [(_after_label(text, layout, a, b), b, "") for a, b in places]
    tries += [(a, b, layout.line_at(a).heading) for a, b in places]
    for a, b, heading in tries:
        if b > a:
            found = reader.read(text, (a, b), a, a, heading, fallback)
            if found.bones:
                # a bone named there with its side keeps that side over the one the
                # mention's own clause only fell back to ("In the right femoral head ...
                # Surrounding this, ... signal throughout the remainder of the femoral head")
                named = {bone for bone, _ in found.bones}
                own = anatomy
                found_sides = {side for _, side in found.bones if side is not None}
                if (
                    len(found_sides) == 1
                    and "bilateral" not in found_sides
                    and not reader.laterality_words(text[clause[0] : clause[1]].lower())
                ):
                    # and its clause, naming no side, is on that side too ("..., extending
                    # into the femoral neck")
                    own = reader.on_side(anatomy, found_sides.pop())
                bones = tuple(
                    dict.fromkeys((*found.bones, *(b for b in own.bones if b[0] not in named)))
                )
                return dataclasses.replace(found, bones=bones, severity=anatomy.severity)
    return anatomy


def _after_label(text: str, layout: Layout, a: int, b: int) -> int:
    """Where text[a:b] starts past its line's sub-heading label ("Left femur: ..."), if it
    opens the line."""
    line = layout.line_at(a)
    if line.heading and not text[line.start : a].strip():
        colon = text.find(":", a, b)
        if colon != -1:
            return colon + 1
    return a


def _named_bones(sentence: str, rules: RuleSet, reader: AnatomyReader) -> frozenset[str]:
    """The bones a sentence names; naming none, those of the joint parts it names.

    "Mild patellofemoral osteoarthritis." speaks of the patella and trochlea, not
    of edema in the lateral condyle (etiology.json "compartments").
    """
    lowered = sentence.lower()
    bones = frozenset(h.bone for h in reader.find_bones(lowered))
    if bones:
        return bones
    return frozenset(
        bone
        for pattern, held in rules.etiology_compartments
        if pattern.search(lowered)
        for bone in held
    )


def _cause_only_hedged(cues: list[Match], sentence: Sentence) -> bool:
    """True when the sentence's causes are all uncertain ("cannot be excluded"), at least one."""
    statuses = {c.status for c in cues if sentence.start <= c.char_start < sentence.end}
    return "possible" in statuses and "present" not in statuses


def _site_cues(
    text: str,
    records: list[MentionRecord],
    cues: list[Match],
    layout: Layout,
    rules: RuleSet,
    reader: AnatomyReader,
    standing: bool = False,
    story: bool = False,
) -> list[SiteCue]:
    """Causes in current sentences that hold no mention, with the bones those sentences name.

    A summary section (impression, addendum) without any mention that names a
    cause but no bone ("Conclusion: Active bilateral sacroiliitis.") speaks of
    the edema the findings describe: such a cue relates to every site. So does a
    standing differential's (`standing`, `_standing_differential`).
    """
    if not any(r.current and r.mention.status in AFFIRMED for r in records):
        return []
    with_mentions = {layout.sentence_index(r.mention.start) for r in records}
    # A summary whose mentions name no bone ("DDx: 1. Transient bone marrow edema
    # syndrome. 2. Stress reaction.") still speaks of the edema its findings place.
    # A hypothetical mention ("An osteoporotic fracture would show band-like edema under
    # an endplate") places no edema of the case's.
    summaries = rules.summaries - {
        r.section for r in records if r.bone_sides and r.mention.status != "hypothetical"
    }
    # The spine levels the edema is at (on first need): a cause named only at others
    # is not its.
    at_levels = functools.cache(
        lambda: set().union(
            *(
                spine_levels(r.sentence, rules.spine_levels)
                for r in records
                if r.current and r.mention.status in AFFIRMED
            )
        )
    )
    titled = _case_title(text, layout, rules)
    chosen = functools.cache(lambda: _chosen(text, rules))
    out = []
    for cue in cues:
        spec = rules.etiology_cues[cue.rule]
        if spec.etiology is None or cue.status in rules.etiology_drop_statuses:
            continue
        index = layout.sentence_index(cue.char_start)
        sentence = layout.sentences[index]
        section = layout.lines[sentence.line].section
        title = titled and sentence.line == 0
        labelled = _summary_label(layout.lines[sentence.line], rules)
        if section == DIFFERENTIAL_SECTION:
            if not standing:
                continue  # a later diagnosis or impression settled on one of them
        elif _answer_option(text, layout, sentence.line) not in (None, *chosen()):
            # a quiz's choices ("What is the most likely diagnosis? ... C. Calcaneal
            # osteomyelitis"), but the one its answer picks ("Answer: B")
            continue
        elif index in with_mentions or (
            section not in rules.current_sections
            and not title
            and not labelled
            # a case told as a story: "... an MRI was obtained; it revealed ... A diagnosis
            # of subchondral insufficiency fracture of the medial femoral condyle was made"
            and not (
                story
                and section == "history"
                and _tells_result(text, layout.lines[sentence.line].start, sentence.end, rules)
            )
        ):
            continue
        sentence_text = text[sentence.start : sentence.end]
        bones = _named_bones(sentence_text, rules, reader)
        if bones:
            if rules.spine_levels is not None:
                levels = spine_levels(sentence_text, rules.spine_levels)
                if levels and at_levels() and not levels & at_levels():
                    continue  # "3. Mild L4-L5 degenerative change." beside edema at L1
            side = one_side(s for _, s in reader.laterality_words(sentence_text.lower()))
            out.append(
                SiteCue(
                    spec.etiology,
                    bones,
                    sentence_text,
                    weak=spec.weak,
                    side=None if side == "bilateral" else side,
                )
            )
        elif (
            (section in summaries or section == DIFFERENTIAL_SECTION or title or labelled)
            and not spec.weak
            and not (
                rules.etiology_past_summary is not None
                and rules.etiology_past_summary.search(sentence_text.lower()) is not None
            )
        ):
            out.append(SiteCue(spec.etiology, bones, sentence_text, anywhere=True))
    return out


# A quiz's choice: "A. Plantar fasciitis", "(c) Osteomyelitis", "D) Normal variant", "3. Osseous
# metastasis".
_OPTION = re.compile(r"\s*\(?([A-Fa-f1-6])[.)]\s+\S")
_OPTIONS_MAX = 8  # choices a question offers


def _answer_option(text: str, layout: Layout, index: int) -> str | None:
    """The letter (lower case) of line `index` if it is one of the choices a question line
    above it offers, else None."""
    own = _OPTION.match(text[layout.lines[index].start : layout.lines[index].end])
    if own is None:
        return None
    for i in range(index - 1, max(-1, index - _OPTIONS_MAX - 1), -1):
        line = layout.lines[i]
        words = text[line.start : line.end]
        if _OPTION.match(words) is None:
            if words.rstrip().endswith("?"):
                return own.group(1).lower()
            return None
    return None


# A case title is short: "Kienbock disease", "Freiberg infraction, right foot".
_TITLE_WORDS = 12


def _case_title(text: str, layout: Layout, rules: RuleSet) -> bool:
    """True if the report's first line is a case's title: short, and no exam's label.

    A teaching case is titled by its diagnosis ("Kienbock disease", "Cuboid bone
    stress injury in a ballet dancer"): the cause of the edema its findings
    describe. An exam's label ("MRI LEFT HIP ? AVN") asks, and names a modality.
    """
    if not layout.lines or layout.lines[0].section not in (None, EXAM_SECTION):
        return False
    words = text[layout.lines[0].start : layout.lines[0].end].lower()
    if len(words.split()) > _TITLE_WORDS or ". " in words:
        return False
    if rules.service_title is not None and rules.service_title.search(words) is not None:
        return False  # a service's or meeting's name ("Sports Injury MDT - case 4")
    return rules.exam_title is None or rules.exam_title.search(words) is None


def _standing_differential(layout: Layout, rules: RuleSet, cues: list[Match]) -> bool:
    """True if the report has a differential diagnosis that no summary settles.

    "Differential Diagnosis: SONK; insufficiency fracture" and then "Case
    Diagnosis: SONK": the diagnosis is the later word, and the other candidates
    are ruled out; so they are by an impression before the list that names a
    cause. A differential that nothing answers keeps its candidates as the
    possibilities the report raises.
    """
    last = max(
        (i for i, line in enumerate(layout.lines) if line.section == DIFFERENTIAL_SECTION),
        default=None,
    )
    if last is None:
        return False
    if any(line.section in rules.summaries for line in layout.lines[last + 1 :]):
        return False
    return not any(
        cue.status not in rules.etiology_drop_statuses
        and layout.line_at(cue.char_start).section in rules.summaries
        for cue in cues
    )


def _sums_up(
    text: str,
    layout: Layout,
    rules: RuleSet,
    reader: AnatomyReader,
    cue_index: int,
    index: int,
    line: int,
) -> bool:
    """True if the cue's sentence sums up the section before it, mention included.

    "... edema of the lunate ... the TFCC is perforated. Findings most
    consistent with ulnar impaction." The summary names no bone of its own. A
    sentence of a few words that is only a diagnosis ("Toddler's fracture.")
    sums up too.
    """
    if rules.etiology_summary is None or cue_index <= index:
        return False
    sentence = layout.sentences[cue_index]
    if layout.lines[sentence.line].section != layout.lines[line].section:
        return False
    words = text[sentence.start : sentence.end].lower().lstrip()
    summary = rules.etiology_summary.match(words) is not None
    label = _diagnosis_label(text, words, layout, rules, cue_index)
    return (summary or label) and not reader.find_bones(words)


def _leads(
    text: str, layout: Layout, rules: RuleSet, reader: AnatomyReader, cue_index: int, index: int
) -> bool:
    """True if the cue's sentence, right before the mention's, says what the imaging shows
    and names no bone ("His MRI of the sacroiliac joints shows active sacroiliitis. There is
    bone marrow oedema on the iliac side ..."): etiology.json `lead_pattern`."""
    if rules.etiology_lead is None or cue_index != index - 1:
        return False
    sentence = layout.sentences[cue_index]
    words = text[sentence.start : sentence.end].lower().lstrip()
    return rules.etiology_lead.match(words) is not None and not reader.find_bones(words)


def _speaks_of_case(
    text: str, layout: Layout, rules: RuleSet, cue_index: int, upto: int | None = None
) -> bool:
    """True if the cue's sentence is a teaching discussion's word about this case.

    "Discussion: This kissing pattern is the classic footprint of a pivot-shift
    mechanism", "Take-home message: ... this pattern indicates insufficiency
    fractures": its cause is the case's. A discussion's general sentences are not
    (their cues are hypothetical, `clauses.json` "generic").
    """
    if rules.case_reference is None:
        return False
    sentence = layout.sentences[cue_index]
    if layout.lines[sentence.line].section != DISCUSSION_SECTION:
        return False
    # up to `upto` when given: a mention's sentence refers to the case before it ("That
    # high STIR signal is marrow edema ..."), not after ("..., but it is not seen in this case")
    end = sentence.end if upto is None else upto
    return rules.case_reference.search(text[sentence.start : end].lower()) is not None


# A sentence this short that names a cause is a diagnosis label ("Toddler's fracture.").
_LABEL_WORDS = 4
_PARENTHESIS = re.compile(r"\([^()]*\)")
# A list marker read as a sentence of its own ("C.", "2)", "(b)").
_MARKER = re.compile(r"\(?[A-Za-z0-9]{1,2}[.)]")


def _diagnosis_label(text: str, words: str, layout: Layout, rules: RuleSet, index: int) -> bool:
    """A few words that end a paragraph of findings and name only a diagnosis.

    "... Fibula intact. Ankle and knee normal. Toddler's fracture." Not an
    impression's numbered item ("3. Incidental enchondroma."), a sub-heading's
    finding ("Knorpel: Geringe Chondropathie medial.") or a line of its own
    (an answer option "C. Kienböck disease", after its marker).
    """
    if len(_PARENTHESIS.sub(" ", words).split()) > _LABEL_WORDS or ":" in words:
        return False  # ("Osgood-Schlatter disease (traction apophysitis).": two words)
    sentences = layout.sentences
    line = sentences[index].line
    if layout.lines[line].section in rules.summaries:
        return False
    last_of_line = index + 1 == len(sentences) or sentences[index + 1].line != line
    if not last_of_line or index == 0 or sentences[index - 1].line != line:
        return False
    before = sentences[index - 1]
    return _MARKER.fullmatch(text[before.start : before.end].strip()) is None  # "C."


def _figure_paragraph(text: str, layout: Layout, rules: RuleSet, a: int, b: int) -> bool:
    """True if lines a and b are figure lines of one section with only figure lines between."""
    if rules.figure_line is None:
        return False
    lo, hi = min(a, b), max(a, b)
    section = layout.lines[lo].section
    return all(
        layout.lines[i].section == section
        and rules.figure_line.match(text[layout.lines[i].start : layout.lines[i].end].lower())
        is not None
        for i in range(lo, hi + 1)
    )


def _list_paragraph(
    text: str, layout: Layout, rules: RuleSet, line: int, cue_line: int, reader: AnatomyReader
) -> bool:
    """True if the cue's line is the findings list's next item and goes on about the mention's.

    "- Pars of L5: questionable faint STIR signal." "- Could be early stress
    reaction from overuse.": an item that names no bone of its own says more of
    the one before. An impression's items are each their own diagnosis.
    """
    if cue_line != line + 1 or layout.lines[line].section in rules.summaries:
        return False
    if layout.lines[line].section != layout.lines[cue_line].section:
        return False
    marker = list_item(rules.list_marker)
    if any(
        marker.match(text[layout.lines[i].start : layout.lines[i].end]) is None
        for i in (line, cue_line)
    ):
        return False
    item = text[layout.lines[cue_line].start : layout.lines[cue_line].end]
    return not reader.find_bones(item.lower())


def _other_level_part(
    text: str, sentence: Sentence, match: Match, cue: Match, rules: RuleSet
) -> bool:
    """Whether the cue stands in another part (between ";") of the mention's sentence that
    names only other spine levels than the mention's part ("KMÖ im Wirbelkörper LWK 3;
    übrige WK mit normalem Fettmark; Osteochondrose L4/5")."""
    if rules.spine_levels is None or ";" not in text[sentence.start : sentence.end]:
        return False

    own = _semicolon_part(text, sentence, match.char_start)
    other = _semicolon_part(text, sentence, cue.char_start)
    if own == other:
        return False
    mine = spine_levels(text[own[0] : own[1]], rules.spine_levels)
    theirs = spine_levels(text[other[0] : other[1]], rules.spine_levels)
    return bool(mine and theirs and not mine & theirs)


def _etiology(
    text: str,
    match: Match,
    index: int,
    line: int,
    cues: list[Match],
    layout: Layout,
    rules: RuleSet,
    reader: AnatomyReader,
    bones: frozenset[str],
) -> tuple[dict[str, tuple[str, ...]], bool, tuple[tuple[int, int, str], ...]]:
    """Etiology categories related to one mention, with their evidence sentences; True if weak.

    A cue in a neighbouring sentence that names other bones than the
    mention's ("Incidental enchondroma in the distal femur.") is about them.
    """
    own = text[layout.sentences[index].start : layout.sentences[index].end]
    strong: dict[str, list[str]] = {}
    weak: dict[str, list[str]] = {}
    explained = False  # a cause outside the categories is named: weak cues do not count
    strong_cues: dict[str, list[tuple[int, int]]] = {}
    weak_cues: dict[str, list[tuple[int, int]]] = {}
    implied = rules.targets[match.rule].etiology
    if implied:
        strong.setdefault(implied, []).append(own)
    for cue in cues:
        if cue.status in rules.etiology_drop_statuses:
            continue
        spec = rules.etiology_cues[cue.rule]
        cue_index = layout.sentence_index(cue.char_start)
        cue_sentence = layout.sentences[cue_index]
        if spec.etiology is None:
            explained = explained or (cue_index == index and spec.explains)
            continue
        scope = rules.etiology_scopes.get(spec.etiology)
        if scope is None:
            continue
        same_paragraph = (
            cue_sentence.line == line
            or _figure_paragraph(text, layout, rules, cue_sentence.line, line)
            or _list_paragraph(text, layout, rules, line, cue_sentence.line, reader)
        )
        near = same_paragraph and (
            index - scope.sentences_before <= cue_index <= index + scope.sentences_after
        )
        if (
            not near
            and not (same_paragraph and _leads(text, layout, rules, reader, cue_index, index))
            and not _sums_up(text, layout, rules, reader, cue_index, index, line)
            and not _speaks_of_case(text, layout, rules, cue_index)
        ):
            continue
        if cue_index != index and bones:
            named = _named_bones(text[cue_sentence.start : cue_sentence.end], rules, reader)
            if named and not named & bones:
                continue
        if cue_index == index and _other_level_part(
            text, layout.sentences[index], match, cue, rules
        ):
            continue
        (weak_cues if spec.weak else strong_cues).setdefault(spec.etiology, []).append(
            (cue.char_start, cue.char_end)
        )
        bucket = (weak if spec.weak else strong).setdefault(spec.etiology, [])
        for s in (own, text[cue_sentence.start : cue_sentence.end]):
            if s not in bucket:
                bucket.append(s)
    if explained:  # but edema called "reactive" stays so: no category is named (the contract)
        weak = {k: v for k, v in weak.items() if k == UNNAMED_CAUSE}
    chosen = strong or weak
    spans = strong_cues if strong else weak_cues
    cues_of = tuple((a, b, k) for k in chosen for a, b in spans.get(k, ()))
    return {k: tuple(v) for k, v in chosen.items()}, not strong and bool(weak), cues_of


__all__ = ["DEFAULT_LANGUAGE", "annotate"]
