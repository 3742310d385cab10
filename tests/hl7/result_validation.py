"""hl7apy's validation of radflag's result messages, and the checks it relaxes.

Every result the test suite produces goes through `validate_result`: the
results built from every HL7 input of the suite (tests/hl7/test_result_validation.py)
and every result a service under test delivers (tests.servers.MllpDestination).

hl7apy parses the message into ORU_R01 groups (TOLERANT parse, then
`Validator.validate`), and every error fails: a segment out of place, a missing
required segment or field, a wrong data type. Relaxed, because they are not
errors of the result:

- lengths are checked by the validator, not by a STRICT parse: a STRICT parse
  refuses an ED data component over 199 characters, while v2.5.1 OBX-5 takes
  up to 99,999 and the spec puts the whole annotation (base64 JSON) in one ED;
- table warnings for our own values: coding system `RADFLAG` (HL7 table 0396
  lists no local systems; the spec fixes `RADFLAG`) and the value types `CWE`,
  `DR` and `NR` (HL7 data types; `DR`/`NR` carry the follow-up due window),
  which hl7apy's v2.5.1 copy of table 0125 does not list;
- inside the segments copied from the inbound message (PID, PV1, ORC, OBR):
  table and length warnings, and data type errors of single fields (a v2.3
  sender's PID-19 with components, which v2.5.1 types ST; a v2.7 OBR-33 with
  more components than v2.5.1's NDL). They are the
  sender's values, kept exactly so that the result attaches to the same
  patient and order. Structure errors there (a missing PID before PV1, an
  empty required field) are not relaxed: radflag decides which segments it
  copies, and fills PV1-2 (patient class) with U (unknown) when the sender
  left it empty.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message
from hl7apy.validation import Validator

# Warnings about radflag's own values that are accepted; see the module docstring.
RELAXED_OWN_WARNINGS = (
    re.compile(r"Value RADFLAG not in table HL70396 in element OBX_3\.CE_3"),
    re.compile(r"Value (CWE|DR|NR) not in table HL70125 in element OBX\.OBX_2"),
)
# A sender's field value in a copied segment whose components do not fit the v2.5.1
# data type (a v2.3 PID-19 sent as CX, say): the sender's data, kept as received.
_COPIED_DATATYPE = re.compile(
    r"^(Datatype \S+ is not correct for (PID|PV1|ORC|OBR)\."
    r"|Invalid children detected for <Field (PID|PV1|ORC|OBR)_\d+ )"
)
# Elements radflag writes itself: warnings there count unless relaxed above.
_OWN = re.compile(r"in element (MSH|OBX)[._]")


def validate_result(result: bytes) -> list[str]:
    """Validate a result ORU^R01 with hl7apy; return the warnings it accepted.

    Raises AssertionError naming what is wrong (a structure or data type error,
    or a warning about radflag's own values that is not relaxed).
    """
    message = parse_message(
        result.decode("utf-8"), validation_level=VALIDATION_LEVEL.TOLERANT, find_groups=True
    )
    assert message.name == "ORU_R01", f"parsed as {message.name}"
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.txt"
        try:
            Validator.validate(message, report_file=str(report))
        except Exception as e:
            lines = report.read_text().splitlines() if report.exists() else [f"Error: {e}"]
            errors = [line.removeprefix("Error: ") for line in lines if line.startswith("Error:")]
            if not errors or not all(_COPIED_DATATYPE.search(error) for error in errors):
                raise AssertionError(f"hl7apy validation failed: {errors or e}") from e
        lines = report.read_text().splitlines() if report.exists() else []
    warnings = [line.removeprefix("Warning: ") for line in lines if line.startswith("Warning:")]
    own = [w for w in warnings if _OWN.search(w)]
    unexpected = [w for w in own if not any(p.search(w) for p in RELAXED_OWN_WARNINGS)]
    assert not unexpected, f"hl7apy warnings on radflag's own values: {unexpected}"
    return warnings
