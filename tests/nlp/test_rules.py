"""Rule files: every file of every language loads; the loaders reject what the schema does not allow."""  # noqa: E501

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from nlp.model import BONES, ETIOLOGIES
from nlp.pipeline import expand_pattern
from nlp.ruleset import (
    RULE_FILES,
    RuleFileError,
    available_languages,
    parse_bone,
    parse_context,
    parse_etiology_cue,
    parse_target,
    read_ruleset,
    rules_root,
)


@pytest.mark.parametrize("language", available_languages())
def test_every_rule_file_loads(language: str) -> None:
    """Each language folder has every rule file and all of them pass the typed loaders."""
    root = rules_root()
    for name in RULE_FILES:
        assert (root / language / name).is_file(), name
    rules = read_ruleset(language)
    assert rules.language == language
    assert rules.targets and rules.context and rules.etiology_cues and rules.bones


def test_english_rules_cover_the_contract_vocabularies() -> None:
    """English rules name every contract bone and etiology category and every flag suggestion."""
    rules = read_ruleset("en")
    assert {b.bone for b in rules.bones} == set(BONES)
    assert {c.etiology for c in rules.etiology_cues if c.etiology} == set(ETIOLOGIES)
    assert all(
        s.lower().startswith("consider") or "consider" in s.lower()
        for s in rules.suggestions.values()
    )


@pytest.mark.parametrize(
    ("parser", "obj"),
    [
        (parse_target, {"literal": "bme", "category": "BME", "colour": "red"}),
        (
            parse_context,
            {"literal": "no", "category": "NEGATED_EXISTENCE", "direction": "FORWARD", "scope": 3},
        ),
        (parse_etiology_cue, {"literal": "avn", "etiology": "osteonecrosis", "strong": True}),
        (parse_bone, {"bone": "talus", "joint": "ankle", "patterns": ["talus"], "side": "left"}),
    ],
)
def test_unknown_key_is_rejected(parser, obj) -> None:
    """An object with a key the schema does not know is an error naming the place."""
    with pytest.raises(RuleFileError, match=r"here:1: unknown key"):
        parser(obj, "here:1")


@pytest.mark.parametrize(
    ("parser", "obj", "message"),
    [
        (parse_target, {"literal": "bme"}, "missing key"),
        (parse_target, {"literal": "bme", "category": "EDEMA"}, "category"),
        (
            parse_context,
            {"literal": "no", "category": "NEGATED", "direction": "FORWARD"},
            "category",
        ),
        (
            parse_context,
            {"literal": "no", "category": "PSEUDO", "direction": "SIDEWAYS"},
            "direction",
        ),
        (
            parse_context,
            {"literal": "no", "category": "PSEUDO", "direction": "PSEUDO", "max_scope": 0},
            "max_scope",
        ),
        (parse_etiology_cue, {"literal": "x", "etiology": "cosmic"}, "etiology"),
        (parse_etiology_cue, {"literal": "x", "etiology": "tumor", "explains": True}, "explains"),
        (parse_bone, {"bone": "femur_shaft", "joint": "knee", "patterns": ["femur"]}, "bone"),
        (parse_bone, {"bone": "talus", "joint": "ankle", "patterns": ["(unclosed"]}, "regex"),
        (parse_target, {"literal": "bme", "category": "BME", "pattern": "bme"}, "pattern"),
    ],
)
def test_bad_values_are_rejected(parser, obj, message: str) -> None:
    """Missing keys, values outside the vocabularies and broken regexes are errors."""
    with pytest.raises(RuleFileError, match=message):
        parser(obj, "here:1")


def _copy_rules(tmp_path: Path) -> Path:
    root = tmp_path / "rules"
    shutil.copytree(str(rules_root() / "en"), root / "en")
    return root


def test_rule_file_with_unknown_key_is_rejected(tmp_path: Path) -> None:
    """A whole rule set with one unknown key in one JSONL line fails with file and line."""
    root = _copy_rules(tmp_path)
    path = root / "en" / "targets.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    obj = json.loads(lines[1])
    obj["synonym_of"] = "bone marrow edema"
    lines[1] = json.dumps(obj)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(
        RuleFileError, match=r"rules/en/targets.jsonl:2: unknown key\(s\) \['synonym_of'\]"
    ):
        read_ruleset("en", root)


