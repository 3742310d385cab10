"""Typed loaders for the per-language rule files in `nlp/rules/<lang>/`.

Strategy: every file is read with importlib.resources (no paths relative to
`__file__`), every object is checked against the keys its dataclass allows,
and any unknown or missing key, bad value or bad regex raises `RuleFileError`
naming the file and line. `load_ruleset(lang)` returns one frozen `RuleSet`
(the specs are in `nlp.rule_specs`, re-exported here); nothing here knows any
English word. The schema is described in
`nlp/rules/README.md`.
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, TypedDict

from nlp.model import BONES, ETIOLOGIES, SECTIONS
from nlp.rule_specs import (
    CONTEXT_CATEGORIES,
    DIFFERENTIAL_SECTION,
    DIRECTIONS,
    DISCUSSION_SECTION,
    EXAM_SECTION,
    FLAG_CODES,
    LATERALITIES,
    MENTION_STATUSES_DROPPABLE,
    OPERATIVE_SECTION,
    SEVERITIES,
    TARGET_CATEGORIES,
    BoneSpec,
    ClauseOwners,
    ContextRuleSpec,
    EtiologyCueSpec,
    EtiologyScope,
    LateralityTerm,
    NormalBones,
    PriorExamRules,
    RuleFileError,
    RuleSet,
    SectionSpec,
    SeverityTerm,
    SignalRules,
    TargetRuleSpec,
    TokenPattern,
)


def _check_keys(obj: Any, where: str, required: set[str], optional: set[str]) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise RuleFileError(f"{where}: expected an object, got {type(obj).__name__}")
    unknown = set(obj) - required - optional
    if unknown:
        raise RuleFileError(f"{where}: unknown key(s) {sorted(unknown)}")
    missing = required - set(obj)
    if missing:
        raise RuleFileError(f"{where}: missing key(s) {sorted(missing)}")
    return obj


def _choice(value: Any, allowed: tuple[Any, ...], where: str, key: str) -> Any:
    if value not in allowed:
        raise RuleFileError(f"{where}: {key} {value!r} is not one of {list(allowed)}")
    return value


def _str(value: Any, where: str, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise RuleFileError(f"{where}: {key} must be a non-empty string")
    return value


def _regex(value: Any, where: str, key: str) -> re.Pattern[str]:
    try:
        return re.compile(_str(value, where, key))
    except re.error as e:
        raise RuleFileError(f"{where}: {key} is not a valid regex ({e})") from e


def _optional_regex(obj: dict[str, Any], key: str, where: str) -> re.Pattern[str] | None:
    """The regex under `key`, or None when the file leaves the key out."""
    return _regex(obj[key], where, key) if key in obj else None


def _pattern(value: Any, where: str) -> TokenPattern | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(t, dict) for t in value):
        raise RuleFileError(f"{where}: pattern must be a non-empty list of spaCy token objects")
    return tuple(value)


def rules_root() -> Traversable:
    """The package's rule folder (one sub-folder per language)."""
    return resources.files("nlp") / "rules"


def _read_text(root: Traversable, language: str, name: str) -> str:
    try:
        return (root / language / name).read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError) as e:
        raise RuleFileError(f"rules/{language}/{name}: missing") from e


def read_json(root: Traversable, language: str, name: str) -> tuple[str, Any]:
    """One JSON rule file: (its name for messages, its value)."""
    where = f"rules/{language}/{name}"
    try:
        return where, json.loads(_read_text(root, language, name))
    except json.JSONDecodeError as e:
        raise RuleFileError(f"{where}: not JSON ({e})") from e


def read_jsonl(root: Traversable, language: str, name: str) -> list[tuple[str, Any]]:
    """One JSON Lines rule file: (file:line, value) for each non-blank line."""
    out = []
    for n, line in enumerate(_read_text(root, language, name).splitlines(), 1):
        if not line.strip():
            continue
        where = f"rules/{language}/{name}:{n}"
        try:
            out.append((where, json.loads(line)))
        except json.JSONDecodeError as e:
            raise RuleFileError(f"{where}: not JSON ({e})") from e
    return out


