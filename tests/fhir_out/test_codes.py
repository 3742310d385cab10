"""fhir_out/codes.json and fhir_out.codes: every code has its source, the codes reach the Bundle."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from fhir_out import BundleOptions, ReportMeta, build_bundle, codes
from fhir_out.codes import LOINC, RADFLAG, RADLEX, SNOMED
from hl7.result import FLAG_TEXT as HL7_FLAG_TEXT
from nlp import annotate
from tests.fhir_check import validate_bundle

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "nlp" / "rules"
TABLE: dict[str, Any] = json.loads((ROOT / "fhir_out" / "codes.json").read_text("utf-8"))
KINDS = ("finding", "status", "laterality", "bone", "etiology", "flag")
ALLOWED = {SNOMED, RADLEX, LOINC, RADFLAG}

# Verhoeff's tables: a SNOMED CT identifier ends in a Verhoeff check digit.
_D = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6], [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4], [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]  # fmt: skip
_P = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2], [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
]  # fmt: skip


def verhoeff_ok(number: str) -> bool:
    check = 0
    for i, digit in enumerate(reversed(number)):
        check = _D[check][_P[i % 8][int(digit)]]
    return check == 0


def all_codings() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (kind, term, item)
        for kind in KINDS
        for term, entry in TABLE[kind].items()
        for item in entry["codings"]
    ]


def test_the_check_digit_test_tells_good_from_bad_identifiers() -> None:
    assert verhoeff_ok("64234005")  # Bone structure of patella
    assert not verhoeff_ok("64234006")
    assert not verhoeff_ok("64243005")


def test_every_coding_has_system_code_display_and_source() -> None:
    listed = all_codings()
    assert len(listed) >= 40  # bones, laterality, status, etiologies
    for kind, term, item in listed:
        where = f"{kind}:{term}"
        assert set(item) == {"system", "code", "display", "source"}, where
        assert all(isinstance(v, str) and v.strip() for v in item.values()), where
        assert item["system"] in codes.SYSTEMS, where
        # a source names a URL or a repository file, never just a word
        assert "http" in item["source"] or "/" in item["source"], where


def test_only_snomed_radlex_loinc_and_radflag_systems() -> None:
    assert set(codes.SYSTEMS.values()) <= ALLOWED
    for kind in KINDS:
        for term in TABLE[kind]:
            concept = codes.concept(kind, term)
            assert {c["system"] for c in concept["coding"]} <= ALLOWED
            # radflag's own coding is always there, and last
            assert concept["coding"][-1] == {
                "system": RADFLAG,
                "code": f"{kind}:{term}",
                "display": codes.term_text(kind, term),
            }


def test_codes_are_well_formed_for_their_system() -> None:
    for kind, term, item in all_codings():
        code = item["code"]
        if item["system"] == "snomed":
            # digits, a concept's partition identifier (00 or 10), a valid check digit
            assert re.fullmatch(r"[1-9]\d{5,17}", code), (kind, term, code)
            assert code[-3:-1] in {"00", "10"}, (kind, term, code)
            assert verhoeff_ok(code), (kind, term, code)
        elif item["system"] == "radlex":
            assert re.fullmatch(r"RID\d+", code), (kind, term, code)
        else:
            assert re.fullmatch(r"\d{1,7}-\d", code), (kind, term, code)


def test_one_code_means_one_concept() -> None:
    seen: dict[tuple[str, str], str] = {}
    for kind, term, item in all_codings():
        key = (item["system"], item["code"])
        assert seen.setdefault(key, f"{kind}:{term}") == f"{kind}:{term}", key


@pytest.mark.parametrize("language", ["en", "de"])
def test_every_term_the_rules_know_has_an_entry_with_its_texts(language: str) -> None:
    bones = {
        json.loads(line)["bone"]
        for line in (RULES / language / "bones.jsonl").read_text("utf-8").splitlines()
        if line.strip()
    }
    etiologies = set(json.loads((RULES / language / "etiology.json").read_text())["categories"])
    assert bones == set(TABLE["bone"])
    assert etiologies == set(TABLE["etiology"])
    # the flags' English texts are the HL7 result's (hl7.result.FLAG_TEXT)
    assert {k: v["display"] for k, v in TABLE["flag"].items()} == HL7_FLAG_TEXT
    for kind in KINDS:
        for term, entry in TABLE[kind].items():
            assert entry["display"].strip() and entry["de"].strip(), f"{kind}:{term}"


def test_texts_follow_the_language_codes_do_not() -> None:
    english = codes.concept("bone", "femoral_head")
    german = codes.concept("bone", "femoral_head", language="de")
    assert english["coding"] == german["coding"]
    assert [c["code"] for c in english["coding"]] == ["2812003", "bone:femoral_head"]
    assert english["text"] == "Femoral head"
    assert german["text"] == "Femurkopf"
    # a language without texts of its own falls back to English
    assert codes.concept("bone", "femoral_head", language="fr")["text"] == "Femoral head"
    assert codes.label("Etiology", "de") == "Ätiologie"
    assert codes.label("Etiology", "en") == "Etiology"


def site_observations(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Observation" and "bodySite" in e["resource"]
    ]


def coding_of(concept: dict[str, Any], system: str) -> dict[str, Any] | None:
    return next((c for c in concept["coding"] if c["system"] == system), None)


def bundle_of(text: str, language: str) -> dict[str, Any]:
    annotation = annotate(text, language=language)
    bundle = build_bundle(
        annotation, ReportMeta("ACC-C1", text, patient_id="P1"), BundleOptions(patient_flag=True)
    )
    validate_bundle(bundle)
    return bundle


ENGLISH = (
    "FINDINGS: Bone marrow edema in the left medial femoral condyle and the left patella, "
    "with osteoarthritis. Bone marrow edema in the right talus, consistent with a tumor."
)
GERMAN = (
    "BEFUND: Knochenmarködem im linken medialen Femurkondylus und in der linken Patella "
    "bei Arthrose. Knochenmarködem im rechten Talus, vereinbar mit einem Tumor."
)


@pytest.mark.parametrize("text,language", [(ENGLISH, "en"), (GERMAN, "de")])
def test_bundle_carries_the_checked_codes(text: str, language: str) -> None:
    bundle = bundle_of(text, language)
    sites = {coding_of(s["bodySite"], RADFLAG)["code"]: s for s in site_observations(bundle)}  # type: ignore[index]
    expected = {"bone:medial_femoral_condyle": "122474001", "bone:patella": "64234005",
                "bone:talus": "67453005"}  # fmt: skip
    assert set(expected) <= set(sites)
    for radflag_code, snomed_code in expected.items():
        body_site = sites[radflag_code]["bodySite"]
        assert [c["system"] for c in body_site["coding"]] == [SNOMED, RADFLAG]
        assert body_site["coding"][0]["code"] == snomed_code
        side = sites[radflag_code]["component"][0]
        assert side["code"]["coding"][0]["code"] == codes.SNOMED_LATERALITY
        lateral = side["valueCodeableConcept"]
        assert {c["system"] for c in lateral["coding"]} == {SNOMED, RADLEX, RADFLAG}
    left = sites["bone:patella"]["component"][0]["valueCodeableConcept"]
    assert coding_of(left, SNOMED)["code"] == "7771000"  # type: ignore[index]
    assert coding_of(left, RADLEX)["code"] == "RID5824"  # type: ignore[index]

    [bme] = [
        e["resource"] for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Observation" and "hasMember" in e["resource"]
    ]  # fmt: skip
    assert [c["code"] for c in bme["code"]["coding"]] == ["finding:bme"]  # no checked code
    assert [c["code"] for c in bme["valueCodeableConcept"]["coding"]] == [
        "52101004", "RID28472", "status:present"
    ]  # fmt: skip
    etiologies = {
        coding_of(c["valueCodeableConcept"], RADFLAG)["code"]: c["valueCodeableConcept"]  # type: ignore[index]
        for c in bme["component"]
    }
    assert coding_of(etiologies["etiology:degenerative"], SNOMED)["code"] == "396275006"  # type: ignore[index]
    assert coding_of(etiologies["etiology:tumor"], SNOMED)["code"] == "126537000"  # type: ignore[index]


def test_german_bundle_has_german_texts_and_the_english_ones_codes() -> None:
    english, german = bundle_of(ENGLISH, "en"), bundle_of(GERMAN, "de")

    def concepts(bundle: dict[str, Any]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                if "coding" in node:
                    found.append(node)
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        walk(
            [
                e["resource"]
                for e in bundle["entry"]
                if e["resource"]["resourceType"] != "Provenance"
            ]
        )
        return found

    def codings(bundle: dict[str, Any]) -> set[str]:
        return {json.dumps(c["coding"], sort_keys=True) for c in concepts(bundle)}

    # same codes (and displays, which are the sources'), whatever the report's language
    assert codings(english) == codings(german)
    texts = {c.get("text") for c in concepts(german)}
    assert {"medialer Femurkondylus links", "Patella links", "Talus rechts"} <= texts
    assert {"Ätiologie", "Seite", "vorhanden", "Knochenmarködem", "links", "rechts"} <= texts
    english_texts = {c.get("text") for c in concepts(english)}
    assert {"left medial femoral condyle", "right talus", "Etiology", "Present"} <= english_texts
    [banner] = [e["resource"] for e in german["entry"] if e["resource"]["resourceType"] == "Flag"]
    assert banner["code"]["text"].endswith("(MRT-Befund)")


@pytest.mark.parametrize(
    "text,etiology,snomed,site,site_code",
    [
        ("Bone marrow edema in the right femoral head, consistent with avascular necrosis.",
         "osteonecrosis", "397758007", "femoral_head", "2812003"),
        ("Bone marrow edema in the left calcaneus, concerning for osteomyelitis.",
         "infection", "60168000", "calcaneus", "80144004"),
        ("Bone marrow edema in the lateral femoral condyle, consistent with bone contusion.",
         "trauma", "417746004", "lateral_femoral_condyle", "122475000"),
        # overload has no checked code: radflag's coding alone
        ("Bone marrow edema in the left pubis and greater trochanter, likely stress reaction.",
         "overload", None, "pubis", "66040006"),
    ],
)  # fmt: skip
def test_reports_get_their_etiology_and_site_codes(
    text: str, etiology: str, snomed: str | None, site: str, site_code: str
) -> None:
    bundle = bundle_of(text, "en")
    [bme] = [
        e["resource"] for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Observation" and "hasMember" in e["resource"]
    ]  # fmt: skip
    [component] = bme["component"]
    value = component["valueCodeableConcept"]
    assert value["coding"][-1]["code"] == f"etiology:{etiology}"
    assert [c["code"] for c in value["coding"] if c["system"] == SNOMED] == (
        [snomed] if snomed else []
    )
    sites = {coding_of(s["bodySite"], RADFLAG)["code"]: s for s in site_observations(bundle)}  # type: ignore[index]
    assert coding_of(sites[f"bone:{site}"]["bodySite"], SNOMED)["code"] == site_code  # type: ignore[index]