def test_json_rule_file_with_unknown_key_is_rejected(tmp_path: Path) -> None:
    """An unknown top-level key in a JSON rule file is rejected too."""
    root = _copy_rules(tmp_path)
    path = root / "en" / "severity.json"
    obj = json.loads(path.read_text(encoding="utf-8"))
    obj["window_chars"] = 20
    path.write_text(json.dumps(obj), encoding="utf-8")
    with pytest.raises(RuleFileError, match=r"severity.json: unknown key"):
        read_ruleset("en", root)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"imp": "verdict"}, "own_line_titles value"),
        (["imp"], "own_line_titles must be an object"),
    ],
)
def test_bad_own_line_titles_are_rejected(tmp_path: Path, value: object, message: str) -> None:
    """sections.json own_line_titles maps titles to known sections."""
    root = _copy_rules(tmp_path)
    path = root / "en" / "sections.json"
    obj = json.loads(path.read_text(encoding="utf-8"))
    obj["own_line_titles"] = value
    path.write_text(json.dumps(obj), encoding="utf-8")
    with pytest.raises(RuleFileError, match=message):
        read_ruleset("en", root)


def test_missing_rule_file_and_bad_json_are_reported(tmp_path: Path) -> None:
    """A missing file or a line that is not JSON names the file (and line)."""
    root = _copy_rules(tmp_path)
    (root / "en" / "bones.jsonl").unlink()
    with pytest.raises(RuleFileError, match=r"bones.jsonl: missing"):
        read_ruleset("en", root)
    root = _copy_rules(tmp_path / "again")
    (root / "en" / "context.jsonl").write_text('{"literal": "no"\n', encoding="utf-8")
    with pytest.raises(RuleFileError, match=r"context.jsonl:1: not JSON"):
        read_ruleset("en", root)


def test_every_flag_needs_a_suggestion(tmp_path: Path) -> None:
    """suggestions.json without one of the contract's flag codes is rejected."""
    root = _copy_rules(tmp_path)
    path = root / "en" / "suggestions.json"
    obj = json.loads(path.read_text(encoding="utf-8"))
    del obj["flags"]["TUMOR_CONCERN"]
    path.write_text(json.dumps(obj), encoding="utf-8")
    with pytest.raises(RuleFileError, match="TUMOR_CONCERN"):
        read_ruleset("en", root)


def test_english_word_list_patterns_stay_phrases() -> None:
    """An English token pattern of plain word lists expands into phrases (PhraseMatcher).

    Past `_MAX_PHRASES` expansions it goes to `LowerPatternMatcher`, which tries it
    at every occurrence of its first word: one rule opening with "or" and four
    optional word lists cost the English annotator 5 %. (German's inflected rules
    are built for that matcher, indexed by rarer first words.)
    """
    rules = read_ruleset("en")
    specs = [*rules.targets, *rules.context, *rules.etiology_cues]
    plain = [
        s
        for s in specs
        if s.pattern and all(set(t) <= {"LOWER", "OP"} and not _has_regex(t) for t in s.pattern)
    ]
    assert plain
    too_many = [s.literal for s in plain if expand_pattern(s.pattern) is None]
    assert too_many == []


def _has_regex(token: dict[str, object]) -> bool:
    value = token.get("LOWER")
    return isinstance(value, dict) and "REGEX" in value


def test_a_bone_named_only_in_an_unknown_exam_is_rejected(tmp_path: Path) -> None:
    """bones.jsonl `in_exams.joints` must be laterality.json `exam_joints` names."""
    root = _copy_rules(tmp_path)
    path = root / "en" / "bones.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    first["in_exams"] = {"joints": ["elbowknee"], "patterns": ["\\bwidget\\b"]}
    lines[0] = json.dumps(first)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(RuleFileError, match="elbowknee"):
        read_ruleset("en", root)
    first["in_exams"] = {"joints": ["knee"], "patterns": []}
    lines[0] = json.dumps(first)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(RuleFileError, match="in_exams"):
        read_ruleset("en", root)