# -- one parser per file ----------------------------------------------------------


def _requires(obj: dict[str, Any], where: str) -> tuple[str, ...]:
    value = obj.get("requires", [])
    if "requires" in obj and "regex" not in obj:
        raise RuleFileError(f"{where}: requires goes with a regex")
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise RuleFileError(f"{where}: requires must be a list of non-empty strings")
    return tuple(v.lower() for v in value)


def parse_target(obj: Any, where: str) -> TargetRuleSpec:
    """One line of targets.jsonl."""
    obj = _check_keys(
        obj,
        where,
        {"literal", "category"},
        {
            "pattern",
            "regex",
            "requires",
            "etiology",
            "fallback",
            "requires_bone",
            "bone_owned",
            "signal",
        },
    )
    if "pattern" in obj and "regex" in obj:
        raise RuleFileError(f"{where}: give a pattern or a regex, not both")
    etiology = obj.get("etiology")
    if etiology is not None:
        _choice(etiology, ETIOLOGIES, where, "etiology")
    fallback = obj.get("fallback", False)
    requires_bone = obj.get("requires_bone", False)
    bone_owned = obj.get("bone_owned", False)
    signal = obj.get("signal", False)
    if not all(isinstance(v, bool) for v in (fallback, requires_bone, bone_owned, signal)):
        raise RuleFileError(
            f"{where}: fallback, requires_bone, bone_owned and signal must be true or false"
        )
    return TargetRuleSpec(
        fallback=fallback,
        requires_bone=requires_bone,
        bone_owned=bone_owned,
        signal=signal,
        regex=_optional_regex(obj, "regex", where),
        requires=_requires(obj, where),
        literal=_str(obj["literal"], where, "literal"),
        category=_choice(obj["category"], TARGET_CATEGORIES, where, "category"),
        pattern=_pattern(obj.get("pattern"), where),
        etiology=etiology,
    )


def parse_context(obj: Any, where: str) -> ContextRuleSpec:
    """One line of context.jsonl."""
    obj = _check_keys(
        obj,
        where,
        {"literal", "category", "direction"},
        {"pattern", "max_scope", "allowed_types", "terminated_by"},
    )
    terminated_by = obj.get("terminated_by", [])
    if not isinstance(terminated_by, list):
        raise RuleFileError(f"{where}: terminated_by must be a list of categories")
    for category in terminated_by:
        _choice(category, CONTEXT_CATEGORIES, where, "terminated_by[]")
    max_scope = obj.get("max_scope")
    if max_scope is not None and (not isinstance(max_scope, int) or max_scope < 1):
        raise RuleFileError(f"{where}: max_scope must be a positive integer")
    allowed = obj.get("allowed_types")
    if allowed is not None and not (
        isinstance(allowed, list) and all(isinstance(a, str) for a in allowed)
    ):
        raise RuleFileError(f"{where}: allowed_types must be a list of labels")
    return ContextRuleSpec(
        literal=_str(obj["literal"], where, "literal"),
        category=_choice(obj["category"], CONTEXT_CATEGORIES, where, "category"),
        direction=_choice(obj["direction"], DIRECTIONS, where, "direction"),
        pattern=_pattern(obj.get("pattern"), where),
        max_scope=max_scope,
        allowed_types=tuple(allowed) if allowed is not None else None,
        terminated_by=tuple(terminated_by),
    )


