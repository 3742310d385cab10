"""Report layout from plain text: sections, lines, line headings and sentences.

Strategy: MSK MRI reports are line-structured (headers, numbered impression
items, `BONE MARROW:` sub-headings, bullets), so sections and sentences come
from cheap regexes over lines instead of a statistical or PyRuSH sentencizer
(PyRuSH took 33 of 39 ms per report here). A line is never part of two
sentences; inside a line a sentence ends at `.`, `!` or `?` followed by space
and an upper-case letter, digit or bracket, unless the word before the dot is
a known abbreviation or the text so far is only a list marker ("1.").
Everything works on character offsets into the original text.
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_right
from dataclasses import dataclass

from nlp.ruleset import EXAM_SECTION, OPERATIVE_SECTION, RuleSet

FINDINGS_SECTION = "findings"  # internal section name, the same in every language
HISTORY_SECTION = "history"
# An "Exam:" line of more words than this that names no imaging is a physical examination.
_EXAM_TITLE_WORDS = 4
_LABEL_WORDS = 6  # words before the colon of an exam's label ("MRI left foot:")

# A "?" after a space opens a question about what follows ("LTP ? BME"), ends nothing.
_AFTER_SENTENCE = re.compile(r"[.!?][ \t]+$")
# A line that opens with a field's label ("Title: ...", "History: ..."): an export
# that joined its fields into one line, so a later label starts a field even
# without a sentence's end before it ("Title: SONK History: 71F ...").
_FIELD_START = re.compile(r"[ \t]*(?:[-*>•][ \t]*)?[A-Z][A-Za-z&/ ]{0,30}:[ \t]")
_SENTENCE_END = re.compile(r"(?:[.!]|(?<!\s)\?)(?=\s+\S)")
_WORD_BEFORE = re.compile(r"(?<![A-Za-z])([A-Za-z][A-Za-z.]*)\.$")
_NUMBER_BEFORE = re.compile(r"(\S+)\s+\d{1,3}\.$")
# A date that ends with its dot ("vom 06.05.", "on 3.4.") ends no sentence when the text
# goes on in lower case.
_DATE_BEFORE = re.compile(r"\b\d{1,2}\.\d{1,2}\.(?:\d{2,4}\.?)?$")

# Columns of a table row: a tab, or two or more spaces, between words of a line.
_COLUMN_GAP = re.compile(r"\S(?:\t| {2,})[ \t]*\S")


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    line: int  # index of the line it stands in


@dataclass(frozen=True)
class Line:
    start: int
    end: int
    section: str | None  # internal section name; None before/without headers
    heading: str  # lower-cased sub-heading before ":" ("bone marrow"), or ""


@dataclass(frozen=True, eq=False)
class Layout:
    """Sections, lines and sentences of one report."""

    lines: tuple[Line, ...]
    sentences: tuple[Sentence, ...]
    exam_text: str  # title line(s) and EXAM/PROCEDURE block, for laterality

    def line_at(self, offset: int) -> Line:
        """The line of the sentence holding character `offset`."""
        return self.lines[self.sentences[self.sentence_index(offset)].line]

    def sentence_index(self, offset: int) -> int:
        """Index of the sentence holding character `offset`."""
        return max(0, bisect_right(self.sentence_starts, offset) - 1)

    @functools.cached_property
    def sentence_starts(self) -> list[int]:
        return [s.start for s in self.sentences]


@functools.cache
def list_item(marker: str) -> re.Pattern[str]:
    """A line that opens a list item: sentences.json `list_marker` and a space ("- ", "2) ")."""
    return re.compile(rf"^[ \t]*{marker}[ \t]+")


# One-word titles this long are still read with one letter missing, extra, wrong or
# swapped ("Impresion:", "Befudn:"); shorter ones would take ordinary words.
MISSPELT_TITLE_LENGTH = 7


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def _misspellings(titles: dict[str, str]) -> dict[str, frozenset[str]]:
    """Each long one-word title, and it less one letter -> the titles they come from.

    Symmetric deletions find the candidates (`LayoutReader._misspelt_title`), which
    `_one_edit` then checks: a header with a letter missing is a title less one letter,
    one with an extra letter less one is a title, one with a wrong or swapped letter
    less one is a title less one.
    """
    by_variant: dict[str, set[str]] = {}
    for title in titles:
        if len(title) < MISSPELT_TITLE_LENGTH - 1 or not title.isalpha():
            continue
        for variant in _deletions(title) | {title}:
            by_variant.setdefault(variant, set()).add(title)
    return {variant: frozenset(found) for variant, found in by_variant.items()}


def _one_edit(a: str, b: str) -> bool:
    """`a` is `b` with one letter missing, extra or wrong, or two neighbours swapped."""
    if len(a) == len(b):
        wrong = [i for i in range(len(a)) if a[i] != b[i]]
        return len(wrong) == 1 or (
            len(wrong) == 2 and wrong[1] == wrong[0] + 1 and a[wrong[0]] == b[wrong[1]]
            and a[wrong[1]] == b[wrong[0]]
        )  # fmt: skip
    short, long = (a, b) if len(a) < len(b) else (b, a)
    if len(long) - len(short) != 1:
        return False
    i = next((k for k in range(len(short)) if short[k] != long[k]), len(short))
    return short[i:] == long[i + 1 :]


class LayoutReader:
    """Splits report text into lines, sections and sentences for one language."""

    def __init__(self, rules: RuleSet) -> None:
        self._title_section = {t: s.name for s in rules.sections for t in s.titles}
        self._own_line_titles = rules.own_line_titles
        self._longest_title = max((len(t.split()) for t in self._title_section), default=1)
        self._misspelt = _misspellings(self._title_section)
        marker = rules.list_marker
        self._marker = list_item(marker)
        self._heading = re.compile(
            rf"^[ \t]*(?:{marker}[ \t]+)?(?P<heading>[^:.;\n]{{1,60}}):(?:\s|$)"
        )
        self._marker_only = re.compile(rf"^\s*{marker}\s*$")
        self._abbreviations = rules.abbreviations
        self._wrap_words = rules.wrap_words
        self._wrap_pattern = rules.wrap_pattern
        self._ordinal_after = rules.ordinal_after
        self._starters = rules.sentence_starters
        self._mid_sentence = rules.mid_sentence_abbreviations
        self._current = rules.current_sections
        self._exam_title = rules.exam_title
        self._exam_heading = rules.exam_heading
        self._findings_paragraph = rules.findings_paragraph
        self._qualified = rules.title_qualifier

    def unwrap(self, text: str) -> str:
        """`text` with soft line breaks (hard-wrapped dictation) made spaces; same length.

        A break is soft when the line before neither ends a sentence nor is a
        header, and the next line is no list item and goes on in lower case or
        the line before ends on a continuation word ("of", "the", ",").
        Offsets into the result are offsets into `text`.
        """
        if "\n" not in text:
            return text
        lines = text.split("\n")
        out = []
        for i, line in enumerate(lines[:-1]):
            following = lines[i + 1]
            soft = self._soft_break(line, following)
            if soft and line.endswith("\r"):
                out.append(line[:-1] + "  ")
            else:
                out.append(line + (" " if soft else "\n"))
        out.append(lines[-1])
        return "".join(out)

    def _soft_break(self, line: str, following: str) -> bool:
        before, after = line.rstrip(), following.lstrip()
        if not before or not after or before[-1] in ".:;!?":
            return False
        if self._marker.match(following):
            return False
        # A header line breaks hard unless dictation already runs on after its
        # colon ("Befund: Ausgedehntes Knochenmarködem im" / "medialen ...").
        if self.section_of_line(line) is not None and len(before.partition(":")[2].split()) < 2:
            return False
        if self.section_of_line(following) is not None or self._heading.match(following):
            return False
        if _COLUMN_GAP.search(before) and _COLUMN_GAP.search(after):
            return False  # rows of a table ("medial cuneiform\tnl\thigh\tedema")
        last_word = before.rsplit(None, 1)[-1]
        return (
            after[0].islower()
            or after[0] in "(["
            or before[-1] in ",(/-"
            or last_word.lower() in self._wrap_words
            # Languages that capitalise nouns (German) need the word before the break.
            or (self._wrap_pattern is not None and self._wrap_pattern.search(last_word) is not None)
        )

    def _misspelt_title(self, head: str) -> str | None:
        """The section of a long one-word title `head` is one edit from; None if none or two."""
        if len(head) < MISSPELT_TITLE_LENGTH or not head.isalpha():
            return None
        candidates: set[str] = set(self._misspelt.get(head, ()))
        for variant in _deletions(head):
            candidates.update(self._misspelt.get(variant, ()))
        found = {self._title_section[t] for t in candidates if _one_edit(head, t)}
        return next(iter(found)) if len(found) == 1 else None

    def section_of_line(self, line_text: str) -> str | None:
        """The section a header line opens, or None when the line is no header.

        A header is a title at the start of the line followed by ":", " - " or
        the line's end, in any case; an upper-case title may also run straight
        into text ("IMPRESSION Normal study."). Dictionary lookups, no big regex.
        """
        stripped = line_text.strip()
        if stripped[:1].isdigit() or stripped[:1] in "-*\u2022(":
            stripped = self._marker.sub("", stripped, count=1)
        colon = stripped.find(":")
        head = stripped[:colon] if colon > 0 else stripped.split(" - ", 1)[0]
        head = head.strip().rstrip("-").strip().lower()
        section = self._title_section.get(head)
        if section is not None:
            return section
        if colon > 0:
            # "Addendum after MDT review with the reporting radiologist:", "Impression
            # by the second reader:": a title that a phrase of its own qualifies
            qualified = None if self._qualified is None else self._qualified.match(head)
            if qualified is not None and qualified.group(1) in self._title_section:
                return self._title_section[qualified.group(1)]
            # "Nachtrag (nach Rücksprache ...):", "Addendum (second read):": a title with
            # its qualifier in brackets
            bare, bracket, _ = head.partition(" (")
            if bracket and head.endswith(")") and bare.strip() in self._title_section:
                return self._title_section[bare.strip()]
            # "Impresion:", "Beurteilng:": a long one-word title a letter off
            misspelt = self._misspelt_title(head)
            if misspelt is not None:
                return misspelt
        if head in self._own_line_titles and not stripped[len(head) :].strip(" \t:-"):
            return self._own_line_titles[head]  # "IMP:" alone over its list
        dot = self._dot_title(stripped)
        if dot > 0:
            return self._title_section[stripped[:dot].lower()]
        words = stripped.split(None, self._longest_title)
        if not words or words[0] != words[0].upper():
            return None  # a lower-case letter in the first word: no upper-case title
        for n in range(min(self._longest_title, len(words)), 0, -1):
            if n < len(words) and words[n][:1].isdigit() and n == 1 and len(words) > 2:
                continue  # "CASE 0412 - Rib stress fracture": a numbered title, no header
            candidate = " ".join(words[:n])
            if candidate.isupper() and candidate.lower() in self._title_section:
                return self._title_section[candidate.lower()]
        return None

    def read(self, text: str) -> Layout:
        """The layout of `text`; offsets index into `text`."""
        lines: list[Line] = []
        sentences: list[Sentence] = []
        exam_parts: list[str] = []
        section: str | None = None
        seen_header = False
        opened_findings = False
        after_inline: list[int] = []  # lines that follow a one-line "History: ..." header
        inline = False
        resume: str | None = None  # the current section a one-line header interrupted
        operative = False  # an operative note's own sections have opened
        blank = False  # a blank line came before this one
        for start, end in self._pieces(text):
            raw = text[start:end]
            if not raw.strip():
                blank = True
                continue
            after_blank, blank = blank, False
            opened = self.section_of_line(raw)
            if opened == EXAM_SECTION and self._physical_exam(raw):
                opened = HISTORY_SECTION  # "Exam: tender over the MCL, left knee normal."
            elif opened == OPERATIVE_SECTION:
                operative = True
            elif opened == FINDINGS_SECTION and operative:
                opened = OPERATIVE_SECTION  # what the surgeon found, not the imaging
            elif (
                opened is None
                and section == HISTORY_SECTION
                and self._exam_heading is not None
                and self._exam_heading.fullmatch(raw.strip().lower()) is not None
            ):
                opened = FINDINGS_SECTION  # "Clinical history" ... then a bare "MRI" line
            if (
                opened is None
                and after_blank
                and section == HISTORY_SECTION
                and not inline
                and self._findings_paragraph is not None
                and self._findings_paragraph.match(raw.strip().lower()) is not None
            ):
                # a letter's history, then a paragraph of what today's MRI shows
                section, opened_findings = FINDINGS_SECTION, True
            elif opened is not None:
                was_inline = inline
                inline = bool(self._inline_content(raw))
                # "FINDINGS:" (added by an HL7 &GDT block, say), then "Comparison:
                # prior MRI." on one line (or several such lines), then the
                # findings: they go on in FINDINGS.
                if not inline:
                    resume = None
                elif section in self._current and section is not None:
                    resume = section
                elif not was_inline:
                    resume = None
                section, seen_header = opened, True
                opened_findings = opened_findings or opened == FINDINGS_SECTION
            elif inline and section not in self._current and section != EXAM_SECTION:
                if resume is not None:
                    section, inline = resume, False
                else:
                    after_inline.append(len(lines))
            elif not seen_header:
                # Before the first header: title lines are the exam block; any
                # prose there (dictation before IMPRESSION:) is current text,
                # and so is every line after it (a short finding is no title).
                in_titles = not lines or section == EXAM_SECTION
                title = in_titles and self._looks_like_title(raw, len(lines))
                section = EXAM_SECTION if title else None
            if section == EXAM_SECTION:
                exam_parts.append(raw)
            heading_match = self._heading.match(raw)
            heading = heading_match.group("heading").strip().lower() if heading_match else ""
            index = len(lines)
            lines.append(Line(start, end, section, heading))
            sentences.extend(Sentence(s, e, index) for s, e in self._split(text, start, end))
        if after_inline and not opened_findings:
            # "History: 58F, groin pain." and then the findings with no header of
            # their own: a one-line header holds only its line when the report
            # never opens a findings section.
            for index in after_inline:
                line = lines[index]
                lines[index] = Line(line.start, line.end, None, line.heading)
        if not seen_header:
            # Dictation without any header: all of it is current text; the
            # first line may still be a title ("MRI LEFT KNEE").
            lines = [Line(x.start, x.end, None, x.heading) for x in lines]
            exam_parts = [text[lines[0].start : lines[0].end]] if lines else []
        return Layout(tuple(lines), tuple(sentences), "\n".join(exam_parts).lower())

    def _pieces(self, text: str) -> list[tuple[int, int]]:
        """(start, end) of each line, a line cut where a title opens a section inside it.

        "History: ...  Findings: ...  Diagnosis: ..." (a system that joins its
        fields into one line): a title, capitalised and followed by ":", after a
        sentence's end or a run of spaces, starts a line of its own.
        """
        out = []
        pos = 0
        for raw in text.split("\n"):
            base, start = pos, pos
            pos += len(raw) + 1
            colon = raw.find(":", 1)
            field = _FIELD_START.match(raw)
            while colon > 0:
                # After the opening field's own label, not inside it ("PREOPERATIVE DIAGNOSIS:")
                fielded = field is not None and colon >= field.end()
                cut = self._inline_title(raw, colon, fielded)
                if cut > 0 and base + cut > start:
                    out.append((start, base + len(raw[:cut].rstrip())))
                    start = base + cut
                colon = raw.find(":", colon + 1)
            out.append((start, pos - 1))
        return out

    def _inline_title(self, raw: str, colon: int, fielded: bool = False) -> int:
        """Where a section title ending at `colon` starts inside `raw`, or -1.

        `fielded`: the line opens with a field's label, so a title needs no
        sentence's end before it.
        """
        if raw[colon + 1 : colon + 2] not in (" ", "\t"):
            return -1
        end = colon
        cut = -1  # the longest title wins: "Differential Diagnosis:", not "Diagnosis:"
        for _ in range(self._longest_title):
            space = max(raw.rfind(" ", 0, end), raw.rfind("\t", 0, end))
            if space < 0:
                break
            title = raw[space + 1 : colon]
            if title[:1].isupper() and title.lower() in self._title_section:
                before = raw[: space + 1]
                if fielded or before.endswith(("  ", "\t")) or _AFTER_SENTENCE.search(before):
                    cut = space + 1
            end = space
        return cut

    def _physical_exam(self, header_line: str) -> bool:
        """An "Exam:" line that holds a physical examination, not the imaging exam's title."""
        if self._exam_title is None:
            return False
        content = self._inline_content(header_line).lower()
        return len(content.split()) > _EXAM_TITLE_WORDS and self._exam_title.search(content) is None

    def _inline_content(self, header_line: str) -> str:
        """What follows the header's colon (or a "Title." run-in's dot) on its own line
        ("" for a bare header)."""
        _, colon, rest = header_line.partition(":")
        if colon:
            return rest.strip()
        stripped = header_line.strip()
        dot = self._dot_title(stripped)
        return stripped[dot + 1 :].strip() if dot > 0 else ""

    def _dot_title(self, stripped: str) -> int:
        """Where the dot of a run-in title ends it ("Teaching point. Bone marrow edema
        syndrome is ...", "Imaging." alone), or -1: a capitalised title, a dot, then the
        line's end or a capital letter."""
        dot = stripped.find(".")
        if dot <= 0 or not stripped[:1].isupper():
            return -1
        after = stripped[dot + 1 : dot + 3]
        if after and not (after[:1] == " " and after[1:2].isupper()):
            return -1
        return dot if stripped[:dot].lower() in self._title_section else -1

    def _looks_like_title(self, line: str, index: int) -> bool:
        """A title line: the first lines, short, without a sentence inside, and not an
        exam's label followed by its findings ("MRT Vorfuß li.: STIR-hyperintenses
        Markraumsignal MT II, periostales Ödem.")."""
        if index >= 3 or self._marker.match(line):
            return False  # not among the first lines, or a list item ("- Bone bruise ...")
        stripped = line.strip()
        body = stripped.rstrip(".")
        short = stripped.isupper() or (len(body.split()) <= 12 and ". " not in body)
        return short and not self._labelled_findings(stripped)

    def _labelled_findings(self, line: str) -> bool:
        """An exam's label ("MRI left foot", sections.json `exam_title`), a colon, and more
        than four words that name no imaging exam: findings, not a title."""
        if self._exam_title is None:
            return False
        label, colon, rest = line.partition(":")
        if not colon or len(label.split()) > _LABEL_WORDS:
            return False
        if self._exam_title.search(label.lower()) is None:
            return False  # "Chronic ACL tear: where are the bone bruises?" is a title
        return (
            len(rest.split()) > _EXAM_TITLE_WORDS and self._exam_title.search(rest.lower()) is None
        )

    def _split(self, text: str, start: int, end: int) -> list[tuple[int, int]]:
        """Sentences of one line; every check looks at a bounded window, so a line of any
        length is split in linear time."""
        line = text[start:end]
        out = []
        begin = _skip_space(line, 0)
        for m in _SENTENCE_END.finditer(line):
            cut = m.end()
            if cut - begin <= _MARKER_CHARS and self._marker_only.match(line[begin:cut]):
                continue
            piece = line[max(begin, cut - _WORD_WINDOW) : cut]
            word = _WORD_BEFORE.search(piece)
            abbreviation = word.group(1).lower().rstrip(".") if word else ""
            if abbreviation in self._abbreviations:
                following = line[cut : cut + _WINDOW].split(None, 1)
                if abbreviation in self._mid_sentence or not (
                    following and following[0].lower() in self._starters
                ):
                    continue
            number = _NUMBER_BEFORE.search(piece) if self._ordinal_after else None
            if number and number.group(1).lower() in self._ordinal_after:
                continue
            if (
                _DATE_BEFORE.search(piece)
                and line[_skip_space(line, cut) : cut + _WINDOW][:1].islower()
            ):
                continue  # "in der Verlaufs-MRT vom 06.05. nicht mehr nachweisbar"
            out.extend(_bounded(line, start, begin, cut))
            begin = _skip_space(line, cut)
        stop = len(line.rstrip())
        if stop > begin:
            out.extend(_bounded(line, start, begin, stop))
        return out


