"""What the rule files say, as typed, frozen specs: one `RuleSet` per language.

The loaders in `nlp.ruleset` build these from `nlp/rules/<lang>/`; the rest of
`nlp/` reads them. Names of categories and values are the contract's, the same in
every language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from nlp.errors import RuleFileError as RuleFileError  # re-exported for the loaders

CONTEXT_CATEGORIES = (
    "NEGATED_EXISTENCE",
    "POSSIBLE_EXISTENCE",
    "HISTORICAL",
    "RESOLVED",
    "HYPOTHETICAL",
    "PSEUDO",
    "TERMINATE",
    "PERSISTENT",
    "ELSEWHERE",
    "CLAUSE_BREAK",
    "LIST_BREAK",
)
DIRECTIONS = ("FORWARD", "BACKWARD", "BIDIRECTIONAL", "TERMINATE", "PSEUDO")
TARGET_CATEGORIES = ("BME", "EXCLUDE")
LATERALITIES = ("left", "right", "bilateral")
SEVERITIES = ("mild", "moderate", "severe", "extensive")
FLAG_CODES = (
    "BME",
    "BME_POSSIBLE",
    "OSTEONECROSIS_CONCERN",
    "INFECTION_CONCERN",
    "TUMOR_CONCERN",
    "REACTIVE",
    "TRAUMA_OVERLOAD",
    "TRANSIENT_BME",
)
MENTION_STATUSES_DROPPABLE = ("negated", "hypothetical", "historical", "possible")
# Internal section name for the exam/title block; the contract reports it as null.
EXAM_SECTION = "exam"
# Internal section name for a teaching text's discussion of the disease in general
# ("Discussion:", "Explanation:"): not this patient's findings; reported as null.
DISCUSSION_SECTION = "discussion"
# Internal section name for an operative note's own parts ("PREOPERATIVE DIAGNOSIS:",
# "PROCEDURE IN DETAIL:"), and for a "FINDINGS:" after them (what the surgeon saw):
# no imaging findings; reported as null.
OPERATIVE_SECTION = "operative"
# Internal section name for a differential diagnosis ("Differential Diagnosis:",
# "DDx:"): candidates, not findings. Its causes are possibilities the report keeps
# until a later diagnosis or impression names the one it settled on; its edema
# words name candidate diagnoses, not this exam's edema. Reported as the impression.
DIFFERENTIAL_SECTION = "differential"


TokenPattern = tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class TargetRuleSpec:
    """A BME synonym (category BME) or a look-alike that blocks it (EXCLUDE)."""

    literal: str
    category: str
    pattern: TokenPattern | None = None
    etiology: str | None = None
    fallback: bool = False  # only where no other target overlaps ("edema in the talus")
    requires_bone: bool = False  # kept only when a bone is named around it ("contusion")
    # Kept only when a bone, not a soft tissue, owns it in its clause (a bare "edema").
    bone_owned: bool = False
    # A regex over the lower-cased text instead of a token pattern (spellings and
    # compounds that tokenise many ways: "T2-hyperintens", "high-signal intensity").
    regex: re.Pattern[str] | None = None
    # With a regex: substrings of which the lower-cased text must hold one for the
    # regex to be tried at all (a cheap `in` before a costly scan).
    requires: tuple[str, ...] = ()
    # A signal description ("increased STIR signal"): kept only on a fluid-sensitive
    # sequence and in a bone (clauses.json "signal"), like a bone-owned bare edema.
    signal: bool = False


@dataclass(frozen=True)
class ContextRuleSpec:
    """A ConText modifier: negation, uncertainty, history, hypothetical, pseudo, terminate."""

    literal: str
    category: str
    direction: str
    pattern: TokenPattern | None = None
    max_scope: int | None = None
    allowed_types: tuple[str, ...] | None = None
    terminated_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class EtiologyCueSpec:
    """A cause named near the edema; `etiology` None blocks a look-alike phrase."""

    literal: str
    etiology: str | None
    pattern: TokenPattern | None = None
    weak: bool = False
    # With etiology None: a named cause outside the categories ("Charcot
    # neuroarthropathy"), so weak cues near it ("subluxation") do not count.
    explains: bool = False


@dataclass(frozen=True)
class EtiologyScope:
    """How many sentences around a mention a cue of one category may stand in."""

    sentences_before: int = 0
    sentences_after: int = 1


@dataclass(frozen=True)
class BoneSpec:
    """One bone of the contract's vocabulary and the regexes (lower case) that name it."""

    bone: str
    joint: str
    patterns: tuple[re.Pattern[str], ...]
    midline: bool = False
    # Regexes for both sides of a joint this bone shares with another ("on both sides
    # of the right SI joint"): each match names this bone and its partner.
    joint_sides: tuple[tuple[re.Pattern[str], str], ...] = ()
    # Takes its side only from the text near it, never from the history, title or
    # procedure: the posterior elements of a vertebra (a spinous process is midline; a
    # "right foot" in the history is not the side of a pedicle).
    local_side: bool = False
    # Regexes that name this bone only in an exam of these joints (laterality.json
    # `exam_joints`, read in the title block and the procedure): "the fifth proximal
    # phalanx" is a toe's in a forefoot MRI, a finger's in a hand MRI.
    exam_joints: frozenset[str] = frozenset()
    exam_patterns: tuple[re.Pattern[str], ...] = ()
    # Words for a part of this bone that name it alone when it is the bone last named
    # before them ("... across the scaphoid waist. Surrounding high STIR signal through
    # the waist and proximal pole"): regexes (lower case).
    parts: tuple[re.Pattern[str], ...] = ()


