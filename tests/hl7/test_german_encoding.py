"""A German report over HL7 in UTF-8 and in ISO-8859-1 keeps its umlauts and comes back flagged."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import nlp
from hl7.extract import extract_report
from hl7.header import parse_header
from hl7.result import build_result
from hl7.text import decode_message, escape
from nlp.language import detect_language
from nlp.ruleset import load_ruleset
from tests.hl7.messages import STYLES, report_obx

REPORT = (
    "MRT des rechten Kniegelenks nativ\n"
    "\n"
    "Anamnese/Fragestellung: Belastungsschmerz medial seit 3 Wochen. Stressfraktur?\n"
    "\n"
    "Befund:\n"
    "Ausgedehntes Knochenmarködem im medialen Tibiaplateau (ca. 3 x 2 cm) um eine "
    "subchondrale Frakturlinie. Menisken regelrecht, kein Gelenkerguss.\n"
    "Übrige Knochen mit regelrechtem Markraumsignal.\n"
    "\n"
    "Beurteilung:\n"
    "1. Subchondrale Insuffizienzfraktur des medialen Tibiaplateaus mit ausgedehntem KMÖ.\n"
    "2. Kein Nachweis einer Osteonekrose. Belastungsreduktion und Verlaufskontrolle empfohlen."
)
PROCEDURE = "MRT KNIEGELENK RECHTS NATIV"
# MSH-18 value and the codec the sender writes its bytes in.
ENCODINGS = [("UNICODE UTF-8", "utf-8"), ("8859/1", "iso-8859-1")]


def german_oru(character_set: str, codec: str, style: str) -> bytes:
    """An ORU^R01 with MSH-18 `character_set`, MSH-19 and PID-15 German, encoded in `codec`."""
    segments = [
        "MSH|^~\\&|RIS|KLINIKUM|RADFLAG|KLINIKUM|20260101120000||ORU^R01^ORU_R01|DE0001|P|2.5.1"
        f"||||||{character_set}|de^German^ISO639",
        "PID|1||MRN4711^^^KLINIKUM^MR||Müller^Jürgen||19700101|M|||||||GER",
        "PV1|1|O|RAD^^^KLINIKUM",
        "ORC|RE|ORD4711|ACC4711",
        f"OBR|1|ORD4711|ACC4711|MRKNIE^{escape(PROCEDURE)}^L|||20260101110000|||||||||||||||||MR|F",
        *report_obx(REPORT, style),
    ]
    return ("\r".join(segments) + "\r").encode(codec)


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize(("character_set", "codec"), ENCODINGS)
def test_umlauts_intact_and_flagged(character_set: str, codec: str, style: str) -> None:
    """The extracted text equals the dictated text (ä, ö, ü, Ü intact) and is flagged in German."""
    message = german_oru(character_set, codec, style)
    assert ("ö".encode(codec) in message) and ("Ü".encode(codec) in message)
    report = extract_report(message)
    assert report.header.character_set == character_set
    assert report.text == REPORT
    for word in ("Knochenmarködem", "KMÖ", "Übrige"):
        assert word in report.text
    assert any("Müller^Jürgen" in segment for segment in report.order_segments)
    language = detect_language(report.text, hints=(report.header.language, report.patient_language))
    assert language == "de"
    annotation = nlp.annotate(report.text, procedure=report.procedure)
    assert annotation.language == "de"
    assert annotation.bme == "present"
    assert {f.code for f in annotation.flags} == {"BME", "TRAUMA_OVERLOAD"}
    assert [(s.bone, s.laterality) for s in annotation.sites] == [
        ("medial_tibial_plateau", "right")
    ]
    assert all("erwägen" in f.suggestion for f in annotation.flags)
    for mention in annotation.mentions:
        assert report.text[mention.start : mention.end] == mention.text


def test_hints_reach_the_report() -> None:
    """MSH-19 and PID-15 arrive on the Report for language hints."""
    report = extract_report(german_oru("8859/1", "iso-8859-1", "lines"))
    assert report.header.language.split("^")[0] == "de"
    assert report.patient_language == "GER"
    assert nlp.language.language_of_hint(report.patient_language) == "de"


@pytest.mark.parametrize(("character_set", "codec"), ENCODINGS)
def test_result_carries_german_suggestions(character_set: str, codec: str) -> None:
    """The result ORU for a German report holds the German suggestions and the umlaut names."""
    report = extract_report(german_oru(character_set, codec, "lines"))
    annotation = nlp.annotate(report.text, procedure=report.procedure)
    result = build_result(
        report, annotation, control_id="RES0001", timestamp=datetime(2026, 1, 1, tzinfo=UTC)
    )
    decoded = decode_message(result, parse_header(result).character_set)
    german = load_ruleset("de").suggestions
    for code in ("BME", "TRAUMA_OVERLOAD"):
        assert escape(german[code]) in decoded
    assert "Müller^Jürgen" in decoded