def parse_etiology_cue(obj: Any, where: str) -> EtiologyCueSpec:
    """One line of etiology_cues.jsonl."""
    obj = _check_keys(obj, where, {"literal", "etiology"}, {"pattern", "weak", "explains"})
    etiology = obj["etiology"]
    if etiology is not None:
        _choice(etiology, ETIOLOGIES, where, "etiology")
    weak = obj.get("weak", False)
    if not isinstance(weak, bool):
        raise RuleFileError(f"{where}: weak must be true or false")
    explains = obj.get("explains", False)
    if not isinstance(explains, bool) or (explains and etiology is not None):
        raise RuleFileError(f"{where}: explains must be true or false, and only with etiology null")
    return EtiologyCueSpec(
        literal=_str(obj["literal"], where, "literal"),
        etiology=etiology,
        pattern=_pattern(obj.get("pattern"), where),
        weak=weak,
        explains=explains,
    )


def parse_bone(obj: Any, where: str) -> BoneSpec:
    """One line of bones.jsonl."""
    obj = _check_keys(
        obj,
        where,
        {"bone", "joint", "patterns"},
        {"midline", "joint_sides", "local_side", "parts", "in_exams"},
    )
    patterns = obj["patterns"]
    if not isinstance(patterns, list) or not patterns:
        raise RuleFileError(f"{where}: patterns must be a non-empty list of regexes")
    midline = obj.get("midline", False)
    if not isinstance(midline, bool):
        raise RuleFileError(f"{where}: midline must be true or false")
    local_side = obj.get("local_side", False)
    if not isinstance(local_side, bool):
        raise RuleFileError(f"{where}: local_side must be true or false")
    sides = obj.get("joint_sides", [])
    if not isinstance(sides, list):
        raise RuleFileError(f"{where}: joint_sides must be a list of {{pattern, with}}")
    joint_sides = []
    for i, side in enumerate(sides):
        side = _check_keys(side, f"{where}: joint_sides[{i}]", {"pattern", "with"}, set())
        joint_sides.append(
            (
                _regex(side["pattern"], where, "joint_sides[].pattern"),
                _choice(side["with"], BONES, where, "joint_sides[].with"),
            )
        )
    parts = obj.get("parts", [])
    if not isinstance(parts, list):
        raise RuleFileError(f"{where}: parts must be a list of regexes")
    in_exams = _check_keys(obj.get("in_exams", {"joints": [], "patterns": []}), where,
                           {"joints", "patterns"}, set())  # fmt: skip
    joints, exam_patterns = in_exams["joints"], in_exams["patterns"]
    if not isinstance(joints, list) or not all(isinstance(j, str) and j for j in joints):
        raise RuleFileError(f"{where}: in_exams.joints must be a list of exam_joints names")
    if not isinstance(exam_patterns, list) or bool(joints) != bool(exam_patterns):
        raise RuleFileError(f"{where}: in_exams needs joints and patterns together")
    return BoneSpec(
        bone=_choice(obj["bone"], BONES, where, "bone"),
        joint=_str(obj["joint"], where, "joint"),
        patterns=tuple(_regex(p, where, "patterns[]") for p in patterns),
        midline=midline,
        joint_sides=tuple(joint_sides),
        local_side=local_side,
        parts=tuple(_regex(p, where, "parts[]") for p in parts),
        exam_joints=frozenset(joints),
        exam_patterns=tuple(_regex(p, where, "in_exams.patterns[]") for p in exam_patterns),
    )


class _SectionFields(TypedDict):
    """The RuleSet fields sections.json gives."""

    sections: tuple[SectionSpec, ...]
    section_output: dict[str, str | None]
    current_sections: frozenset[str | None]
    precedence: tuple[str, ...]
    exam_title: re.Pattern[str] | None
    exam_heading: re.Pattern[str] | None
    findings_paragraph: re.Pattern[str] | None
    summary_labels: frozenset[str]
    own_line_titles: dict[str, str]
    service_title: re.Pattern[str] | None
    exam_sentence: re.Pattern[str] | None
    title_qualifier: re.Pattern[str] | None
    answer_choice: re.Pattern[str] | None