@dataclass(frozen=True)
class LateralityTerm:
    """A laterality word; attach "bone" means it counts only right before a bone term."""

    pattern: re.Pattern[str]
    laterality: str
    attach: str = "any"


@dataclass(frozen=True)
class SeverityTerm:
    pattern: re.Pattern[str]
    severity: str


@dataclass(frozen=True)
class SectionSpec:
    name: str
    titles: tuple[str, ...]


@dataclass(frozen=True)
class ClauseOwners:
    """Words that own a bare edema word in its clause (clauses.json "owners").

    `bone`: bone wording besides the vocabulary ("marrow", "tuberosity");
    `soft_tissue`: soft-tissue words ("fat pad", "tendon", "bursa");
    `soft_relations`: words right after the edema that put it outside a bone
    ("around", "along", "surrounding the"); `inside_relations`: words right
    after it that put it inside what follows ("in", "within", "of");
    `characterising` (optional): how an edema phrase that names what something
    else is opens ("consistent with edema"): its owner is the subject before it
    ("soft-tissue swelling around the PIP joint of the ring finger, consistent
    with edema": soft), not the nearest word.
    """

    bone: tuple[re.Pattern[str], ...]
    soft_tissue: tuple[re.Pattern[str], ...]
    soft_relations: tuple[re.Pattern[str], ...]
    inside_relations: tuple[re.Pattern[str], ...]
    adjacent_words: int
    characterising: tuple[re.Pattern[str], ...] = ()


