"""`radflag annotate FILE.hl7`: every message of a file annotated as its plain text is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import nlp
from hl7.mllp import encode_frame
from tests.hl7.messages import wrap_mdm, wrap_oru
from worker.cli import main

KNEE = (
    "MRI RIGHT KNEE\n\nFindings:\nBone marrow: Bone marrow edema in the medial femoral condyle "
    "with a subchondral insufficiency fracture.\n\nImpression:\nSubchondral insufficiency "
    "fracture of the medial femoral condyle with bone marrow edema."
)
NORMAL = "MRI LEFT ANKLE\n\nFindings:\nNo bone marrow edema.\n\nImpression:\nNormal study."
GERMAN = (
    "MRT KNIE LINKS\n\nBefund:\nAusgedehntes Knochenmarködem im medialen Femurkondylus.\n\n"
    "Beurteilung:\nKnochenmarködem des medialen Femurkondylus, DD beginnende Osteonekrose."
)


def run(*paths: Path) -> tuple[int, list[dict], str]:
    result = CliRunner().invoke(main, ["annotate", *map(str, paths)])
    objs = [json.loads(line) for line in result.stdout.splitlines()]
    return result.exit_code, objs, result.stderr


@pytest.mark.parametrize("framing", ["plain", "mllp", "lf"])
def test_every_message_of_a_file_is_annotated_as_its_text(tmp_path: Path, framing: str) -> None:
    """Messages one after another (plain, MLLP-framed, LF-separated) each give one object."""
    messages = [wrap_oru(KNEE, "MRI KNEE RIGHT", "lines", "C1"), wrap_mdm(NORMAL, "C2")]
    if framing == "mllp":
        data = b"".join(encode_frame(m) for m in messages)
    elif framing == "lf":
        data = b"\n".join(m.replace(b"\r", b"\n") for m in messages)
    else:
        data = b"".join(messages)
    path = tmp_path / "reports.hl7"
    path.write_bytes(data)
    code, objs, _ = run(path)
    assert code == 0
    assert [o["id"] for o in objs] == ["C1", "C2"]
    expected = [nlp.annotate(KNEE, "MRI KNEE RIGHT"), nlp.annotate(NORMAL)]
    for obj, annotation in zip(objs, expected, strict=True):
        assert obj == annotation.to_json_dict(obj["id"])
    assert objs[0]["bme"] == "present" and objs[1]["bme"] == "absent"


def test_german_report_in_latin1_is_annotated_in_german(tmp_path: Path) -> None:
    """An ISO-8859-1 message (MSH-18 8859/1) keeps its umlauts and is read with German rules."""
    message = wrap_oru(GERMAN, "MRT KNIE LINKS", "lines", "DE1").decode("utf-8")
    fields = message.split("\r")[0].split("|")
    fields += [""] * (20 - len(fields))
    fields[17], fields[18] = "8859/1", "DE"
    message = "\r".join(["|".join(fields), *message.split("\r")[1:]])
    path = tmp_path / "de.hl7"
    path.write_bytes(message.encode("iso-8859-1"))
    code, objs, _ = run(path)
    assert code == 0
    assert objs[0]["language"] == "de"
    assert objs[0]["bme"] == "present"
    assert "ö" in objs[0]["mentions"][0]["text"]


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "no HL7 message"),
        (b"this is not hl7\n", "no HL7 message"),
        (
            b"MSH|^~\\&|LAB|H|R|H|20260101||ADT^A01|X1|P|2.5.1\rPID|1||123\r",
            "message 1: not annotated (HL7 error 200",
        ),
    ],
)
def test_a_file_without_a_report_is_a_one_line_error(
    tmp_path: Path, content: bytes, says: str
) -> None:
    """No message, or a message that is no report: one line naming the file, exit 2."""
    path = tmp_path / "bad.hl7"
    path.write_bytes(content)
    code, objs, err = run(path)
    assert code == 2 and objs == []
    assert err.count("\n") == 1 and str(path) in err and says in err