def _parse_sections(where: str, obj: Any) -> _SectionFields:
    """sections.json: the RuleSet fields it gives, by name."""
    obj = _check_keys(
        obj,
        where,
        {"sections", "contract_names", "current_sections", "precedence"},
        {
            "exam_title",
            "exam_heading",
            "findings_paragraph",
            "summary_labels",
            "own_line_titles",
            "service_title",
            "exam_sentence",
            "title_qualifier",
            "answer_choice",
        },
    )
    names = (*SECTIONS, EXAM_SECTION, DISCUSSION_SECTION, OPERATIVE_SECTION, DIFFERENTIAL_SECTION)
    specs = []
    for i, s in enumerate(obj["sections"]):
        w = f"{where}: sections[{i}]"
        s = _check_keys(s, w, {"name", "titles"}, set())
        titles = s["titles"]
        if not isinstance(titles, list) or not all(isinstance(t, str) and t for t in titles):
            raise RuleFileError(f"{w}: titles must be a list of strings")
        specs.append(
            SectionSpec(_choice(s["name"], names, w, "name"), tuple(t.lower() for t in titles))
        )
    output = obj["contract_names"]
    if not isinstance(output, dict):
        raise RuleFileError(f"{where}: contract_names must be an object")
    for key, value in output.items():
        _choice(key, names, where, "contract_names key")
        if value is not None:
            _choice(value, SECTIONS, where, "contract_names value")
    current = frozenset(
        _choice(c, (*SECTIONS, None), where, "current_sections[]") for c in obj["current_sections"]
    )
    precedence = tuple(_choice(p, SECTIONS, where, "precedence[]") for p in obj["precedence"])
    exam_title = _optional_regex(obj, "exam_title", where)
    heading = obj.get("exam_heading")
    exam_heading = None if heading is None else _regex(heading, where, "exam_heading")
    labels = obj.get("summary_labels", [])
    if not isinstance(labels, list) or not all(isinstance(x, str) and x for x in labels):
        raise RuleFileError(f"{where}: summary_labels must be a list of strings")
    summary_labels = frozenset(x.lower() for x in labels)
    own_line = obj.get("own_line_titles", {})
    if not isinstance(own_line, dict) or not all(isinstance(t, str) and t for t in own_line):
        raise RuleFileError(f"{where}: own_line_titles must be an object of title -> section")
    own_line_titles = {
        title.lower(): _choice(name, names, where, "own_line_titles value")
        for title, name in own_line.items()
    }
    return {
        "sections": tuple(specs),
        "section_output": dict(output),
        "current_sections": current,
        "precedence": precedence,
        "exam_title": exam_title,
        "exam_heading": exam_heading,
        "findings_paragraph": _optional_regex(obj, "findings_paragraph", where),
        "summary_labels": summary_labels,
        "own_line_titles": own_line_titles,
        "service_title": _optional_regex(obj, "service_title", where),
        "exam_sentence": _optional_regex(obj, "exam_sentence", where),
        "title_qualifier": _optional_regex(obj, "title_qualifier", where),
        "answer_choice": _optional_regex(obj, "answer_choice", where),
    }


def _parse_terms(
    where: str, items: Any, value_key: str, allowed: tuple[str, ...], optional: set[str]
) -> list[tuple[re.Pattern[str], str, dict[str, Any]]]:
    if not isinstance(items, list):
        raise RuleFileError(f"{where}: terms must be a list")
    out = []
    for i, t in enumerate(items):
        w = f"{where}: terms[{i}]"
        t = _check_keys(t, w, {"pattern", value_key}, optional)
        out.append(
            (_regex(t["pattern"], w, "pattern"), _choice(t[value_key], allowed, w, value_key), t)
        )
    return out


def _int(obj: dict[str, Any], key: str, where: str) -> int:
    value = obj[key]
    if not isinstance(value, int) or value < 0:
        raise RuleFileError(f"{where}: {key} must be a non-negative integer")
    return value