@dataclass(frozen=True)
class SignalRules:
    """When a signal description is bone marrow edema (clauses.json "signal").

    `fluid`: a fluid-sensitive sequence (STIR, T2, PD fat-sat), in the phrase, its
    sentence or the `lookback_sentences` before it in the same section;
    `not_fluid`: a phrase naming only such a sequence ("high T1 signal") is not;
    `structures`: what owns a signal when named right with it (a cyst, a lesion,
    fluid, a tendon); `refer_back`: a sentence that speaks of the one before
    ("This area became bright on STIR"), whose bones it takes.
    """

    fluid: re.Pattern[str]
    not_fluid: re.Pattern[str]
    # Low-signal words: "decreased T1 signal and increased signal" names T1 for
    # the dark part, so the bright part's sequence is looked for around it.
    low: re.Pattern[str]
    structures: tuple[re.Pattern[str], ...]
    # Words between the phrase and a place that put the signal in it ("in",
    # "within", "at") or beside it ("adjacent to", "around").
    inside: re.Pattern[str]
    beside: re.Pattern[str]
    # "consistent with" and the like: a structure named after it owns the signal
    # ("abnormal signal at T4 and T7 consistent with metastases").
    identity: re.Pattern[str]
    # After the phrase in its sentence: the signal behaves like fat ("drops out on
    # STIR", "suppresses"), so it is not edema.
    fat_after: re.Pattern[str] | None
    refer_back: re.Pattern[str]
    lookback_sentences: int
    structure_window_words: int
    # A negation that says what the signal is not, matched from the negation's word
    # to the mention it negates ("nicht als KMÖ zu werten", "does not represent
    # marrow edema"): that negated mention is the signal's.
    not_identity: re.Pattern[str] | None = None
    # What a bare signal is instead of edema when a summary says so ("Diagnosis: Red
    # (hematopoietic) marrow reconversion"): red marrow, artefact (lower case).
    mimics: re.Pattern[str] | None = None
    # Words that open an alternative to what the signal is ("versus", "oder"): an
    # identity word after one speaks of the alternative ("versus partial volume
    # from the adjacent synovitis"), not of the signal.
    alternative: re.Pattern[str] | None = None
    # Matched right after a `refer_back` opener of the next sentence ("This is",
    # "These represent"): when a structure follows within a few words ("This is
    # residual red marrow"), the signal is that structure's, not edema.
    refer_back_identity: re.Pattern[str] | None = None
    # An `inside` word that only joins a part to its bone ("of" in "the base of the
    # phalanx"): after another relation it is no relation of its own, so "2 cm
    # proximal to the base of the phalanx" stays beside the bone.
    part_of: re.Pattern[str] | None = None
    # Words that call a sequence normal right after the signal (", in T1 regelrechtes
    # Fettmarksignal", "T1 normal"): the T1 named there is no "bright on T1".
    normal: re.Pattern[str] | None = None
    # Words right before a bone that say the edema has gone from it ("resolution in the
    # lateral femoral condyle and new oedema in the medial one"): no place of the mention.
    resolved_at: re.Pattern[str] | None = None


@dataclass(frozen=True)
class NormalBones:
    """clauses.json "normal_bones": a list of bones the clause says are normal."""

    says: re.Pattern[str]  # matched (lower case) at the end of the list's last bone
    joins: re.Pattern[str]  # the whole gap between two bones of the list


@dataclass(frozen=True)
class PriorExamRules:
    """clauses.json "prior_exam": where an earlier exam's findings are told in prose."""

    opener: re.Pattern[str]  # ends where the earlier exam's findings begin
    pivot: re.Pattern[str]  # back to the current exam ("now", "but", ";")
    # "Initial MRI: ..." labels an earlier exam only when the text goes on to a
    # later one ("Follow-up MRI at 4 months: ..."): `labelled` and `later`.
    labelled: re.Pattern[str] | None = None
    later: re.Pattern[str] | None = None
    # A case told as a story of exams: a sentence part where a later exam that was
    # done (`done_later`, with no `not_done` word: "recommended", "can", "will")
    # finds the edema gone (`resolved`), or tells of edema itself after an earlier
    # mention, makes every affirmed mention before it an earlier exam's ("MRI
    # demonstrated ... edema. A repeat MRI after eight weeks showed complete
    # resolution ..."). The three go together.
    done_later: re.Pattern[str] | None = None
    resolved: re.Pattern[str] | None = None
    not_done: re.Pattern[str] | None = None
    # Words before a mention in its own sentence that keep it current over a later
    # exam ("Die MRT zeigt ein neu aufgetretenes Ödem im Talus rechts. Im
    # Kontroll-MRT des linken Knies ist das frühere Ödem vollständig rückläufig").
    current: re.Pattern[str] | None = None
    # A sentence that tells an exam's result ("MRI two weeks after onset revealed
    # ..."): in a history section ("Case presentation:") of a text with no findings
    # section after its history, it tells the case's findings, not its history.
    result: re.Pattern[str] | None = None