# A sentence ends where a dot, "?" or "!" is followed by a capital: the checks on
# the word before it look this far back, and a marker-only piece ("1.") is short.
_WINDOW = 80
# The word before a dot is looked for this far back: abbreviations and the
# words before an ordinal are short, and a regex search is linear in its window.
_WORD_WINDOW = 32
_MARKER_CHARS = 12
# A "sentence" longer than this (a run-on line, a pasted table, junk) is cut at
# the last space before it, so that the sentence-level work (clauses, ConText)
# stays bounded and the whole annotation linear in the text's length.
MAX_SENTENCE_CHARS = 600


def _skip_space(line: str, i: int) -> int:
    while i < len(line) and line[i].isspace():
        i += 1
    return i


def _bounded(line: str, offset: int, begin: int, end: int) -> list[tuple[int, int]]:
    """[begin, end) of `line` as sentences of at most MAX_SENTENCE_CHARS, cut at spaces."""
    out = []
    while end - begin > MAX_SENTENCE_CHARS:
        cut = line.rfind(" ", begin + 1, begin + MAX_SENTENCE_CHARS)
        if cut <= begin:
            cut = begin + MAX_SENTENCE_CHARS
        out.append((offset + begin, offset + cut))
        begin = _skip_space(line, cut)
    if end > begin:
        out.append((offset + begin, offset + end))
    return out


__all__ = ["Layout", "LayoutReader", "Line", "Sentence", "list_item"]