def _parse_owners(where: str, obj: Any) -> ClauseOwners | None:
    """clauses.json "owners" (optional): word lists and adjacent_words."""
    if obj is None:
        return None
    w = f"{where}: owners"
    names = ("bone", "soft_tissue", "soft_relations", "inside_relations")
    obj = _check_keys(obj, w, {*names, "adjacent_words"}, {"characterising"})
    lists = {}
    for key in (*names, "characterising"):
        if key not in obj:
            continue
        if not isinstance(obj[key], list) or not obj[key]:
            raise RuleFileError(f"{w}: {key} must be a non-empty list of regexes")
        lists[key] = tuple(_regex(p, w, f"{key}[]") for p in obj[key])
    return ClauseOwners(**lists, adjacent_words=_int(obj, "adjacent_words", w))


def _parse_signal(where: str, obj: Any) -> SignalRules | None:
    """clauses.json "signal" (optional): when a signal description is edema."""
    if obj is None:
        return None
    w = f"{where}: signal"
    obj = _check_keys(
        obj,
        w,
        {"fluid", "not_fluid", "low", "structures", "refer_back", "inside", "beside", "identity"},
        {
            "lookback_sentences",
            "structure_window_words",
            "fat_after",
            "not_identity",
            "alternative",
            "part_of",
            "refer_back_identity",
            "normal",
            "resolved_at",
            "mimics",
        },
    )
    if not isinstance(obj["structures"], list) or not obj["structures"]:
        raise RuleFileError(f"{w}: structures must be a non-empty list of regexes")
    return SignalRules(
        fluid=_regex(obj["fluid"], w, "fluid"),
        not_fluid=_regex(obj["not_fluid"], w, "not_fluid"),
        low=_regex(obj["low"], w, "low"),
        structures=tuple(_regex(p, w, "structures[]") for p in obj["structures"]),
        refer_back=_regex(obj["refer_back"], w, "refer_back"),
        inside=_regex(obj["inside"], w, "inside"),
        beside=_regex(obj["beside"], w, "beside"),
        identity=_regex(obj["identity"], w, "identity"),
        fat_after=_optional_regex(obj, "fat_after", w),
        not_identity=_optional_regex(obj, "not_identity", w),
        alternative=_optional_regex(obj, "alternative", w),
        part_of=_optional_regex(obj, "part_of", w),
        refer_back_identity=_optional_regex(obj, "refer_back_identity", w),
        normal=_optional_regex(obj, "normal", w),
        resolved_at=_optional_regex(obj, "resolved_at", w),
        mimics=_optional_regex(obj, "mimics", w),
        lookback_sentences=_int({"n": obj.get("lookback_sentences", 2)}, "n", w),
        structure_window_words=_int({"n": obj.get("structure_window_words", 2)}, "n", w),
    )


# -- the whole rule set -------------------------------------------------------------


@functools.cache
def load_ruleset(language: str = "en") -> RuleSet:
    """The package's rules for one language, loaded once per process."""
    return read_ruleset(language)