@dataclass(frozen=True)
class RuleSet:
    """Everything one language needs, loaded once."""

    language: str
    spacy_language: str
    sections: tuple[SectionSpec, ...]
    section_output: dict[str, str | None]
    current_sections: frozenset[str | None]
    # What an "EXAM:" line holds when it names an imaging exam ("MRI LEFT KNEE W/O"),
    # matched (lower case) in its text; one of more than four words (nlp/layout.py
    # `_EXAM_TITLE_WORDS`) that does not match is a physical examination, read as
    # history (sections.json "exam_title").
    exam_title: re.Pattern[str] | None
    precedence: tuple[str, ...]
    abbreviations: frozenset[str]
    wrap_words: frozenset[str]
    list_marker: str
    targets: tuple[TargetRuleSpec, ...]
    context: tuple[ContextRuleSpec, ...]
    etiology_cues: tuple[EtiologyCueSpec, ...]
    etiology_scopes: dict[str, EtiologyScope]
    etiology_drop_statuses: frozenset[str]
    bones: tuple[BoneSpec, ...]
    laterality: tuple[LateralityTerm, ...]
    laterality_attach_max_chars: int
    severity: tuple[SeverityTerm, ...]
    severity_window_words: int
    clause_breaks: tuple[re.Pattern[str], ...]
    suggestions: dict[str, str]
    # Last word (original case) after which a line break is soft, e.g. a German
    # lower-case inflected adjective ("im medialen" / "Femurkondylus"); None: no such word.
    wrap_pattern: re.Pattern[str] | None = None
    # Words after which "<number>." is an ordinal, not a sentence end ("im 2. Mittelfußknochen").
    ordinal_after: frozenset[str] = frozenset()
    # Words that open a sentence even after an abbreviation ("Hüfte li. Keine Fraktur").
    sentence_starters: frozenset[str] = frozenset()
    # Abbreviations that never end a sentence, not even before a starter: adverbs
    # such as "evtl." or "fragl." ("dann evtl. Nachweis eines KMÖ" is one sentence).
    mid_sentence_abbreviations: frozenset[str] = frozenset()
    # A sentence that sums up the findings before it ("Findings most consistent
    # with ulnar impaction."): its cause relates to the section's earlier mentions.
    etiology_summary: re.Pattern[str] | None = None
    # etiology.json "lead_pattern": a sentence that opens a paragraph with what the
    # imaging shows ("His MRI of the sacroiliac joints shows active sacroiliitis."): its
    # cause is the mention's in the sentence right after it
    etiology_lead: re.Pattern[str] | None = None
    # etiology.json "past_summary": a summary line that tells a past illness ("Z.n.
    # Mammakarzinom 2011, tumorfrei", "History of breast cancer 2015, in remission"): its
    # cause does not relate to every site as a summary's does
    etiology_past_summary: re.Pattern[str] | None = None
    # A teaching discussion's sentence that speaks of this case ("This kissing pattern is
    # the classic footprint of a pivot-shift mechanism", "in this patient"): its causes
    # relate to the case's mentions (etiology.json "case_reference").
    case_reference: re.Pattern[str] | None = None
    # Words that put edema around something named before ("perifokales KMÖ",
    # "surrounding edema"): a mention so worded whose clause names no bone takes
    # the bones named before it in its sentence, else in the sentence before
    # (clauses.json "around").
    around: re.Pattern[str] | None = None
    # Words after such a mention that spread it from there into the bones its
    # clause names ("surrounding edema extends into the pedicle"): it keeps both
    # (clauses.json "around_spreads").
    around_spreads: re.Pattern[str] | None = None
    # Words after a mention, past a comma or ";", that go on to another place of the same
    # finding without naming it again ("... Knochenmarködem im Sinne einer Osteitis,
    # ebenso ein kleineres Areal im Os capitatum"): the bones of that part are the
    # mention's too (clauses.json "continuation").
    continuation: re.Pattern[str] | None = None
    # "the head" standing for the bone head last named before it ("... the femoral head.
    # Surrounding oedema fills the remainder of the head"): the match's end is the
    # word "head" (clauses.json "head_anaphora"; lower case).
    head_anaphora: re.Pattern[str] | None = None
    # Bones the clause says are normal ("the glenoid, acromion and clavicle have
    # normal marrow signal", "the right sacral margin being normal"): `says` is
    # matched right after the last bone of a list whose bones `joins` joins; those
    # bones are no place of a mention that has others (clauses.json "normal_bones").
    normal_bones: NormalBones | None = None
    # An earlier exam told in prose ("Eighteen months ago an MRI of the right knee
    # showed ..."): `opener` (lower case) ends where the prior exam's findings
    # begin; an affirmed mention after it in its sentence is historical unless a
    # `pivot` ("now", "but", "current") stands between (clauses.json "prior_exam").
    prior_exam: PriorExamRules | None = None
    # A side that opens a sentence for all of it ("On the right, ... and a faint
    # band of high STIR signal across the mid fibular shaft"): matched (lower
    # case) at the sentence start; the side of a mention whose clause names none
    # (laterality.json "sentence_opener").
    side_opener: re.Pattern[str] | None = None
    # Short side labels that open a line ("R: ...", "Lt wrist: ...") with their side,
    # by the label's first word (laterality.json "line_labels"): the line and those
    # after it in its section take that side, like a block title ("RIGHT KNEE:").
    side_labels: tuple[tuple[str, str], ...] = ()
    # A side named only to say it is normal ("The right knee is normal.", "normal
    # contralateral left hip"): matched (lower case) anywhere; its side words do not
    # count when the report's one side is read from its text (laterality.json
    # "normal_side").
    normal_side: re.Pattern[str] | None = None
    # A side said of a comparison ("most marked on the left", "worse on the right"):
    # matched (lower case); its side word is the side of bones named after it, not of
    # those before it (laterality.json "comparative").
    side_comparative: re.Pattern[str] | None = None
    # Words that may stand between an attach-to-bone side word and its bone ("both
    # medial clavicles"): matched (lower case) against the whole gap (laterality.json
    # "attach_between").
    side_attach_between: re.Pattern[str] | None = None
    # What may stand between a bone and a side word right after it, in a part of its own
    # after a comma ("..., sowie sakral nur links"): matched (lower case) against the
    # whole gap; that side is the bone's (laterality.json "after_bone_gap").
    side_after_bone_gap: re.Pattern[str] | None = None
    # What stands between a bone's word and a side that names the joint or bone it is
    # part of ("the sacral side of the left joint", "the iliac margin of the right SI
    # joint"): matched against the whole gap; that side is the bone's, whatever side
    # came before it (laterality.json "part_of_gap").
    side_part_of_gap: re.Pattern[str] | None = None
    # What may stand between a mention and a side word after it that is the mention's own
    # ("edematous on the right" after "bilateral osteonecrosis of the femoral heads"):
    # matched against the whole gap (laterality.json "own_gap").
    side_own_gap: re.Pattern[str] | None = None
    # What parts the other side's clause from a mention's own side ("on the right with
    # bone marrow edema, and stage 2 on the left"): the other side beyond it is no
    # comparison that makes the mention's side both (laterality.json "own_break").
    side_own_break: re.Pattern[str] | None = None
    # The exam's joint named as the other side of one named before ("Right total knee
    # replacement 2019. Now medial pain in the other knee", "fell onto the opposite
    # shoulder"): it says the side opposite that earlier side word, which is no side of
    # the exam (laterality.json "opposite").
    side_opposite: re.Pattern[str] | None = None
    # Words of a past event ("Previous ORIF of the left ankle (2017)", "Right shoulder
    # stabilisation 2019", "Z.n. VKB-Plastik links"): a side word in such a sentence is no
    # side of the report when the title block or the procedure names the other side
    # (laterality.json "past").
    side_past: re.Pattern[str] | None = None
    # Words of a present complaint that keep such a side word the report's ("left knee
    # pain seven months after meniscectomy") (laterality.json "past_unless").
    side_past_unless: re.Pattern[str] | None = None
    # A coordinator and a word after a bone ("... und sakral sowie Erosionen links"): what
    # follows is another finding, and a side word after it is that finding's, not the
    # bone's (laterality.json "other_finding").
    side_other_finding: re.Pattern[str] | None = None
    # Words for the joints an exam's title or procedure may name, by joint ("knee":
    # "knee", "Kniegelenk"): when the text names both sides, the side said with the
    # exam's joint ("bruising about the right shoulder and tenderness at the left
    # wrist" under "MRI of the wrist") is the report's (laterality.json "exam_joints").
    exam_joints: tuple[tuple[str, re.Pattern[str]], ...] = ()
    # A sentence that speaks of a disease in general, not of this patient ("In
    # spontaneous osteonecrosis of the knee, by contrast, ...", "Transient
    # osteoporosis classically affects ..."): matched (lower case) at the
    # sentence's start; its mentions and causes are hypothetical (clauses.json
    # "generic").
    generic: re.Pattern[str] | None = None
    # A teaching sentence that sets another disease against the case ("Osteonecrosis, by
    # contrast, usually shows a geographic subchondral lesion ..."): matched (lower case)
    # at the sentence's start; its mentions and causes are hypothetical (clauses.json
    # "contrasted").
    contrasted: re.Pattern[str] | None = None
    # Parts of a joint a cause may be named at instead of a bone ("patellofemoral
    # osteoarthritis"), with the bones each holds: etiology.json "compartments".
    etiology_compartments: tuple[tuple[re.Pattern[str], frozenset[str]], ...] = ()
    # etiology.json "spine_levels": a spine level ("L1", "L4-5", "T11/12"), groups
    # letter, number and an optional range's end (letter, number). A cause named at
    # other levels than every mention's ("Mild L4-L5 degenerative change." beside
    # edema at L1) is not the edema's, though both are `vertebral_body`.
    spine_levels: re.Pattern[str] | None = None
    # clauses.json "owners": words that tie a bare "edema" to bone or to soft tissue.
    owners: ClauseOwners | None = None
    # clauses.json "signal": when a signal description counts as edema.
    signal: SignalRules | None = None
    # sentences.json "figure_line": a teaching-case line ("Figure 2: ...", "Abbildung 3:");
    # consecutive such lines read as one paragraph (a cause in the next figure counts).
    figure_line: re.Pattern[str] | None = None
    # sections.json "exam_heading": a bare line that names the imaging exam ("MRI", "MRI
    # wrist and hand", "MRT nativ"), matched (lower case, whole line) after a history
    # section: the findings begin there.
    exam_heading: re.Pattern[str] | None = None
    # sections.json "findings_paragraph": the start (lower case) of a paragraph, after a
    # blank line inside a history section, that says what today's imaging shows ("Im MRT
    # des li. Fußes vom 28.03. zeigte sich ...", "His MRI shows ..."): a letter's findings,
    # which begin there.
    findings_paragraph: re.Pattern[str] | None = None
    # sections.json "summary_labels": line labels that are no section title but sum up a
    # note ("Dx: diabetic foot osteomyelitis", "Imp: active sacroiliitis"): a cause such a
    # line names without a bone relates to every site, as a summary section's does.
    summary_labels: frozenset[str] = frozenset()
    # sections.json "own_line_titles": title -> section, for titles that open their section
    # only alone on their line ("IMP:" over a numbered list), not as a line's label ("Imp:
    # ACL tear ..." in a terse note, which stays a summary label).
    own_line_titles: dict[str, str] = field(default_factory=dict)
    # sections.json "service_title": a first line that names a service, meeting or unit
    # ("Sports Injury MDT - case 4", "Klinik für Unfallchirurgie"), not a case's diagnosis.
    service_title: re.Pattern[str] | None = None
    # sections.json "answer_choice": the letter a quiz's answer picks ("Answer: B"), group 1
    # (lower case). A question's choices ("A) Ulnar impaction", "B) Kienboeck disease")
    # name no cause of the case's edema, but the one the answer picks does.
    answer_choice: re.Pattern[str] | None = None
    # sections.json "exam_sentence": a sentence that opens with the exam and its side ("The
    # MRI of his left foot, performed last week, ..."), matched at its start (lower case):
    # that side goes to the sentences after it on its line, like a caption's.
    exam_sentence: re.Pattern[str] | None = None
    # sections.json "title_qualifier": a header whose title a phrase of its own qualifies
    # ("addendum after mdt review with the reporting radiologist"), matched (lower case)
    # against the whole header; group 1 is the title.
    title_qualifier: re.Pattern[str] | None = None

    @property
    def summaries(self) -> frozenset[str]:
        """Sections that sum up the others: `precedence` but the last (impression, addendum)."""
        return frozenset(self.precedence[:-1])


# -- generic checks -------------------------------------------------------------
