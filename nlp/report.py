"""Report-level logic: status, sites, etiology and flags from the mentions.

The later word stands (spec/annotation.md): the sections in the rule set's
`precedence` are tried in order (addendum, impression, findings) and the
first one holding a mention decides the status; text without headers counts
as findings. Only mentions in current sections count; a history-section
mention is never a current finding. Sites and etiology come from every
current present or possible mention once the status is not `absent`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from nlp.anatomy import merge_sides, spine_levels
from nlp.model import ETIOLOGIES, Annotation, Flag, Mention, Site
from nlp.ruleset import RuleSet

AFFIRMED = ("present", "possible")
# The category for edema called reactive without a named cause.
UNNAMED_CAUSE = "reactive"
# The contract's flag table: code, when (status or etiology), priority.
ETIOLOGY_FLAGS: tuple[tuple[str, frozenset[str], str], ...] = (
    ("OSTEONECROSIS_CONCERN", frozenset({"osteonecrosis"}), "high"),
    ("INFECTION_CONCERN", frozenset({"infection"}), "urgent"),
    ("TUMOR_CONCERN", frozenset({"tumor"}), "high"),
    (
        "REACTIVE",
        frozenset({"degenerative", "inflammatory", "infection", "tumor", "reactive"}),
        "routine",
    ),
    ("TRAUMA_OVERLOAD", frozenset({"trauma", "overload"}), "routine"),
    ("TRANSIENT_BME", frozenset({"transient"}), "routine"),
)


@dataclass(frozen=True)
class MentionRecord:
    """A mention with what the report-level logic needs beyond the contract's fields."""

    mention: Mention
    section: str | None  # internal section name
    current: bool
    bone_sides: tuple[tuple[str, str | None], ...]
    sentence: str  # the sentence the mention stands in (flag evidence)
    elsewhere: bool = False  # "no other / no new / no edema elsewhere": denies only the rest
    etiology_evidence: dict[str, tuple[str, ...]] = field(default_factory=dict)
    weak_etiology: bool = False  # the evidence is only weak cues ("fracture", "chondral defect")


def status_of(records: list[MentionRecord]) -> str | None:
    """present / possible / absent for a group of mentions; None when there are none."""
    if not records:
        return None
    statuses = {r.mention.status for r in records}
    if "present" in statuses:
        return "present"
    if "possible" in statuses:
        return "possible"
    return "absent"


def report_status(records: list[MentionRecord], rules: RuleSet) -> tuple[str, list[MentionRecord]]:
    """The report's status and the records of the section that decided it."""
    # "No bone marrow edema elsewhere" in the impression does not take back the
    # edema the findings describe: such mentions do not decide a section. Nor does a
    # hypothetical one ("should pain recur, an MRI to detect new bone marrow edema"):
    # it says nothing of this exam's marrow.
    current = [
        r
        for r in records
        if r.current
        and not (r.elsewhere and r.mention.status == "negated")
        and r.mention.status != "hypothetical"
    ]
    groups: dict[str | None, list[MentionRecord]] = {}
    for r in current:
        # A differential diagnosis groups with the impression it is reported as.
        section = rules.section_output.get(r.section) if r.section else None
        key = section if section in rules.precedence else rules.precedence[-1]
        groups.setdefault(key, []).append(r)
    for i, section in enumerate(rules.precedence):
        status = status_of(groups.get(section, []))
        if status is None:
            continue
        if status == "absent" and _speaks_of_other_bones(
            groups[section], rules.precedence[i + 1 :], groups, rules
        ):
            continue
        return status, groups[section]
    return "absent", []


