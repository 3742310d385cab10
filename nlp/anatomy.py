"""Bones, laterality and severity of one mention, read from the clause around it.

Strategy: a mention's clause runs from the previous clause break (or mention,
or sentence start) to the next one (clauses.json: ";", "consistent with",
"in a patient", ...). Its bones are the bone terms in that clause, before
("fibular head contusion") and after ("edema in the talus") the mention; a
clause without any falls back to the line's sub-heading ("Scaphoid: ...").
Each bone takes the nearest laterality word before it in the clause
("right femoral neck", "both femoral heads"), else the first after it,
else the sub-heading's, the title's or the procedure's.
All regexes run on lower-cased text.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from nlp.ruleset import BoneSpec, NormalBones, RuleSet


@dataclass(frozen=True)
class BoneHit:
    bone: str
    start: int  # offsets into the searched text
    end: int


@dataclass(frozen=True)
class Anatomy:
    """Where a mention is: bones with their laterality, and its severity."""

    bones: tuple[tuple[str, str | None], ...]  # (bone, laterality) in text order
    severity: str | None


_GROUP = re.compile(r"\((?:[^()]|\([^()]*\))*\)[?*+]?(?:\{[^}]*\})?")
_CLASS = re.compile(r"\[[^\]]*\][?*+]?")
_ESCAPE = re.compile(r"\\.")
_OPTIONAL_CHAR = re.compile(r".[?*]|.\{0,?\d*\}")
_LITERAL_RUN = re.compile(r"[^\x00.^$|+?*{}()\[\]\\]{3,}")


def required_literal(pattern: str) -> str | None:
    """A plain substring every match of `pattern` contains, if one is easy to see.

    Python's regex engine scans fast only for patterns that start with a
    literal; checking `literal in text` first skips most patterns at C speed.
    """
    # Character classes first: a bracket inside one ("[,;:(]") is no group.
    stripped = _CLASS.sub("\x00", _ESCAPE.sub("\x00", pattern))
    depth = 0
    for ch in stripped:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            return None
    previous = None
    while previous != stripped:
        previous, stripped = stripped, _GROUP.sub("\x00", stripped)
    stripped = _OPTIONAL_CHAR.sub("\x00", stripped)
    runs = _LITERAL_RUN.findall(stripped)
    return max(runs, key=len) if runs else None


_LEADING_WORD = re.compile(r"\\b([A-Za-z0-9]+)")


def literal_first(rx: re.Pattern[str]) -> re.Pattern[str]:
    """`rx` with a leading `\\b` and word swapped round, so the regex engine can scan for it.

    Python's engine finds a pattern's candidates with a fast literal search
    only when the pattern starts with a literal; one that starts with `\\b`
    is tried at every position of the text (`\\bl\\b(?=...)` cost 20 us on a
    1 kB report). `\\bword REST` and `word(?<=\\bword)REST` match at the same
    positions with the same spans and groups: the look-behind checks the same
    boundary before the same word. Other patterns are returned as they are.
    """
    if rx.flags & re.VERBOSE:
        return rx
    lead = _LEADING_WORD.match(rx.pattern)
    if lead is None:
        return rx
    word, rest = lead.group(1), rx.pattern[lead.end() :]
    if rest[:1] in ("*", "+", "?", "{"):  # a quantifier of the word's last character
        word, rest = word[:-1], word[-1] + rest
    if not word:
        return rx
    try:
        return re.compile(f"{word}(?<=\\b{word}){rest}", rx.flags)
    except re.error:
        return rx


_LEADING_GROUP = re.compile(r"^(?:\\b)?\(\?:")
_LEAD_LITERAL = re.compile(r"[a-zäöüß ]+")


def required_any(pattern: str) -> tuple[str, ...] | None:
    """Literals of which every match of `pattern` contains one, for a pattern that opens
    with an alternation ("\\b(?:links|linke[rnms]?)..."): each alternative's leading
    letters (two or more). None when that is not easy to see."""
    literal = required_literal(pattern)
    if literal is not None:
        return (literal,)
    return leading_alternatives(pattern)


_WORDS_THEN_WORD = re.compile(r"^\(\?:((?:[a-z]+\|)*[a-z]+)\)( [a-z]+)([?*]?)")


def leading_phrases(pattern: str) -> tuple[str, ...] | None:
    """ "(?:both|either|each) sides? of ...": ("both side", "either side", "each side"),
    the plain words every match opens with; None for other patterns."""
    found = _WORDS_THEN_WORD.match(pattern)
    if found is None:
        return None
    after = found.group(2)[:-1] if found.group(3) else found.group(2)
    return tuple(word + after for word in found.group(1).split("|"))


def leading_alternatives(pattern: str) -> tuple[str, ...] | None:
    """For a pattern that opens with an alternation, each alternative's leading letters
    (every match contains one of them); None when that is not easy to see."""
    head = _LEADING_GROUP.match(pattern)
    if head is None:
        return None
    depth, i, parts, begin = 1, head.end(), [], head.end()
    while i < len(pattern) and depth:
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                parts.append(pattern[begin:i])
        elif ch == "|" and depth == 1:
            parts.append(pattern[begin:i])
            begin = i + 1
        i += 1
    if depth or not parts or pattern[i : i + 1] in ("?", "*", "{"):
        return None  # the group is optional: its words are not required
    out = []
    for part in parts:
        lead = _LEAD_LITERAL.match(part)
        if lead is None or len(lead.group()) < 2:
            return None
        text = lead.group()
        # A quantifier after the last letter makes that letter optional.
        rest = part[lead.end() :]
        if rest[:1] in ("?", "*", "{"):
            text = text[:-1]
        if len(text) < 2:
            return None
        out.append(text)
    return tuple(out)


# What may stand between a bone word and the structure it names: nothing, or the
# rest of a spinal level ("L4-5 facet joint").
_RIGHT_BEFORE = re.compile(r"\s*(?:[-/\u2013]\s*[a-z]?\d{1,2}\s*)?")
_AND = re.compile(r"\band\b|\bund\b")
_COORDINATED_REACH = 16  # characters from a coordinator to the relation word it joins
_COORDINATOR = re.compile(r"(?:\band\b|\bas well as\b|,(?!\d)|\balso\b|\bund\b|\bsowie\b)")


# Characters of a required literal that group bone patterns (BoneFinder).
_KEY_CHARS = 4


class BoneFinder:
    """Bone terms of a rule set in a text; the longest wins where two overlap.

    One `finditer` per pattern, skipped at C speed when the pattern's
    required literal is not in the text (see `required_literal`).
    """

    def __init__(
        self, bones: tuple[BoneSpec, ...], preferred: tuple[tuple[str, re.Pattern[str]], ...] = ()
    ) -> None:
        # (bone, regex) run on every text, winning a tie with another bone's word of the
        # same span: an exam's reading of an ambiguous word (`AnatomyReader.for_exam`)
        self._preferred = [(literal_first(rx), bone) for bone, rx in preferred]
        self._patterns = [
            (literal_first(rx), spec.bone, required_literal(rx.pattern))
            for spec in bones
            for rx in spec.patterns
        ]
        # "on both sides of the right SI joint": one match, two bones; its last word
        # is the partner's, the words before it the bone's (a hit right after "sides
        # of the" would read as a landmark beside the other). Each pattern opens with
        # an alternation ("both|either|each"), which the engine tries at every
        # position, so it runs only when the text holds a phrase it can open with
        # ("both side"), else a literal every match holds.
        self._joint_sides = [
            (rx, spec.bone, partner, leading_phrases(rx.pattern) or required_any(rx.pattern))
            for spec in bones
            for rx, partner in spec.joint_sides
        ]
        # Patterns grouped by the first characters of their required literal
        # ("femo" for "femoral head", "femoral neck", ...): one `in` test per
        # group. The tests, not the regexes, were most of a call's time; a
        # group whose key is in the text runs all its regexes, which find what
        # they find, so the hits are the same as with one test per literal.
        self._always = [(rx, bone) for rx, bone, literal in self._patterns if literal is None]
        self._by_key: dict[str, list[tuple[re.Pattern[str], str]]] = {}
        for rx, bone, literal in self._patterns:
            if literal is not None:
                key = literal.strip()[:_KEY_CHARS] or literal
                self._by_key.setdefault(key, []).append((rx, bone))
        self._keys = tuple(self._by_key)

    def __call__(self, text: str) -> list[BoneHit]:
        """Bone terms in `text` (lower case), in text order."""
        candidates = list(self._always)
        for key in [key for key in self._keys if key in text]:
            candidates.extend(self._by_key[key])
        preferred = [
            BoneHit(bone, m.start(), m.end())
            for rx, bone in self._preferred
            for m in rx.finditer(text)
            if m.end() > m.start()
        ]
        hits = preferred + [
            BoneHit(bone, m.start(), m.end())
            for rx, bone in candidates
            for m in rx.finditer(text)
            if m.end() > m.start()
        ]
        held: dict[tuple[str, ...], bool] = {}  # the joints share their phrases: one look
        for rx, bone, partner, guard in self._joint_sides:
            if guard is not None:
                found = held.get(guard)
                if found is None:
                    found = held[guard] = any(g in text for g in guard)
                if not found:
                    continue
            for m in rx.finditer(text):
                middle = text.rfind(" ", m.start(), m.end()) + 1
                if m.start() < middle < m.end():
                    hits += (BoneHit(bone, m.start(), middle), BoneHit(partner, middle, m.end()))
        if len(hits) < 2:
            return hits
        kept: list[BoneHit] = []
        # sorted() is stable: of two words of one span, the preferred one comes first
        for hit in sorted(hits, key=lambda h: (h.start - h.end, h.start)):
            if all(hit.end <= k.start or hit.start >= k.end for k in kept):
                kept.append(hit)
        return sorted(kept, key=lambda h: h.start)


def _screened(
    patterns: tuple[re.Pattern[str], ...],
) -> list[tuple[re.Pattern[str], str | None]]:
    """Each regex word first (`literal_first`), with its required literal (`required_literal`)."""
    return [(literal_first(rx), required_literal(rx.pattern)) for rx in patterns]


def guarded(patterns: tuple[re.Pattern[str], ...]) -> list[tuple[re.Pattern[str], str | None]]:
    """Each regex with its required literal, to skip it cheaply on texts without it."""
    return [(rx, required_literal(rx.pattern)) for rx in patterns]


# What may stand between a mention and a verb of spreading ("marrow edema, which extends
# into"): a comma, "which" or "that".
_SPREAD_LEAD = re.compile(r"^[\s,]*(?:(?:which|that|die|das|der|welche[sr]?)\s+)?")


class AnatomyReader:
    """Reads bones, laterality and severity around mentions, for one language."""

    def __init__(
        self, rules: RuleSet, preferred: tuple[tuple[str, re.Pattern[str]], ...] = ()
    ) -> None:
        """`preferred`: (bone, regex) an exam reads first (`for_exam`, `BoneFinder`)."""
        self._rules = rules
        self._midline = {b.bone for b in rules.bones if b.midline}
        self.joint_of = {b.bone: b.joint for b in rules.bones}
        # bones.jsonl `local_side`: a side only from the text near them
        self.local_side = frozenset(b.bone for b in rules.bones if b.local_side)
        self.find_bones = BoneFinder(rules.bones, preferred)
        self._breaks = guarded(rules.clause_breaks)
        # ConText's CLAUSE_BREAK words ("with", "showing") join a finding to its
        # edema; when bones follow the mention, bones before such a word belong
        # to the other finding ("cartilage loss over the MFC and MTP with
        # edema in the MFC").
        self._soft_breaks = [
            re.compile(rf"(?<!\w){re.escape(r.literal.lower())}(?!\w)")
            for r in rules.context
            if r.category == "CLAUSE_BREAK"
        ]
        self._laterality = [
            (t, literal_first(t.pattern), required_any(t.pattern.pattern)) for t in rules.laterality
        ]
        self._sides: dict[str, object] = {}
        self._parts = [
            (literal_first(rx), spec.bone, required_literal(rx.pattern))
            for spec in rules.bones
            for rx in spec.parts
        ]
        # The owners' word lists, each regex with its required literal (skipped at C
        # speed where the text lacks it) and its word first (see `literal_first`).
        owners = rules.owners
        self._owner_bone = [] if owners is None else _screened(owners.bone)
        self._owner_soft = [] if owners is None else _screened(owners.soft_tissue)
        self._exam_readers: dict[frozenset[str], AnatomyReader] = {}
        # A word each bones.jsonl `in_exams` pattern needs (None: the regex itself decides)
        self._exam_words = [
            (required_literal(rx.pattern), rx) for b in rules.bones for rx in b.exam_patterns
        ]

    def may_name_exam_bones(self, text: str) -> bool:
        """Whether `text` (lower case) may hold a word read only by the exam (`for_exam`)."""
        return any(
            word in text if word is not None else rx.search(text) is not None
            for word, rx in self._exam_words
        )

    def for_exam(self, joints: frozenset[str], *, sole: bool = False) -> AnatomyReader:
        """This reader, with the bones.jsonl `in_exams` patterns of an exam of `joints`.

        `sole`: only when the bones that adds are of one region (bones.jsonl `joint`): the
        joints a report's text names may be a foot's and a hand's. Made once per set of
        bones it adds ("proximal phalanx" a toe's in a foot MRI).
        """
        wanted = [b for b in self._rules.bones if b.exam_joints & joints]
        if not wanted or (sole and len({b.joint for b in wanted}) > 1):
            return self
        added = frozenset(b.bone for b in wanted)
        reader = self._exam_readers.get(added)
        if reader is None:
            reader = AnatomyReader(
                self._rules, tuple((b.bone, rx) for b in wanted for rx in b.exam_patterns)
            )
            self._exam_readers[added] = reader
        return reader

    def laterality_words(
        self, text: str, bone_hits: list[BoneHit] | None = None
    ) -> list[tuple[int, str]]:
        """(offset, laterality) of laterality words in `text` (lower case)."""
        hits = bone_hits
        limit = self._rules.laterality_attach_max_chars
        out: list[tuple[int, int, str]] = []
        for term, pattern, literals in self._laterality:
            if literals is not None and not any(lit in text for lit in literals):
                continue
            for m in pattern.finditer(text):
                if term.attach == "bone":
                    if hits is not None:
                        attached = any(self._attached(text, m.end(), h.start) for h in hits)
                    else:  # look only right after the word, not through the whole text
                        reach = limit + _BONE_WORD_CHARS + _ATTACH_GAP_CHARS
                        near = self.find_bones(text[m.end() : m.end() + reach])
                        attached = any(
                            self._attached(text, m.end(), m.end() + h.start) for h in near
                        )
                    if not attached:
                        continue
                out.append((m.start(), m.end(), term.laterality))
        if len(out) < 2:
            return [(start, side) for start, _, side in out]
        # A side word inside a longer term is that term's: "in the left and right
        # sacral alae", "right more than left" are bilateral, not their last word.
        out.sort(key=_longer_first)
        kept: list[tuple[int, str]] = []
        reach_start = reach_end = -1
        for start, end, side in out:
            if end <= reach_end and end - start < reach_end - reach_start:
                continue
            kept.append((start, side))
            if end > reach_end:
                reach_start, reach_end = start, end
        return kept

    def side_of(self, text: str) -> str | None:
        """One laterality for a whole text (title, procedure, heading): both sides -> bilateral.

        Remembered for short texts (headings and titles repeat across reports).
        """
        if len(text) > _CACHED_SIDE_CHARS:
            return self._side_of(text)
        side = self._sides.get(text, _UNKNOWN)
        if side is _UNKNOWN:
            if len(self._sides) >= _CACHED_SIDES:
                self._sides.clear()
            side = self._sides[text] = self._side_of(text)
        return side  # type: ignore[return-value]

    def _side_of(self, text: str) -> str | None:
        return one_side(side for _, side in self.laterality_words(text.lower()))

    def clause(
        self,
        text: str,
        sent_start: int,
        sent_end: int,
        start: int,
        end: int,
        neighbours: list[tuple[int, int]],
    ) -> tuple[int, int]:
        """Character span of the clause around the mention [start, end)."""
        lo, hi = sent_start, sent_end
        for n_start, n_end in neighbours:
            if n_end <= start:
                lo = max(lo, n_end)
            elif n_start >= end:
                hi = min(hi, n_start)
        base = lo
        before = text[base:start].lower()
        after = text[end:hi].lower()
        for rx, literal in self._breaks:
            if literal is not None and literal not in before and literal not in after:
                continue
            for found in rx.finditer(before):
                lo = max(lo, base + found.end())
            following = rx.search(after)
            if following:
                hi = min(hi, end + following.start())
        return lo, hi

    def read(
        self,
        text: str,
        clause: tuple[int, int],
        start: int,
        end: int,
        heading: str,
        fallback: str | Callable[[str | None], str | None] | None,
    ) -> Anatomy:
        """Bones (with laterality) and severity of the mention [start, end) in `clause`."""
        lo, hi = clause
        segment = text[lo:hi].lower()
        hits = self.find_bones(segment)
        if self._rules.head_anaphora is not None and "head" in segment:
            hits = self._with_head_anaphora(text, lo, segment, hits)
        if self._parts:
            hits = self._with_parts(text, lo, segment, hits)
        after = [h for h in hits if h.end > start - lo]  # bones in the mention count too
        before = [h for h in hits if h.end <= start - lo]
        rest = segment[end - lo :]
        spreads = self._rules.around_spreads
        if (
            after
            and before
            # "fracture of the femoral head with marrow edema extending into the femoral
            # neck": edema that spreads into the bones after it is at the one before too
            and (spreads is None or spreads.match(_SPREAD_LEAD.sub("", rest, count=1)) is None)
        ):
            cut = self._last_soft_break(segment[: start - lo])
            owners = self._rules.owners
            if owners is not None and any(rx.match(rest) for rx in owners.inside_relations):
                # "coronoid tip fracture, and bone bruising of the capitellum": bones
                # named after the mention as its own place leave those of the list
                # items before it (up to a comma) to their own nouns.
                cut = max(cut, segment.rfind(",", 0, start - lo) + 1)
            before = [h for h in before if h.start >= cut]
        chosen = before + after
        signal = self._rules.signal
        if signal is not None and signal.resolved_at is not None and chosen:
            # "Migratory bone marrow oedema: resolution in the lateral femoral condyle
            # and new oedema in the medial femoral condyle"
            # ("resolution of lateral plateau oedema": the bone right before the mention is
            # its own, and the mention's status is ConText's)
            chosen = [
                h
                for h in chosen
                if not self._resolved_at(segment, h.start)
                or (h.end <= start - lo and not segment[h.end : start - lo].strip())
                or (start - lo <= h.start < end - lo)
            ]
        normal = self._rules.normal_bones
        if normal is not None and len(chosen) > 1:
            # "... a possible greater tuberosity contusion, while the glenoid, acromion
            # and clavicle have normal marrow signal": bones said to be normal are no
            # place of the mention when it has others (the mention's own bones stay).
            said = _said_normal(segment, hits, normal)
            if said:
                kept = [h for h in chosen if h not in said or start - lo <= h.start < end - lo]
                chosen = kept or chosen
        if signal is not None and len(chosen) > 1:
            # "sclerosis of the femur, superior to the patella": a bone named after
            # "superior to", "adjacent to" is a landmark, not where the finding is.
            landmarks = [h for h in chosen if self._after_beside(segment, h.start)]
            if landmarks and len(landmarks) < len(chosen):
                chosen = [h for h in chosen if h not in landmarks]
        if len(chosen) > 1:
            chosen = _levels_of_posterior_elements(
                segment, chosen, start - lo, self._rules.spine_levels
            )
        sides = self.laterality_words(segment, hits)
        # "LEFT KNEE: ... less extensive than on the right": the side a comparison is made
        # with is not the finding's, unless the other side is said right before the
        # comparison ("on the left more than on the right" names both)
        sides = [w for w in sides if not self._compared_with(segment, w[0], sides)]
        # "... in the iliac and the sacral bone, most marked on the left": a side said
        # of a comparison is no side of the bones before it. Each side word's own
        # neighbourhood is searched: the regex opens with an alternation, which the
        # engine would try at every position of the clause.
        comparative = self._rules.side_comparative
        after_only: frozenset[int] = frozenset()
        if comparative is not None and len(sides) > 0:
            after_only = frozenset(
                offset
                for offset, _ in sides
                if any(
                    m.start() <= offset < m.end()
                    for m in comparative.finditer(
                        segment, max(0, offset - _COMPARISON_CHARS), offset + _SIDE_WORD_CHARS
                    )
                )
            )
        heading_side = self.side_of(heading) if heading else None
        if not chosen and heading:
            heading_hits = self.find_bones(heading)
            bones = tuple(
                (h.bone, self._final(h.bone, heading_side or _resolve(fallback, h.bone)))
                for h in heading_hits
            )
        else:
            bones = tuple(
                (
                    h.bone,
                    self._final(
                        h.bone,
                        self._side_for(h, sides, hits, after_only, segment)
                        or heading_side
                        or _resolve(fallback, h.bone),
                    ),
                )
                for h in chosen
            )
        if any(side == "bilateral" for _, side in bones):
            own = _own_side(
                segment,
                [w for w in sides if w[0] not in after_only],
                start - lo,
                end - lo,
                hits,
                self._rules.side_own_gap,
                self._rules.side_own_break,
            )
            if own is not None:
                # "bilateral osteonecrosis of the femoral heads, ... edematous on the
                # right": the edema is on the side said right with it
                bones = tuple((bone, own if side == "bilateral" else side) for bone, side in bones)
        return Anatomy(_dedupe(bones), self._severity(segment[: start - lo]))

    @staticmethod
    def _compared_with(segment: str, offset: int, sides: list[tuple[int, str]]) -> bool:
        """Whether the side word at `offset` is what a comparison is made with ("less
        extensive than on the right") and no other side word stands in the few words
        before the comparison."""
        than = _THAN.search(segment, max(0, offset - 16), offset)
        if than is None:
            return False
        if than.group(1) == "als":
            # German "links ausgedehnter als rechts": the sides of both joints are read
            # from "beidseits" and the side said first
            return True
        lo = max(0, than.start() - _COMPARED_SIDE_CHARS)
        return not any(lo <= at < than.start() for at, _ in sides)

    def _with_head_anaphora(
        self, text: str, lo: int, segment: str, hits: list[BoneHit]
    ) -> list[BoneHit]:
        """`hits` and the bone head that "the head" of the clause stands for, if any.

        "... outlines a segment of the anterosuperior femoral head. Surrounding oedema
        fills the remainder of the head": the head last named, within the text's
        previous `_ANAPHORA_CHARS`, whose bone is one of the head bones.
        """
        assert self._rules.head_anaphora is not None
        out = list(hits)
        for found in self._rules.head_anaphora.finditer(segment):
            if any(
                h.start <= found.start() < h.end or h.start < found.end() <= h.end for h in hits
            ):
                continue  # "the femoral head" itself
            named = [
                h for h in self._named_before(text, lo + found.start()) if h.bone in _HEAD_BONES
            ]
            if named:
                out.append(BoneHit(named[-1].bone, found.start(), found.end()))
        return sorted(out, key=lambda h: h.start)

    def _named_before(self, text: str, at: int) -> list[BoneHit]:
        """The bones named in the `_ANAPHORA_CHARS` of `text` before `at`, in text order."""
        return self.find_bones(text[max(0, at - _ANAPHORA_CHARS) : at].lower())

    def _with_parts(self, text: str, lo: int, segment: str, hits: list[BoneHit]) -> list[BoneHit]:
        """`hits` and the bones that bare part words of the clause stand for (bones.jsonl
        `parts`): "the waist and proximal pole" after "the scaphoid waist" are the
        scaphoid's, when it is the bone last named within `_ANAPHORA_CHARS` before them."""
        out = list(hits)
        for rx, bone, literal in self._parts:
            if literal is not None and literal not in segment:
                continue
            for found in rx.finditer(segment):
                if any(h.start < found.end() and found.start() < h.end for h in out):
                    continue  # "the scaphoid waist" itself
                if any(
                    0 <= h.start - found.end() <= _PART_OF_GAP
                    and not _PUNCTUATION.search(segment[found.end() : h.start])
                    for h in hits
                ):
                    continue  # "im proximalen Pol des Os capitatum": the part of that bone
                named = self._named_before(text, lo + found.start())
                if named and named[-1].bone == bone:
                    out.append(BoneHit(bone, found.start(), found.end()))
        return sorted(out, key=lambda h: h.start)

    def _attached(self, text: str, word_end: int, bone_start: int) -> bool:
        """Whether a bone named at `bone_start` is the one an attach-to-bone side word
        ending at `word_end` speaks of: right after it, or past position words only
        ("both medial clavicles")."""
        gap = bone_start - word_end
        if 0 <= gap <= self._rules.laterality_attach_max_chars:
            return True
        between = self._rules.side_attach_between
        return (
            between is not None
            and 0 < gap <= _ATTACH_GAP_CHARS
            and between.fullmatch(text, word_end, bone_start) is not None
        )

    def bone_owns(
        self, text: str, clause: tuple[int, int], start: int, end: int, heading: str
    ) -> bool:
        """True if a bone, not a soft tissue, owns the bare edema word [start, end) in `clause`.

        The owner is, in order: a relation word right after it ("edema along
        the tendon sheath": soft); the first tissue word after "in", "within",
        "of" ("edema in the greater tuberosity", "edema in Hoffa's fat pad");
        a tissue word just before it ("soft tissue swelling and edema at");
        the first tissue word after it; the last one before it ("lesions in
        the sacrum with surrounding edema"); the sub-heading's bone.
        """
        owners = self._rules.owners
        if owners is None:
            return False
        lo, hi = clause
        before = text[lo:start].lower()
        if any(rx.match(text[start:end].lower()) for rx in owners.characterising):
            # "swelling around the PIP joint of the ring finger, consistent with edema":
            # what it characterises is the subject of its part of the clause.
            part = before[self._last_soft_break(before) :]
            part = part[max((m.end() for m in _AND.finditer(part)), default=0) :]
            subject = self._tissue_words(part)
            if subject:
                return subject[0][2]
        after = text[end:hi].lower()
        if any(rx.match(after) for rx in owners.soft_relations):
            return False
        following = self._tissue_words(after)
        if following and any(rx.match(after) for rx in owners.inside_relations):
            return following[0][2]
        cut = self._last_soft_break(before)
        preceding = self._tissue_words(before[cut:])
        if preceding:
            _, last_end, is_bone = preceding[-1]
            if len(before[cut + last_end :].split()) <= owners.adjacent_words:
                return is_bone
        if following:
            return following[0][2]
        anywhere_before = self._tissue_words(before)
        if anywhere_before:
            return anywhere_before[-1][2]
        return bool(heading and self.find_bones(heading.lower()))

    def signal_place(self, text: str, clause: tuple[int, int], start: int, end: int) -> bool | None:
        """Where a signal description [start, end) puts its signal, from its clause.

        True: in a bone ("increased STIR signal in the talus", "faint STIR signal
        L sacral ala", "the marrow of the talus is STIR hyperintense"); False: in
        something else ("T2 hyperintense lesion", "tendon ... with high
        signal", "adjacent to the trochanter within the soft tissues"); None
        when the clause names no place. After the phrase (up to ", and" or
        ";"), each word is placed by the last relation before it ("in",
        "within" put the signal inside; "adjacent to", "around" beside); a
        place after a non-bone one counts only when coordinated ("in the disc
        space and in the vertebrae", not "within the cord at C5"). Before it,
        a structure just before the phrase owns it ("lesion with high T2
        signal"), and any non-bone word makes it not bone.
        """
        signal = self._rules.signal
        assert signal is not None
        lo, hi = clause
        after = text[end:hi].lower()
        stop = _PLACE_STOP.search(after)
        while stop is not None and stop.group().startswith(","):
            # "high signal on fat-suppressed T2 images, with low T1 signal, throughout the
            # remainder of the humeral head": an aside that gives the dark side of the same
            # finding ends no place
            aside_end = after.find(",", stop.end())
            aside = after[stop.end() : aside_end]
            if not (
                0 < aside_end - stop.end() <= _ASIDE_CHARS
                and signal.low.search(aside)
                and signal.not_fluid.search(aside)
                and not signal.fluid.search(aside)
            ):
                break
            stop = _PLACE_STOP.search(after, aside_end + 1)
        if stop:
            after = after[: stop.start()]
        words = self._owner_words(after)
        places: list[str] = []
        previous = 0
        for i, (w_start, w_end, kind) in enumerate(words):
            gap = after[previous:w_start]
            previous = w_end
            relation = self._last_relation(gap)
            near = len(gap.split()) <= (3 if kind != "bone" else 1)
            if i == 0 and relation is None and near:
                places.append(kind)  # "T2 hyperintense lesion", "STIR signal L sacral ala"
                continue
            if not places and kind == "bone" and relation is None and _APPOSITION.search(gap):
                places.append(kind)  # "STIR hyperintensity and low T1 signal, left 7th rib"
                continue
            if (
                relation == "beside"
                and not _MARROW.match(after[w_start:w_end])
                # "the surrounding humeral head marrow": the bone's marrow around a lesion
                and not _MARROW.match(after[w_end:].lstrip())
            ):
                continue
            if relation is None:
                continue
            if places and places[-1] != "bone" and not self._coordinated(gap, relation):
                continue
            places.append(kind)
        before = text[lo:start].lower()
        before_words = self._owner_words(before)
        around = self._rules.around
        if around is not None and around.search(" ".join(before.split()[-2:])):
            # "Bankart-Läsion 4 mm mit umgebender STIR-Hyperintensität", "lesion in the
            # glenoid with surrounding high STIR signal": the signal is around the
            # structure, in the bone it lies in
            before_words = [w for w in before_words if w[2] != "structure"]
        if before_words:
            last_start, last_end, last_kind = before_words[-1]
            if (
                last_kind == "structure"
                and len(before[last_end:].split()) <= 4
                and not self._after_beside(before, last_start)  # "Around the cavity, ..."
            ):
                return False  # "infiltrating lesion with high T2 signal ... within the sacrum"
            if last_kind == "soft" and not before[last_end:].strip():
                return False  # "periosteal high signal along the posteromedial cortex"
        own_words = text[start:end].lower().split() + before.split()[-1:]
        if "structure" not in places and any(
            _MARROW.search(w) and not w.startswith("extra") for w in own_words
        ):
            # "periosteal edema + intramedullary STIR hyperintensity", "faint marrow STIR
            # signal": a marrow word in or right before the phrase places it, whatever else
            # its clause names
            return True
        marrow_words = list(_MARROW.finditer(before, max(0, len(before) - _MARROW_REACH)))
        at = marrow_words[-1].start() if marrow_words else -1
        # not "extramedullary" (soft tissue)
        part = before[at:] if at >= 0 and not before[:at].endswith("extra") else ""
        if (
            part
            and "structure" not in places
            and {kind for _, _, kind in self._owner_words(part)} == {"bone"}
            and all(kind != "structure" for _, _, kind in before_words)
        ):
            # "..., enhancing synovium, and an area of abnormal marrow signal in the distal
            # tibial metaphysis, low on T1 and high on STIR": its own part speaks of marrow
            return True
        if places:
            return "bone" in places
        if before_words:
            _, last_end, last_kind = before_words[-1]
            between = before[last_end:]
            if (
                last_kind == "bone"
                and _MARROW.match(between.lstrip())
                and len(between.split()) <= _OWN_MARROW_WORDS
            ):
                return True  # "Bankart fragment, glenoid marrow also STIR bright"
        # "Surrounding the lesion, the marrow of the femoral head ... shows high STIR
        # signal": what the signal is beside is not where it is
        placed = [
            (w_start, kind)
            for w_start, _, kind in before_words
            if not self._after_beside(before, w_start)
        ]
        # "... Knorpelschaden mit subchondralen Signalalterationen: im medialen Tibiaplateau
        # ... STIR-hyperintense Areale": a colon opens the signal's own part, unless only a
        # label stands before it ("Scaphoid: ?faint STIR hyperintensity")
        colon = before.rfind(":")
        kinds = {kind for w_start, kind in placed if w_start > colon} or {k for _, k in placed}
        if kinds - {"bone"}:
            return False
        return True if kinds else None

    def _resolved_at(self, text: str, start: int) -> bool:
        """True if words that say the edema has gone from it end right before `start`."""
        signal = self._rules.signal
        assert signal is not None and signal.resolved_at is not None
        return _right_before(signal.resolved_at, text, start, 40)

    def _after_beside(self, text: str, start: int) -> bool:
        """True if a beside-relation ("superior to", "adjacent to") ends right before `start`."""
        signal = self._rules.signal
        assert signal is not None
        return _right_before(signal.beside, text, start, 24)

    def _last_relation(self, gap: str) -> str | None:
        """ "inside" or "beside": the relation word nearest the end of `gap`, or None."""
        signal = self._rules.signal
        assert signal is not None
        inside = list(signal.inside.finditer(gap))
        beside = list(signal.beside.finditer(gap))
        if not inside and not beside:
            return None
        if signal.part_of is not None:
            # "proximal to the base of the", "in the head of the": after the first
            # relation, a part's "of" belongs to the place; the relation before it decides.
            first = min(m.start() for m in inside + beside)
            inside = [
                m for m in inside if m.start() == first or not signal.part_of.fullmatch(m.group())
            ]
        last_inside = max((m.end() for m in inside), default=-1)
        return "inside" if last_inside > max((m.end() for m in beside), default=-1) else "beside"

    def _coordinated(self, gap: str, relation: str) -> bool:
        """Whether `gap` joins a second place to the first: a coordinator before its
        last relation word ("... and in the vertebrae"; not "of the middle and distal")."""
        signal = self._rules.signal
        assert signal is not None
        words = signal.inside if relation == "inside" else signal.beside
        found = list(words.finditer(gap))
        if found and found[-1].group().endswith("ing"):
            # "lesions in the T10 body, replacing fatty marrow": what the lesion does,
            # no second place of the signal's.
            return False
        last = max((m.start() for m in found), default=len(gap))
        # The coordinator right before the relation: "lesion ..., rings and arcs
        # calcification on the xray, endosteal" joins nothing to the lesion.
        return bool(_COORDINATOR.search(gap, max(0, last - _COORDINATED_REACH), last))

    def names_only_soft_tissue(self, text: str) -> bool:
        """True if `text` (lower case) names a soft tissue and no bone, marrow or structure
        ("periosteal edema", "the fat pad")."""
        if self._rules.owners is None or self._rules.signal is None:
            return False
        kinds = {kind for _, _, kind in self._owner_words(text)}
        return kinds == {"soft"}

    def names_structure(self, text: str) -> bool:
        """True if `text` (lower case) names a soft tissue or a structure (cyst, lesion...)."""
        return any(kind != "bone" for _, _, kind in self._owner_words(text))

    def _owner_words(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, kind) of bone, soft-tissue and structure words; kind bone/soft/structure.

        A bone word right before a structure ("bone cyst", "bone island", "L4-5 facet
        joint") or a soft tissue ("patellar cartilage", "tibial periosteum") is the
        structure's or the tissue's: the head of such a compound comes last.
        """
        signal = self._rules.signal
        assert signal is not None
        found = [(s, e, "bone" if bone else "soft") for s, e, bone in self._tissue_words(text)]
        structures = [
            (m.start(), m.end(), "structure") for rx in signal.structures for m in rx.finditer(text)
        ]
        kept = [
            w for w in found if all(w[1] <= s[0] or w[0] >= s[1] for s in structures)
        ] + structures
        kept.sort()
        out: list[tuple[int, int, str]] = []
        for i, w in enumerate(kept):
            nxt = kept[i + 1] if i + 1 < len(kept) else None
            if (
                w[2] == "bone"
                and nxt is not None
                and nxt[2] != "bone"
                and _RIGHT_BEFORE.fullmatch(text[w[1] : nxt[0]]) is not None
            ):
                continue
            out.append(w)
        return out

    def _tissue_words(self, text: str) -> list[tuple[int, int, bool]]:
        """(start, end, is_bone) of bone and soft-tissue words in `text`, in order.

        Where a soft-tissue word and a bone word overlap, the longer wins, a
        tie goes to the soft tissue ("patellar tendon").
        """
        assert self._rules.owners is not None
        found = [(h.start, h.end, True) for h in self.find_bones(text)]
        found += [
            (m.start(), m.end(), True)
            for rx, literal in self._owner_bone
            if literal is None or literal in text
            for m in rx.finditer(text)
        ]
        found += [
            (m.start(), m.end(), False)
            for rx, literal in self._owner_soft
            if literal is None or literal in text
            for m in rx.finditer(text)
        ]
        kept: list[tuple[int, int, bool]] = []
        for hit in sorted(found, key=lambda h: (h[0] - h[1], h[2], h[0])):
            if all(hit[1] <= k[0] or hit[0] >= k[1] for k in kept):
                kept.append(hit)
        return sorted(kept)

    def _last_soft_break(self, before: str) -> int:
        """Offset just after the last clause-break word in `before`, or 0."""
        cut = 0
        for rx in self._soft_breaks:
            for found in rx.finditer(before):
                cut = max(cut, found.end())
        return cut

    def _side_for(
        self,
        hit: BoneHit,
        sides: list[tuple[int, str]],
        hits: Sequence[BoneHit] = (),
        after_only: frozenset[int] = frozenset(),
        segment: str = "",
    ) -> str | None:
        """The nearest laterality word before the bone, else the first after it.

        A word after the bone wins when it is nearer and no other bone stands
        between them, while other bones stand between the bone and the word
        before it ("right SI joint (sacral and iliac) and the sacral side of
        the left SI joint": the second "sacral" is left).
        """
        # A side word inside the bone's own words ("on both sides of the right SI
        # joint") is said of it, like one before it.
        preceding = [(pos, side) for pos, side in sides if pos < hit.end]
        following = [(pos, side) for pos, side in sides if pos >= hit.end and pos not in after_only]
        part_of = self._rules.side_part_of_gap
        if (
            following
            and segment
            and part_of is not None
            and part_of.fullmatch(segment, hit.end, following[0][0])
        ):
            return following[0][1]  # "the sacral side of the left joint"
        if following and preceding:
            before_pos, after_pos = preceding[-1][0], following[0][0]
            gap = self._rules.side_after_bone_gap
            if (
                segment
                and gap is not None
                and gap.fullmatch(segment, hit.end, after_pos)
                and "," in segment[before_pos : hit.start]
            ):
                # "iliakal beidseits, rechts ausgedehnter, sowie sakral nur links": a
                # side right after the bone, in a part of its own after a comma
                return following[0][1]
            if after_pos - hit.end <= _ADJACENT and any(
                0 <= before_pos - h.end <= _ADJACENT for h in hits
            ):
                # Sides written after their bones: "pubis left, acetabulum left and
                # sacral ala right" (the "left" before the ala is the acetabulum's).
                return following[0][1]
            bones_before = any(before_pos < h.start and h.end <= hit.start for h in hits)
            bones_after = any(hit.end <= h.start and h.end <= after_pos for h in hits)
            # "links sowohl sakral als auch iliakal, rechts vorwiegend im Darmbein": a
            # side word with bones of its own after it (before the next side word)
            # opens their part and is not the side of the bone before it.
            next_pos = following[1][0] if len(following) > 1 else None
            labels_next = any(
                h.start >= after_pos and (next_pos is None or h.start < next_pos) for h in hits
            )
            if (
                bones_before
                and not bones_after
                and not labels_next
                and after_pos - hit.end < hit.start - before_pos
                # "iliakal und sakral sowie Erosionen links": the side of another finding
                and not (
                    segment
                    and self._rules.side_other_finding is not None
                    and self._rules.side_other_finding.search(segment, hit.end, after_pos)
                )
            ):
                return following[0][1]
        if preceding:
            return preceding[-1][1]
        return following[0][1] if following else None

    def _final(self, bone: str, side: str | None) -> str | None:
        return None if bone in self._midline else side

    def on_side(self, anatomy: Anatomy, side: str) -> Anatomy:
        """`anatomy`'s bones all on `side` (midline bones keep none)."""
        bones = tuple((bone, self._final(bone, side)) for bone, _ in anatomy.bones)
        return dataclasses.replace(anatomy, bones=_dedupe(bones))

    def _severity(self, before: str) -> str | None:
        words = before.split()[-self._rules.severity_window_words :]
        window = " ".join(words)
        best: tuple[int, str] | None = None
        for term in self._rules.severity:
            for m in term.pattern.finditer(window):
                if best is None or m.start() > best[0]:
                    best = (m.start(), term.severity)
        return best[1] if best else None


# How far before a side word a comparison of it starts ("more pronounced in the lower
# third on the left"), and how long a side word is at most.
_COMPARISON_CHARS = 64
_SIDE_WORD_CHARS = 12


def _longer_first(word: tuple[int, int, str]) -> tuple[int, int]:
    return word[0], -word[1]


# "the head" stands for a bone head named at most this many characters before it.
_ANAPHORA_CHARS = 400
_HEAD_BONES = frozenset({"femoral_head", "humeral_head", "radial_head", "fibular_head"})
# At most this many characters between a bone and a side word written right after it.
_ADJACENT = 2

_OWN_MARROW_WORDS = 3  # "glenoid marrow also STIR bright": the bone's marrow owns the signal
# Right before a side word that a comparison is made with ("less than on the right",
# "geringer als links").
_COMPARED_SIDE_CHARS = 24  # "on the left more than": the other side before "than"
_THAN = re.compile(r"\b(than|als)\s+(?:(?:on|in|at|auf)\s+)?(?:(?:the|der)\s+)?$")
# A place set off by a comma after the signal's words, with no relation word:
# ", anterolateral left 7th rib" (a bone and up to three words of its position).
_APPOSITION = re.compile(r",\s+(?:\S+\s+){0,3}$")
# Where the places of a signal description end: the next clause ("..., and a rim of fluid").
_ASIDE_CHARS = 40  # an aside's length ("with low T1 signal")
_PLACE_STOP = re.compile(r",\s*(?:and|but|while|whereas|with|which)\b|;|\.\s")
_ONLY_ARTICLE = re.compile(r"\s*(?:(?:the|a|an|der|die|das|dem|den)\s+)?")


def _right_before(rx: re.Pattern[str], text: str, start: int, window: int) -> bool:
    """True if a match of `rx` in the `window` characters before `start` ends right before
    it, an article at most between them."""
    found = list(rx.finditer(text, max(0, start - window), start))
    return bool(found) and _ONLY_ARTICLE.fullmatch(text[found[-1].end() : start]) is not None


def one_side(sides: Iterable[str]) -> str | None:
    """The one laterality of the side words `sides` name: both sides -> bilateral."""
    named = set(sides)
    if "bilateral" in named or {"left", "right"} <= named:
        return "bilateral"
    return next(iter(named), None)


# How far before a signal description a marrow word may name its place, in characters.
_MARROW_REACH = 100
_MARROW = re.compile(r"(?:bone )?mar{1,3}ow|medullary|trabecular|cancellous|subchondral")


_CACHED_SIDE_CHARS = 120
_CACHED_SIDES = 4096
_UNKNOWN = object()
# How many characters of position words may stand between an attach-to-bone side
# word and its bone ("both medial clavicles", laterality.json "attach_between").
_ATTACH_GAP_CHARS = 40
# How far after an attach-to-bone side word ("both") a bone's name is read.
_BONE_WORD_CHARS = 48


# How near a mention a one-sided word is said of it ("edematous on the right", "on the
# right with bone marrow edema"), in characters.
_OWN_SIDE_CHARS = 16


def _own_side(
    segment: str,
    sides: list[tuple[int, str]],
    start: int,
    end: int,
    hits: list[BoneHit],
    gap: re.Pattern[str] | None,
    parted: re.Pattern[str] | None = None,
) -> str | None:
    """A left or right word right after the mention [start, end) with only `gap` between
    (laterality.json "own_gap"), or right before it with no bone between, else None; not
    one compared with the other side near it, unless `parted` (laterality.json
    "own_break") stands between that other side and the side word with its mention."""
    for offset, side in sides:
        if side == "bilateral" or any(
            other not in (side, "bilateral")
            and 0 < abs(at - offset) <= _COMPARISON_CHARS
            and not _parted(segment, at, min(offset, start), max(offset, end), parted)
            for at, other in sides
        ):
            continue  # "links etwas betonter als rechts", "re. > li.": both sides
        if (
            gap is not None
            and end <= offset <= end + _OWN_SIDE_CHARS
            and gap.fullmatch(segment, end, offset)
        ):
            return side
        if start - _OWN_SIDE_CHARS * 2 <= offset < start and not any(
            offset < h.start and h.end <= start for h in hits
        ):
            return side
    return None


def _parted(segment: str, at: int, lo: int, hi: int, parted: re.Pattern[str] | None) -> bool:
    """Whether a side word at `at` stands in another clause than [lo, hi): `parted` between."""
    if parted is None or lo <= at < hi:
        return False
    return (
        parted.search(segment, hi, at) is not None
        if at >= hi
        else parted.search(segment, at, lo) is not None
    )


def _said_normal(segment: str, hits: list[BoneHit], normal: NormalBones) -> set[BoneHit]:
    """The bones in `hits` (text order) of lists that `normal.says` calls normal."""
    said: set[BoneHit] = set()
    run: list[BoneHit] = []
    for hit, following in zip(hits, [*hits[1:], None], strict=True):
        run.append(hit)
        if (
            following is not None
            and following.start >= hit.end
            and normal.joins.fullmatch(segment, hit.end, following.start)
        ):
            continue  # the list goes on
        if normal.says.match(segment, hit.end):
            said.update(run)
        run = []
    return said


def _resolve(side: str | Callable[[str | None], str | None] | None, bone: str) -> str | None:
    """A side given as a value, or as a function of the bone computing it when needed."""
    return side(bone) if callable(side) else side


def _dedupe(bones: tuple[tuple[str, str | None], ...]) -> tuple[tuple[str, str | None], ...]:
    seen: dict[str, str | None] = {}
    for bone, side in bones:
        seen[bone] = merge_sides(seen[bone], side) if bone in seen else side
    return tuple(seen.items())


def merge_sides(a: str | None, b: str | None) -> str | None:
    """Laterality of one bone seen twice: left + right is bilateral, unknown yields."""
    if a is None or a == b:
        return b
    if b is None:
        return a
    return "bilateral"


# Most characters between a part word and the bone it is of ("pole of the", "Pol des").
_PART_OF_GAP = 8
_PUNCTUATION = re.compile(r"[,.;:()]")


def _levels_of_posterior_elements(
    segment: str, chosen: list[BoneHit], mention: int, levels: re.Pattern[str] | None
) -> list[BoneHit]:
    """The hits without vertebral bodies that are only the level of posterior elements.

    "At L5 there is increased STIR signal in the pars interarticularis and adjoining
    pedicle", "Auf Höhe LWK 5 beidseits in der Pars interarticularis ... hyperintenses
    Signal": a level that opens the clause, before the mention (at `mention`) and the
    posterior elements, says where they are, not that the vertebral body is edematous.
    A body named as such ("the L5 vertebral body and both pedicles") stays, and so does a
    level after the mention ("edema extends through the remainder of L1 and into the
    right pedicle").
    """
    if levels is None:
        return chosen
    elements = [h.start for h in chosen if h.bone == "posterior_elements"]
    bodies = [h for h in chosen if h.bone == "vertebral_body"]
    if not elements or not bodies:
        return chosen
    first = min(mention, *elements)
    if not all(
        h.end <= first and levels.fullmatch(segment[h.start : h.end].strip()) for h in bodies
    ):
        return chosen
    return [h for h in chosen if h.bone != "vertebral_body"]


def spine_levels(sentence: str, pattern: re.Pattern[str] | None) -> set[str]:
    """The spine levels a sentence names ("L4-5" is L4 and L5; "T11-L1" its two ends), by
    `pattern` (etiology.json "spine_levels"; none without it).

    A lone "T1" or "T2" is the sequence, not the vertebra.
    """
    out: set[str] = set()
    if pattern is None:
        return out
    for found in pattern.finditer(sentence.lower()):
        letter, number, end_letter, end_number = found.groups()
        # German names ("BWK 9", "HWK 5") read as the letters the rest use
        letter = _LEVEL_LETTERS.get(letter, letter)
        end_letter = _LEVEL_LETTERS.get(end_letter, end_letter) if end_letter else end_letter
        first = int(number)
        if end_number is None:
            if f"{letter}{first}" not in _SEQUENCE_NAMES:
                out.add(f"{letter}{first}")
            continue
        out.add(f"{letter}{first}")
        last = int(end_number)
        if end_letter in (None, letter) and first < last <= first + 6:
            out.update(f"{letter}{n}" for n in range(first + 1, last + 1))
        else:
            out.add(f"{end_letter or letter}{last}")
    return out


_SEQUENCE_NAMES = frozenset({"t1", "t2"})
# The region letters of German vertebra names ("BWK", "HWK") as the other names' ("T", "C").
_LEVEL_LETTERS = {"b": "t", "h": "c"}


__all__ = ["Anatomy", "AnatomyReader", "BoneFinder", "BoneHit", "merge_sides", "spine_levels"]