def read_ruleset(language: str, root: Traversable | None = None) -> RuleSet:
    """All rule files of one language under `root`, checked; raises RuleFileError."""
    root = rules_root() if root is None else root
    where, meta = read_json(root, language, "meta.json")
    meta = _check_keys(meta, where, {"language", "spacy_language"}, {"description"})
    if meta["language"] != language:
        raise RuleFileError(
            f"{where}: language {meta['language']!r} does not match folder {language!r}"
        )

    sections = _parse_sections(*read_json(root, language, "sections.json"))

    where, sent = read_json(root, language, "sentences.json")
    sent = _check_keys(
        sent,
        where,
        {"abbreviations", "list_marker"},
        {
            "wrap_continuation_words",
            "wrap_continuation_pattern",
            "ordinal_after",
            "sentence_starters",
            "mid_sentence_abbreviations",
            "figure_line",
        },
    )
    _regex(sent["list_marker"], where, "list_marker")
    figure_line = sent.get("figure_line")
    wrap_pattern = sent.get("wrap_continuation_pattern")

    where, etio = read_json(root, language, "etiology.json")
    etio = _check_keys(
        etio,
        where,
        {"categories", "drop_statuses"},
        {
            "summary_pattern",
            "lead_pattern",
            "compartments",
            "spine_levels",
            "case_reference",
            "past_summary",
        },
    )
    levels = etio.get("spine_levels")
    levels_rx = None if levels is None else _regex(levels, where, "spine_levels")
    if levels_rx is not None and levels_rx.groups != 4:
        raise RuleFileError(
            f"{where}: spine_levels needs 4 groups (letter, number, letter, number)"
        )
    summary = etio.get("summary_pattern")
    summary_rx = None if summary is None else _regex(summary, where, "summary_pattern")
    lead_rx = _optional_regex(etio, "lead_pattern", where)
    case = etio.get("case_reference")
    case_rx = None if case is None else _regex(case, where, "case_reference")
    compartments = []
    for i, part in enumerate(etio.get("compartments", [])):
        w = f"{where}: compartments[{i}]"
        part = _check_keys(part, w, {"pattern", "bones"}, set())
        if not isinstance(part["bones"], list) or not part["bones"]:
            raise RuleFileError(f"{w}: bones must be a non-empty list")
        bones = frozenset(_choice(b, BONES, w, "bones[]") for b in part["bones"])
        compartments.append((_regex(part["pattern"], w, "pattern"), bones))
    scopes = {}
    for cat, scope in etio["categories"].items():
        w = f"{where}: categories.{cat}"
        _choice(cat, ETIOLOGIES, w, "category")
        scope = _check_keys(scope, w, set(), {"sentences_before", "sentences_after"})
        scopes[cat] = EtiologyScope(**{k: _int(scope, k, w) for k in scope})
    drop = frozenset(
        _choice(s, MENTION_STATUSES_DROPPABLE, where, "drop_statuses[]")
        for s in etio["drop_statuses"]
    )

    where, lat = read_json(root, language, "laterality.json")
    lat = _check_keys(
        lat,
        where,
        {"terms", "attach_max_chars"},
        {
            "sentence_opener",
            "line_labels",
            "normal_side",
            "comparative",
            "attach_between",
            "after_bone_gap",
            "part_of_gap",
            "own_gap",
            "own_break",
            "opposite",
            "exam_joints",
            "past",
            "past_unless",
            "other_finding",
        },
    )
    labels = lat.get("line_labels", {})
    if not isinstance(labels, dict):
        raise RuleFileError(f"{where}: line_labels must be an object")
    side_labels = tuple(
        (
            _str(word, where, "line_labels key").lower(),
            _choice(side, LATERALITIES, where, "line_labels"),
        )
        for word, side in labels.items()
    )
    joints = lat.get("exam_joints", {})
    if not isinstance(joints, dict):
        raise RuleFileError(f"{where}: exam_joints must be an object")
    exam_joints = tuple(
        (_str(joint, where, "exam_joints key"), _regex(rx, where, f"exam_joints.{joint}"))
        for joint, rx in joints.items()
    )
    laterality = []
    for rx, value, t in _parse_terms(where, lat["terms"], "laterality", LATERALITIES, {"attach"}):
        attach = _choice(t.get("attach", "any"), ("any", "bone"), where, "attach")
        laterality.append(LateralityTerm(rx, value, attach))

    where, sev = read_json(root, language, "severity.json")
    sev = _check_keys(sev, where, {"terms", "window_words"}, set())
    severity = [
        SeverityTerm(rx, v)
        for rx, v, _ in _parse_terms(where, sev["terms"], "severity", SEVERITIES, set())
    ]

    where, clauses = read_json(root, language, "clauses.json")
    clauses = _check_keys(
        clauses,
        where,
        {"breaks"},
        {
            "owners",
            "signal",
            "around",
            "around_spreads",
            "continuation",
            "prior_exam",
            "generic",
            "contrasted",
            "head_anaphora",
            "normal_bones",
        },
    )
    owners = _parse_owners(where, clauses.get("owners"))
    signal = _parse_signal(where, clauses.get("signal"))
    if signal is not None and owners is None:
        raise RuleFileError(f"{where}: signal needs owners")

    where, sugg = read_json(root, language, "suggestions.json")
    sugg = _check_keys(sugg, where, {"flags"}, set())
    suggestions = {}
    for code, entry in sugg["flags"].items():
        w = f"{where}: flags.{code}"
        _choice(code, FLAG_CODES, w, "flag code")
        entry = _check_keys(entry, w, {"suggestion"}, set())
        suggestions[code] = _str(entry["suggestion"], w, "suggestion")
    missing = set(FLAG_CODES) - set(suggestions)
    if missing:
        raise RuleFileError(f"{where}: no suggestion for {sorted(missing)}")

    return RuleSet(
        **sections,
        language=language,
        spacy_language=_str(meta["spacy_language"], "meta.json", "spacy_language"),
        abbreviations=frozenset(a.lower() for a in sent["abbreviations"]),
        wrap_words=frozenset(w.lower() for w in sent.get("wrap_continuation_words", [])),
        list_marker=sent["list_marker"],
        targets=tuple(parse_target(o, w) for w, o in read_jsonl(root, language, "targets.jsonl")),
        context=tuple(parse_context(o, w) for w, o in read_jsonl(root, language, "context.jsonl")),
        etiology_cues=tuple(
            parse_etiology_cue(o, w) for w, o in read_jsonl(root, language, "etiology_cues.jsonl")
        ),
        etiology_scopes=scopes,
        etiology_drop_statuses=drop,
        bones=_bones_in_exams(
            tuple(parse_bone(o, w) for w, o in read_jsonl(root, language, "bones.jsonl")),
            frozenset(joint for joint, _ in exam_joints),
        ),
        laterality=tuple(laterality),
        laterality_attach_max_chars=_int(lat, "attach_max_chars", "laterality.json"),
        severity=tuple(severity),
        severity_window_words=_int(sev, "window_words", "severity.json"),
        clause_breaks=tuple(_regex(b, where, "breaks[]") for b in clauses["breaks"]),
        suggestions=suggestions,
        wrap_pattern=None
        if wrap_pattern is None
        else _regex(wrap_pattern, "sentences.json", "wrap_continuation_pattern"),
        ordinal_after=frozenset(w.lower() for w in sent.get("ordinal_after", [])),
        sentence_starters=frozenset(w.lower() for w in sent.get("sentence_starters", [])),
        mid_sentence_abbreviations=frozenset(
            w.lower() for w in sent.get("mid_sentence_abbreviations", [])
        ),
        etiology_summary=summary_rx,
        etiology_lead=lead_rx,
        etiology_past_summary=_optional_regex(etio, "past_summary", where),
        case_reference=case_rx,
        etiology_compartments=tuple(compartments),
        spine_levels=levels_rx,
        figure_line=None if figure_line is None else _regex(figure_line, where, "figure_line"),
        owners=owners,
        around=_optional_regex(clauses, "around", where),
        around_spreads=_optional_regex(clauses, "around_spreads", where),
        continuation=_optional_regex(clauses, "continuation", where),
        head_anaphora=_optional_regex(clauses, "head_anaphora", where),
        normal_bones=_parse_normal_bones(where, clauses.get("normal_bones")),
        signal=signal,
        prior_exam=_parse_prior_exam(where, clauses.get("prior_exam")),
        generic=_optional_regex(clauses, "generic", where),
        contrasted=_optional_regex(clauses, "contrasted", where),
        side_opener=_optional_regex(lat, "sentence_opener", "laterality.json"),
        side_labels=side_labels,
        normal_side=_optional_regex(lat, "normal_side", "laterality.json"),
        side_comparative=_optional_regex(lat, "comparative", "laterality.json"),
        side_attach_between=_optional_regex(lat, "attach_between", "laterality.json"),
        side_after_bone_gap=_optional_regex(lat, "after_bone_gap", "laterality.json"),
        side_part_of_gap=_optional_regex(lat, "part_of_gap", "laterality.json"),
        side_own_gap=_optional_regex(lat, "own_gap", "laterality.json"),
        side_own_break=_optional_regex(lat, "own_break", "laterality.json"),
        side_opposite=_optional_regex(lat, "opposite", "laterality.json"),
        side_past=_optional_regex(lat, "past", "laterality.json"),
        side_past_unless=_optional_regex(lat, "past_unless", "laterality.json"),
        side_other_finding=_optional_regex(lat, "other_finding", "laterality.json"),
        exam_joints=exam_joints,
    )