def _speaks_of_other_bones(
    denying: list[MentionRecord],
    outranked: Sequence[str],
    groups: dict[str | None, list[MentionRecord]],
    rules: RuleSet,
) -> bool:
    """True when a section denies edema only at bones other than those it outranks affirm.

    "Resolution of the previous sacral edema" in the impression does not take
    back the new iliac edema the findings describe; "No bone marrow edema." or
    "the edema in the iliac bone has resolved" would. Vertebrae are told apart by
    their levels: "Modic type 2 change at L2-L3, without edema" does not take back
    edema of the L4 and L5 bodies.
    """
    denied = {bone for r in denying for bone, _ in r.bone_sides}
    if not denied or any(not r.bone_sides for r in denying):
        return False
    affirming = [
        r for section in outranked for r in groups.get(section, []) if r.mention.status in AFFIRMED
    ]
    # a bone whose last word in those sections is not affirmed ("the contusion edema of the
    # distal radius has resolved completely" after the first exam's) is no longer affirmed;
    # vertebrae are told apart by their levels, below, not by this
    last: dict[str, str] = {}
    for r in sorted(
        (r for section in outranked for r in groups.get(section, [])),
        key=lambda r: r.mention.start,
    ):
        for bone, _ in r.bone_sides:
            if bone not in _LEVELLED:
                last[bone] = r.mention.status
    affirmed = {
        bone
        for r in affirming
        for bone, _ in r.bone_sides
        if bone not in last or last[bone] in AFFIRMED
    }
    affirming = [r for r in affirming if {b for b, _ in r.bone_sides} & affirmed]
    if not affirmed:
        return False
    shared = affirmed & denied
    if not shared:
        return True
    # "R 3rd MT healed, no residual edema." beside the left 2nd metatarsal's edema: a
    # bone denied on one side only is another bone than the same term on the other side
    if all(
        _other_side_only(
            {side for r in denying for b, side in r.bone_sides if b == bone},
            {side for r in affirming for b, side in r.bone_sides if b == bone},
        )
        for bone in shared
    ):
        return True
    if not shared <= _LEVELLED:
        return False
    denied_levels = _levels(denying, rules)
    affirmed_levels = _levels(
        [r for r in affirming if {b for b, _ in r.bone_sides} & shared], rules
    )
    return bool(denied_levels and affirmed_levels) and not denied_levels & affirmed_levels


def _other_side_only(denied: set[str | None], affirmed: set[str | None]) -> bool:
    """True when a bone is denied on one side and affirmed only on the other."""
    one_side = {"left", "right"}
    return denied <= one_side and affirmed <= one_side and not denied & affirmed


# Contract bones whose mentions are told apart by the spine levels their sentences name.
_LEVELLED = frozenset({"vertebral_body", "posterior_elements"})


def _levels(records: list[MentionRecord], rules: RuleSet) -> set[str]:
    """The spine levels the records' sentences name; none when one of them names none."""
    out: set[str] = set()
    for r in records:
        levels = spine_levels(r.sentence, rules.spine_levels)
        if not levels:
            return set()
        out |= levels
    return out


# Contract bones for "femur/tibia, unspecified part" and the named parts that
# specify them: "marrow lesion of the tibial plateau" in the impression is the
# medial tibial plateau the findings named, not a second site.
UNSPECIFIED_PARTS: dict[str, frozenset[str]] = {
    "distal_femur": frozenset(
        {"medial_femoral_condyle", "lateral_femoral_condyle", "femoral_trochlea"}
    ),
    "proximal_tibia": frozenset({"medial_tibial_plateau", "lateral_tibial_plateau"}),
}


def sites_of(records: list[MentionRecord]) -> tuple[Site, ...]:
    """One site per bone over the affirmed mentions; both sides make it bilateral.

    An unspecified part (distal_femur) gives way when a named part of that
    bone is a site too.
    """
    sides: dict[str, str | None] = {}
    for r in records:
        for bone, side in r.bone_sides:
            sides[bone] = merge_sides(sides[bone], side) if bone in sides else side
    for bone, parts in UNSPECIFIED_PARTS.items():
        if bone in sides and parts & sides.keys():
            del sides[bone]
    return tuple(Site(bone, side) for bone, side in sides.items())  # type: ignore[arg-type]


@dataclass(frozen=True)
class SiteCue:
    """A cause named in a current sentence without a mention, and the bones it names.

    "Subchondral insufficiency fracture of the medial tibial plateau." in the
    impression relates to edema described at that bone in the findings.
    """

    etiology: str
    bones: frozenset[str]
    sentence: str
    anywhere: bool = False  # named in a summary without a bone: relates to every site
    weak: bool = False  # a weak cue ("Nondisplaced femoral neck fracture."): only if nothing else
    # the one side the sentence names ("Mild left hip osteoarthritis."), if any: it relates
    # only to sites of that side (or of none, or both)
    side: str | None = None