def _bones_in_exams(bones: tuple[BoneSpec, ...], joints: frozenset[str]) -> tuple[BoneSpec, ...]:
    """`bones`, once each `in_exams.joints` is known to laterality.json `exam_joints`."""
    for bone in bones:
        unknown = bone.exam_joints - joints
        if unknown:
            raise RuleFileError(
                f"bones.jsonl: {bone.bone}: in_exams.joints {sorted(unknown)} are not"
                " laterality.json exam_joints"
            )
    return bones


def _parse_normal_bones(where: str, obj: object) -> NormalBones | None:
    if obj is None:
        return None
    w = f"{where}: normal_bones"
    if not isinstance(obj, dict):
        raise RuleFileError(f"{w} must be an object")
    obj = _check_keys(obj, w, {"says", "joins"}, set())
    return NormalBones(_regex(obj["says"], w, "says"), _regex(obj["joins"], w, "joins"))


def _parse_prior_exam(where: str, obj: object) -> PriorExamRules | None:
    if obj is None:
        return None
    w = f"{where}: prior_exam"
    if not isinstance(obj, dict):
        raise RuleFileError(f"{w} must be an object")
    story = ("done_later", "resolved", "not_done")
    obj = _check_keys(
        obj, w, {"opener", "pivot"}, {"labelled", "later", "result", "current", *story}
    )
    if ("labelled" in obj) != ("later" in obj):
        raise RuleFileError(f"{w}: labelled and later go together")
    if len({key in obj for key in story}) != 1:
        raise RuleFileError(f"{w}: done_later, resolved and not_done go together")
    optional = {
        key: _optional_regex(obj, key, w)
        for key in ("labelled", "later", "result", "current", *story)
    }
    return PriorExamRules(
        _regex(obj["opener"], w, "opener"), _regex(obj["pivot"], w, "pivot"), **optional
    )


def available_languages() -> list[str]:
    """Languages that have a rule folder with a meta.json."""
    root = rules_root()
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / "meta.json").is_file())


RULE_FILES = (
    "meta.json",
    "sections.json",
    "sentences.json",
    "targets.jsonl",
    "context.jsonl",
    "etiology_cues.jsonl",
    "etiology.json",
    "bones.jsonl",
    "laterality.json",
    "severity.json",
    "clauses.json",
    "suggestions.json",
)


@functools.cache
def joint_of_bones(language: str = "en") -> dict[str, str]:
    """Each bone term of `language`'s rules -> its joint (region), once per language."""
    return {bone.bone: bone.joint for bone in load_ruleset(language).bones}


__all__ = [
    "DIFFERENTIAL_SECTION",
    "DISCUSSION_SECTION",
    "EXAM_SECTION",
    "OPERATIVE_SECTION",
    "RULE_FILES",
    "BoneSpec",
    "ClauseOwners",
    "ContextRuleSpec",
    "EtiologyCueSpec",
    "EtiologyScope",
    "LateralityTerm",
    "NormalBones",
    "RuleFileError",
    "RuleSet",
    "SeverityTerm",
    "TargetRuleSpec",
    "available_languages",
    "joint_of_bones",
    "load_ruleset",
    "parse_bone",
    "parse_context",
    "parse_etiology_cue",
    "parse_target",
    "read_ruleset",
    "rules_root",
]