def build_annotation(
    records: list[MentionRecord],
    rules: RuleSet,
    site_cues: Iterable[SiteCue] = (),
    denied: frozenset[str] = frozenset(),
) -> Annotation:
    """The Annotation for a report from its mention records (and causes named at its sites).

    `denied`: causes the summary names only as negated; they are left out.
    """
    mentions = tuple(r.mention for r in records)
    status, deciding = report_status(records, rules)
    if status == "absent":
        return Annotation(bme="absent", mentions=mentions, language=rules.language)
    affirmed = [r for r in records if r.current and r.mention.status in AFFIRMED]
    sites = sites_of(affirmed)
    site_bones = {site.bone for site in sites}
    related = [
        c
        for c in site_cues
        if c.anywhere
        or c.bones
        & (
            site_bones
            if c.side is None
            else {s.bone for s in sites if s.laterality in (None, "bilateral", c.side)}
        )
    ]
    cues = [c for c in related if not c.weak]
    evidence: dict[str, list[str]] = {}
    for r in _without_outweighed(affirmed, cues):
        for category, sentences in r.etiology_evidence.items():
            bucket = evidence.setdefault(category, [])
            bucket.extend(s for s in sentences if s not in bucket)
    if not evidence and not cues:
        cues = related  # weak causes named at the sites, when nothing else is named
    for cue in cues:
        bucket = evidence.setdefault(cue.etiology, [])
        if cue.sentence not in bucket:
            bucket.append(cue.sentence)
    for category in denied:
        evidence.pop(category, None)
    if len(evidence) > 1:
        # "reactive" is edema called reactive with no named cause (the contract).
        evidence.pop(UNNAMED_CAUSE, None)
    etiology = tuple(c for c in ETIOLOGIES if c in evidence)
    code = "BME" if status == "present" else "BME_POSSIBLE"
    bme_evidence = _sentences(r for r in deciding if r.mention.status == status)
    flags = [Flag(code, "routine", rules.suggestions[code], bme_evidence)]
    for flag_code, categories, priority in ETIOLOGY_FLAGS:
        hit = [c for c in etiology if c in categories]
        if hit:
            sentences = tuple(dict.fromkeys(s for c in hit for s in evidence[c]))
            flags.append(Flag(flag_code, priority, rules.suggestions[flag_code], sentences))  # type: ignore[arg-type]
    return Annotation(
        bme=status,  # type: ignore[arg-type]
        sites=sites,
        etiology=etiology,
        flags=tuple(flags),
        mentions=mentions,
        language=rules.language,
    )


def _without_outweighed(records: list[MentionRecord], cues: list[SiteCue]) -> list[MentionRecord]:
    """Records whose weak-only causes no named cause at the same bone outweighs.

    A bare "compression fracture" (weak: trauma) next to an impression that
    calls the same vertebra an insufficiency fracture, or a "chondral defect"
    next to an addendum's "contusion" at the same plateau, gives way. So does the
    weak cause of a mention that names no bone ("residual signal centred on the old
    fracture") before any named cause: it is told of a site placed elsewhere
    ("Healing tibial shaft fatigue fracture with residual marrow edema").
    """
    strong: set[str] = set()
    named = bool(cues)
    for r in records:
        if r.etiology_evidence and not r.weak_etiology:
            strong.update(b for b, _ in r.bone_sides)
            named = True
    for cue in cues:
        strong.update(cue.bones)
    # "the tibial plateau" is the medial plateau a named cause is given at
    strong.update(bone for bone, parts in UNSPECIFIED_PARTS.items() if parts & strong)
    everywhere = any(cue.anywhere for cue in cues)  # named in a summary without a bone
    return [
        r
        for r in records
        if not (
            r.weak_etiology
            and (
                everywhere or strong & {b for b, _ in r.bone_sides} or (named and not r.bone_sides)
            )
        )
    ]


def _sentences(records: Iterable[MentionRecord]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(r.sentence for r in records))


__all__ = ["MentionRecord", "SiteCue", "build_annotation", "report_status", "sites_of", "status_of"]
